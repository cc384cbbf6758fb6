// Lag-1 autocorrelation and the Yule-Walker AR(1) fit: closed forms worked by hand, and R's
// acf() / ar.yw() (r-base-core) run by the test on the same simulated series.
#include "spc/autocorr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "spc/r_reference_testing.h"

namespace pf::spc {
namespace {

using testing_r::ExpectRel;
using testing_r::One;
using testing_r::RunR;

// x_t = mean + phi (x_{t-1} - mean) + N(0, sigma^2), started from the stationary distribution.
std::vector<double> SimulateAr1(size_t n, double phi, double mean, double sigma, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> e(0, sigma);
  std::vector<double> x(n);
  double d = e(gen) / std::sqrt(1 - phi * phi);
  for (double& v : x) {
    v = mean + d;
    d = phi * d + e(gen);
  }
  return x;
}

// 1..5: mean 3, deviations -2..2, sum of squares 10, lag-1 products 2 + 0 + 0 + 2 = 4: r1 = 0.4.
// c0 = 10 / 5 = 2, residual variance 2 (1 - 0.16) 5 / 3 = 2.8.
// Residuals (x_t - 3) - 0.4 (x_{t-1} - 3): -1 + 0.8, 0 + 0.4, 1 - 0, 2 - 0.4.
TEST(Autocorrelation, ClosedForms) {
  std::vector<double> x = {1, 2, 3, 4, 5};
  EXPECT_NEAR(Lag1Autocorrelation(x), 0.4, 1e-15);
  auto fit = FitAr1(x);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NEAR(fit->phi, 0.4, 1e-15);
  EXPECT_NEAR(fit->mean, 3, 1e-15);
  EXPECT_NEAR(fit->residual_sigma, std::sqrt(2.8), 1e-14);
  std::vector<double> e = Ar1Residuals(x, *fit);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_NEAR(e[0], -0.2, 1e-14);
  EXPECT_NEAR(e[1], 0.4, 1e-14);
  EXPECT_NEAR(e[2], 1.0, 1e-14);
  EXPECT_NEAR(e[3], 1.6, 1e-14);
  EXPECT_NEAR(Ar1Residual(4, 5, *fit), 1.6, 1e-14);
  // Alternating 1, -1, 1, -1: mean 0, sum of squares 4, lag-1 products -3: r1 = -0.75.
  EXPECT_NEAR(Lag1Autocorrelation({1, -1, 1, -1}), -0.75, 1e-15);
  // Two values: the products are one negative square of a half-difference: r1 = -0.5 always.
  EXPECT_NEAR(Lag1Autocorrelation({3, 8}), -0.5, 1e-15);
}

TEST(Autocorrelation, UndefinedCasesAreZeroNotNaN) {
  EXPECT_EQ(Lag1Autocorrelation({}), 0);
  EXPECT_EQ(Lag1Autocorrelation({4}), 0);
  EXPECT_EQ(Lag1Autocorrelation({4, 4, 4}), 0);
  EXPECT_EQ(Lag1Autocorrelation({1, NAN, 3}), 0);
  EXPECT_EQ(Lag1Autocorrelation({1, INFINITY, 3}), 0);
  EXPECT_TRUE(Ar1Residuals({1}, Ar1Fit{}).empty());
}

TEST(Autocorrelation, FitAr1BadInput) {
  EXPECT_EQ(FitAr1({1, 2}).status().message(), "AR(1) fit needs at least 3 values, got 2");
  EXPECT_EQ(FitAr1({1, 2, 3, NAN}).status().message(), "AR(1) fit: value 4 of 4 is NaN");
  EXPECT_EQ(FitAr1({1, -INFINITY, 3}).status().message(), "AR(1) fit: value 2 of 3 is infinite");
  EXPECT_EQ(FitAr1({7, 7, 7, 7}).status().message(), "AR(1) fit: all 4 values are equal (7)");
  EXPECT_EQ(FitAr1({7, 7, 7, 7}).status().code(), StatusCode::kInvalidArgument);
}

// A fast-polled tag: AR(1) with phi = 0.8. The fit recovers phi within 3 standard errors
// (sqrt((1 - phi^2) / n) = 0.027), and its residuals are close to uncorrelated, which is why
// Phase I offers charts on them.
TEST(Autocorrelation, RecoversPhiAndWhitensResiduals) {
  std::vector<double> x = SimulateAr1(500, 0.8, 20, 0.5, 42);
  double r1 = Lag1Autocorrelation(x);
  EXPECT_GT(r1, 0.5);  // Phase I would refuse Shewhart limits on this series
  auto fit = FitAr1(x);
  ASSERT_TRUE(fit.ok());
  EXPECT_NEAR(fit->phi, 0.8, 3 * 0.027);
  EXPECT_NEAR(fit->residual_sigma, 0.5, 0.05);
  EXPECT_LT(std::fabs(Lag1Autocorrelation(Ar1Residuals(x, *fit))), 2 / std::sqrt(500.0));
}

TEST(AutocorrelationR, MatchesAcfAndArYw) {
  for (auto [phi, seed] : {std::pair{0.8, 42}, std::pair{-0.3, 7}, std::pair{0.0, 3}}) {
    std::vector<double> x = SimulateAr1(300, phi, 5, 2, seed);
    auto r = RunR(R"(
      out("r1", acf(x, lag.max = 1, plot = FALSE)$acf[2])
      f <- ar.yw(x, aic = FALSE, order.max = 1, demean = TRUE)
      out("phi", f$ar); out("mean", f$x.mean); out("sigma", sqrt(f$var.pred))
      out("resid", f$resid[-1])
    )", x);
    std::string what = fmt::format("phi {}", phi);
    ExpectRel(Lag1Autocorrelation(x), One(r, "r1"), 1e-12, what + " r1");
    auto fit = FitAr1(x);
    ASSERT_TRUE(fit.ok());
    ExpectRel(fit->phi, One(r, "phi"), 1e-12, what + " phi");
    ExpectRel(fit->mean, One(r, "mean"), 1e-14, what + " mean");
    ExpectRel(fit->residual_sigma, One(r, "sigma"), 1e-12, what + " residual sigma");
    std::vector<double> e = Ar1Residuals(x, *fit);
    ASSERT_EQ(e.size(), r["resid"].size());
    for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(e[i], r["resid"][i], 1e-11) << what << " residual " << i + 2;
  }
}

}  // namespace
}  // namespace pf::spc
