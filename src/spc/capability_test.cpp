// Capability indices, their intervals, Anderson-Darling and the distribution functions.
// Expected values come from (a) published worked examples (Montgomery, Intro. to SQC; Quality
// Digest), (b) closed forms worked by hand in the comments, and (c) an R script using only
// r-base-core (qchisq, qnorm, pnorm, quantile, ...) run by the test itself on the same data.
// Without Rscript the R-based tests exit 77 (skipped).
#include "spc/capability.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "spc/normal_dist.h"
#include "spc/r_reference_testing.h"
#include "testing.h"

namespace pf::spc {
namespace {

using testing_r::ExpectRel;
using testing_r::One;
using testing_r::RunR;
using testing_r::Values;


// n values with exactly the given mean and sample standard deviation.
std::vector<double> WithMeanSd(size_t n, double mean, double sd) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(1.7 * static_cast<double>(i) + 0.3);
  double m = 0, ss = 0;
  for (double v : x) m += v;
  m /= static_cast<double>(n);
  for (double v : x) ss += (v - m) * (v - m);
  double s = std::sqrt(ss / static_cast<double>(n - 1));
  for (double& v : x) v = mean + (v - m) / s * sd;
  return x;
}

std::vector<double> PistonRingsPhase1() {
  std::string shared = pf::testing::SharedDir();
  std::string path = shared + "/data/spc_qcc/pistonrings.csv";
  pf::testing::RequireOrSkip(shared.empty() ? "" : path, "piston ring data from ../shared/data/spc_qcc");
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // diameter,sample,trial
  std::vector<double> x;
  while (std::getline(in, line)) {
    if (line.find("TRUE") != std::string::npos) x.push_back(std::stod(line.substr(0, line.find(','))));
  }
  return x;
}

// R-bar / d2 of consecutive subgroups of 5; d2(5) = 2.325929 (Montgomery, Appendix VI: 2.326).
double RbarOverD2(const std::vector<double>& x) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); i += 5) {
    auto [lo, hi] = std::minmax_element(x.begin() + i, x.begin() + i + 5);
    sum += *hi - *lo;
  }
  return sum / static_cast<double>(x.size() / 5) / 2.325929;
}

// ---- distribution functions ----

TEST(NormalDist, TableValuesAndClosedForms) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-13);      // z_{0.025}
  EXPECT_NEAR(NormalQuantile(0.025), -1.959963984540054, 1e-13);
  EXPECT_NEAR(NormalCdf(3), 0.9986501019683699, 1e-15);              // Phi(3)
  EXPECT_NEAR(NormalQuantile(0.9986501019683699), 3.0, 1e-12);
  EXPECT_NEAR(NormalCdf(-4.5) / 3.397673124730062e-06, 1.0, 1e-12);  // Phi(-4.5)
  EXPECT_EQ(NormalQuantile(0.5), 0.0);
  // Chi-square table (df = 19): 8.907 and 32.852.
  EXPECT_NEAR(ChiSquareQuantile(0.025, 19), 8.906516, 1e-6);
  EXPECT_NEAR(ChiSquareQuantile(0.975, 19), 32.852327, 1e-6);
  // df = 2 is the exponential with mean 2: x = -2 ln(1 - p); P(1, x) = 1 - e^-x.
  for (double p : {1e-9, 0.01, 0.3, 0.5, 0.9, 0.999999}) {
    ExpectRel(ChiSquareQuantile(p, 2), -2 * std::log1p(-p), 1e-12, "chi2 df 2");
    ExpectRel(GammaP(1, -std::log1p(-p)), p, 1e-12, "P(1, x)");
  }
  // Beta(a, 1): x = p^(1/a); Beta(1, b): x = 1 - (1 - p)^(1/b).
  for (double p : {1e-8, 0.00135, 0.5, 0.99865}) {
    ExpectRel(BetaQuantile(p, 2.5, 1), std::pow(p, 1 / 2.5), 1e-12, "beta(a,1)");
    ExpectRel(BetaQuantile(p, 1, 4), -std::expm1(std::log1p(-p) / 4), 1e-11, "beta(1,b)");
    ExpectRel(BetaCdf(std::pow(p, 1 / 2.5), 2.5, 1), p, 1e-12, "I_x(a,1)");
  }
  // F table: F_{0.05}(5, 10) = 3.33, F_{0.01}(2, 20) = 5.85.
  EXPECT_NEAR(FQuantile(0.95, 5, 10), 3.325835, 1e-6);
  EXPECT_NEAR(FQuantile(0.99, 2, 20), 5.848932, 1e-6);
  // F(1, 1): P(F <= f) = (2 / pi) atan(sqrt(f)); F(2, d2): P(F <= f) = 1 - (1 + 2 f / d2)^(-d2 / 2).
  for (double p : {1e-12, 1e-6, 0.01, 0.5, 0.99}) {
    double t = std::tan(M_PI * p / 2);
    ExpectRel(FQuantile(p, 1, 1), t * t, 1e-11, "F(1, 1)");
    ExpectRel(FQuantile(p, 2, 10), 5 * std::expm1(-std::log1p(-p) / 5), 1e-11, "F(2, 10)");
  }
  // Far lower tail: log Phi(x) ~ -x^2/2 - log(-x) - log(2 pi)/2 for x = -1000 (next term -1e-6).
  EXPECT_NEAR(LogNormalCdf(-1000), -500000 - std::log(1000.0) - 0.5 * std::log(2 * M_PI) - 1e-6, 1e-9);
  EXPECT_TRUE(std::isfinite(LogNormalCdf(-1e6)));
  // Outside the domain: 0, never NaN.
  EXPECT_EQ(NormalQuantile(0), 0);
  EXPECT_EQ(ChiSquareQuantile(1, 3), 0);
  EXPECT_EQ(BetaQuantile(0.5, -1, 2), 0);
}

TEST(NormalDist, AgreesWithR) {
  std::vector<double> ps = {1e-12, 1e-6, 0.00135, 0.025, 0.3, 0.5, 0.7, 0.975, 0.99865, 1 - 1e-9};
  std::vector<double> dfs = {0.5, 1, 2, 4, 19, 24, 124, 1000, 100000};
  std::vector<std::pair<double, double>> ab = {{0.5, 0.5}, {1, 5}, {2.5, 9.5}, {12, 3}, {50, 200}, {0.5, 3000}, {497.5, 2}};
  std::vector<double> xs = {-50, -38, -36, -20, -3, -1, 0, 1.5, 3, 10};
  Values r = RunR(R"(
    ps <- c(1e-12, 1e-6, 0.00135, 0.025, 0.3, 0.5, 0.7, 0.975, 0.99865, 1 - 1e-9)
    out("qnorm", qnorm(ps))
    xs <- c(-50, -38, -36, -20, -3, -1, 0, 1.5, 3, 10)
    out("logpnorm", pnorm(xs, log.p = TRUE))
    out("pnorm", pnorm(xs))
    dfs <- c(0.5, 1, 2, 4, 19, 24, 124, 1000, 100000)
    for (i in seq_along(dfs)) {
      out(paste0("qchisq_", i), qchisq(ps, dfs[i]))
      out(paste0("pchisq_", i), pchisq(qchisq(ps, dfs[i]), dfs[i]))
    }
    ab <- list(c(0.5, 0.5), c(1, 5), c(2.5, 9.5), c(12, 3), c(50, 200), c(0.5, 3000), c(497.5, 2))
    for (i in seq_along(ab)) {
      out(paste0("qbeta_", i), qbeta(ps, ab[[i]][1], ab[[i]][2]))
      # F = (d2/d1) x / (1 - x), x ~ Beta(d1/2, d2/2), with 1 - x from the mirrored upper tail:
      # R's own qf forms 1/qbeta(upper) - 1 and loses digits in the lower tail (qf(1e-12, 1, 1) = 0).
      a <- ab[[i]][1]; b <- ab[[i]][2]
      out(paste0("qf_", i), (b / a) * qbeta(ps, a, b) / qbeta(ps, b, a, lower.tail = FALSE))
      out(paste0("rqf_", i), qf(ps, 2 * a, 2 * b))
    }
  )",
                  {});
  for (size_t i = 0; i < ps.size(); ++i) {
    ExpectRel(NormalQuantile(ps[i]), r["qnorm"].at(i), 1e-13, fmt::format("qnorm({})", ps[i]));
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    ExpectRel(LogNormalCdf(xs[i]), r["logpnorm"].at(i), 1e-13, fmt::format("log pnorm({})", xs[i]));
    ExpectRel(NormalCdf(xs[i]), r["pnorm"].at(i), 1e-13, fmt::format("pnorm({})", xs[i]));
  }
  for (size_t k = 0; k < dfs.size(); ++k) {
    double df = dfs[k];
    std::string key = fmt::format("{}", k + 1);
    for (size_t i = 0; i < ps.size(); ++i) {
      // Relative 1e-10, looser than the normal: R's qchisq itself is accurate to about 1e-12.
      ExpectRel(ChiSquareQuantile(ps[i], df), r["qchisq_" + key].at(i), 1e-10, fmt::format("qchisq({}, {})", ps[i], df));
      ExpectRel(ChiSquareCdf(r["qchisq_" + key].at(i), df), r["pchisq_" + key].at(i), 1e-10,
                fmt::format("pchisq at q({}), df {}", ps[i], df));
    }
  }
  for (size_t k = 0; k < ab.size(); ++k) {
    auto [a, b] = ab[k];
    for (size_t i = 0; i < ps.size(); ++i) {
      ExpectRel(BetaQuantile(ps[i], a, b), r[fmt::format("qbeta_{}", k + 1)].at(i), 1e-10,
                fmt::format("qbeta({}, {}, {})", ps[i], a, b));
      ExpectRel(FQuantile(ps[i], 2 * a, 2 * b), r[fmt::format("qf_{}", k + 1)].at(i), 1e-10,
                fmt::format("qf({}, {}, {})", ps[i], 2 * a, 2 * b));
      // R's qf itself where it keeps its digits (the upper half, where control limits live).
      if (ps[i] >= 0.5) {
        ExpectRel(FQuantile(ps[i], 2 * a, 2 * b), r[fmt::format("rqf_{}", k + 1)].at(i), 1e-10,
                  fmt::format("R qf({}, {}, {})", ps[i], 2 * a, 2 * b));
      }
    }
  }
}

// ---- capability: published examples ----

// Montgomery, Intro. to SQC (6th ed., Example 8.5): USL = 62, LSL = 38, n = 20, s = 1.75:
// Cp-hat = 2.29 and the 95 % interval 1.57 <= Cp <= 3.01 (chi-square, 19 df).
TEST(Capability, MontgomeryCpConfidenceInterval) {
  auto r = ComputeCapability(WithMeanSd(20, 50, 1.75), 1.75, {.lsl = 38, .usl = 62});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(*r->cp, 24 / (6 * 1.75), 1e-12);
  EXPECT_NEAR(*r->cp, 2.29, 0.005);
  // The book multiplies the rounded 2.29 by the chi-square factors; so does this check.
  EXPECT_NEAR(r->cp_ci->low / *r->cp * 2.29, 1.57, 0.005);
  EXPECT_NEAR(r->cp_ci->high / *r->cp * 2.29, 3.01, 0.005);
  // Closed form with the chi-square table values 8.906516 and 32.852327.
  EXPECT_NEAR(r->cp_ci->low, 24 / 10.5 * std::sqrt(8.906516 / 19), 1e-6);
  EXPECT_NEAR(r->cp_ci->high, 24 / 10.5 * std::sqrt(32.852327 / 19), 1e-6);
  // s is the overall sigma here too, so Pp and its interval are the same numbers.
  EXPECT_NEAR(*r->pp, *r->cp, 1e-12);
  EXPECT_NEAR(r->pp_ci->low, r->cp_ci->low, 1e-12);
}

// Bissell's interval, two published examples:
//   Montgomery (Example 8.6): n = 20, Cpk-hat = 1.33, 95 %: 0.88 <= Cpk <= 1.78.
//   Quality Digest (May 2000, "Last Word"): n = 45, Cpk = 1.15, 95 %: 0.89 .. 1.41.
TEST(Capability, BissellCpkIntervalPublishedExamples) {
  auto r = ComputeCapability(WithMeanSd(20, 50, 2.0), 12 / (3 * 1.33), {.lsl = 38, .usl = 62});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(*r->cpk, 1.33, 1e-12);
  EXPECT_NEAR(r->cpk_ci->low, 0.88, 0.005);
  EXPECT_NEAR(r->cpk_ci->high, 1.78, 0.005);
  double half = 1.959963984540054 * std::sqrt(1 / 180.0 + 1.33 * 1.33 / 38);
  EXPECT_NEAR(r->cpk_ci->low, 1.33 - half, 1e-12);
  EXPECT_NEAR(r->cpk_ci->high, 1.33 + half, 1e-12);

  r = ComputeCapability(WithMeanSd(45, 50, 2.0), 12 / (3 * 1.15), {.lsl = 38, .usl = 62});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->cpk_ci->low, 0.89, 0.005);
  EXPECT_NEAR(r->cpk_ci->high, 1.41, 0.005);
}

// Piston rings (Montgomery, Intro. to SQC, pp. 206-213), specs 74.000 +/- 0.05 mm, Phase I:
// sigma = R-bar/d2; the book rounds R-bar to 0.023 and gets sigma = 0.0099, Cp = 1.68; with the
// unrounded R-bar = 0.02276 (SOURCE.md) Cp = 0.1 / (6 * 0.02276 / 2.326) = 1.7033.
TEST(Capability, PistonRingsMontgomery) {
  std::vector<double> x = PistonRingsPhase1();
  ASSERT_EQ(x.size(), 125u);
  double sigma = RbarOverD2(x);
  EXPECT_NEAR(sigma * 2.325929, 0.02276, 5e-6);
  auto r = ComputeCapability(x, sigma, {.lsl = 73.95, .usl = 74.05});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->mean, 74.00118, 5e-6);
  EXPECT_NEAR(*r->cp, 1.7033, 5e-4);
  EXPECT_NEAR(*r->cp, 1.68, 0.03);  // the book's rounding
  EXPECT_NEAR(*r->cpk, std::min(74.05 - r->mean, r->mean - 73.95) / (3 * sigma), 1e-12);
  EXPECT_TRUE(r->normal);  // the book treats the diameters as normal
  EXPECT_EQ(r->observed_ppm_total, 0);
}

// ---- capability: closed forms ----

TEST(Capability, ExpectedPpmClosedForms) {
  // Centred with Cp = 1: 2 Phi(-3) = 2699.796 ppm, half on each side.
  auto r = ComputeCapability(WithMeanSd(30, 10, 1), 1, {.lsl = 7, .usl = 13});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->expected_ppm_total, 2699.796063260, 1e-6);
  EXPECT_NEAR(r->expected_ppm_below, r->expected_ppm_above, 1e-9);
  EXPECT_NEAR(*r->cp, 1, 1e-12);
  EXPECT_NEAR(*r->cpk, 1, 1e-12);
  // Upper limit only, 4.5 sigma away: Cpk = Cpu = 1.5, Phi(-4.5) = 3.3977 ppm, no Cp.
  r = ComputeCapability(WithMeanSd(30, 10, 2), 2, {.usl = 19});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->cp.has_value());
  EXPECT_FALSE(r->cp_ci.has_value());
  EXPECT_FALSE(r->pp.has_value());
  EXPECT_FALSE(r->cpl.has_value());
  EXPECT_FALSE(r->cpm.has_value());  // no target, one limit
  EXPECT_NEAR(*r->cpk, 1.5, 1e-12);
  EXPECT_NEAR(*r->cpu, 1.5, 1e-12);
  EXPECT_NEAR(*r->ppk, 1.5, 1e-12);
  ASSERT_TRUE(r->cpk_ci.has_value());
  EXPECT_NEAR(r->cpk_ci->high - 1.5, 1.959963984540054 * std::sqrt(1 / 270.0 + 2.25 / 58), 1e-12);
  EXPECT_EQ(r->expected_ppm_below, 0);
  EXPECT_NEAR(r->expected_ppm_above, 3.397673124730062, 1e-9);
  EXPECT_NEAR(r->expected_ppm_total, 3.397673124730062, 1e-9);
  // Within and overall sigma differ: the _overall ppm follow sigma_overall (Ppk = 4.5 / 3 / 2).
  r = ComputeCapability(WithMeanSd(30, 10, 2), 1, {.lsl = 4, .usl = 19});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(*r->cpk, 2, 1e-12);    // (10 - 4) / 3
  EXPECT_NEAR(*r->ppk, 1, 1e-12);    // (10 - 4) / 6
  EXPECT_NEAR(r->expected_ppm_below_overall, 1e6 * 0.0013498980316300946, 1e-6);  // Phi(-3)
  EXPECT_NEAR(r->expected_ppm_above_overall, 1e6 * 3.397673124730062e-06, 1e-9);  // Phi(-4.5)
  EXPECT_NEAR(r->expected_ppm_below, 1e6 * 9.865876450376946e-10, 1e-9);          // Phi(-6)
}

TEST(Capability, ObservedPpmAndCpm) {
  std::vector<double> x(50, 0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 10);  // 0..9 five times
  // LSL 0.5: five zeros below; USL 8.5: five nines above.
  auto r = ComputeCapability(x, 2, {.lsl = 0.5, .usl = 8.5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->observed_ppm_below, 100000);
  EXPECT_EQ(r->observed_ppm_above, 100000);
  EXPECT_EQ(r->observed_ppm_total, 200000);
  // Cpm with the target in the middle (4.5 = mean): 8 / (6 s); s^2 = 8.25 * 50 / 49.
  double s = std::sqrt(8.25 * 50 / 49);
  EXPECT_NEAR(r->sigma_overall, s, 1e-12);
  EXPECT_NEAR(*r->target, 4.5, 1e-15);
  EXPECT_NEAR(*r->cpm, 8 / (6 * s), 1e-12);
  // Off-target T = 3.5: tau^2 = s^2 + 1; min(T - LSL, USL - T) = 3.
  r = ComputeCapability(x, 2, {.lsl = 0.5, .usl = 8.5, .target = 3.5});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(*r->cpm, 3 / (3 * std::sqrt(s * s + 1)), 1e-12);
  // One limit and a target: (USL - T) / (3 tau).
  r = ComputeCapability(x, 2, {.usl = 8.5, .target = 4.5});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(*r->cpm, 4 / (3 * s), 1e-12);
  EXPECT_EQ(r->observed_ppm_below, 0);
}

// Type 7 quantiles of 0, 1, ..., 10: h = 10 p, so X_l = 0.0135, X_m = 5, X_u = 9.9865.
TEST(Capability, PercentileIndicesClosedForm) {
  std::vector<double> x = {7, 3, 0, 10, 1, 9, 2, 8, 4, 6, 5};
  auto r = ComputeCapability(x, 3, {.lsl = -1, .usl = 12});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->percentile_low, 0.0135, 1e-14);
  EXPECT_NEAR(r->percentile_median, 5, 1e-14);
  EXPECT_NEAR(r->percentile_high, 9.9865, 1e-14);
  EXPECT_NEAR(*r->percentile_pp, 13 / 9.973, 1e-12);
  EXPECT_NEAR(*r->percentile_ppk, 6 / 4.9865, 1e-12);  // min(7, 6) / 4.9865
  r = ComputeCapability(x, 3, {.usl = 12});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->percentile_pp.has_value());
  EXPECT_NEAR(*r->percentile_ppk, 7 / 4.9865, 1e-12);
  bool warned = false;
  for (const auto& w : r->warnings) warned |= w.find("with 11 values the 0.135 %") != std::string::npos;
  EXPECT_TRUE(warned);
}

// ---- capability and Anderson-Darling against R ----

constexpr const char* kRCapability = R"(
  sw <- args[1]; lsl <- args[2]; usl <- args[3]; conf <- args[4]
  n <- length(x); m <- mean(x); so <- sd(x); a <- 1 - conf
  cap <- function(s) {
    c(cp = (usl - lsl) / (6 * s), cpk = min(usl - m, m - lsl) / (3 * s),
      below = 1e6 * pnorm((lsl - m) / s), above = 1e6 * pnorm((usl - m) / s, lower.tail = FALSE))
  }
  w <- cap(sw); o <- cap(so)
  chi <- sqrt(qchisq(c(a / 2, 1 - a / 2), n - 1) / (n - 1))
  biss <- function(k) k + c(-1, 1) * qnorm(1 - a / 2) * sqrt(1 / (9 * n) + k^2 / (2 * (n - 1)))
  out("cp", w["cp"]); out("cpk", w["cpk"]); out("pp", o["cp"]); out("ppk", o["cpk"])
  out("cp_ci", w["cp"] * chi); out("pp_ci", o["cp"] * chi)
  out("cpk_ci", biss(w["cpk"])); out("ppk_ci", biss(o["cpk"]))
  tgt <- (lsl + usl) / 2
  out("cpm", (usl - lsl) / (6 * sqrt(so^2 + (m - tgt)^2)))
  out("ppm_within", c(w["below"], w["above"])); out("ppm_overall", c(o["below"], o["above"]))
  out("observed", 1e6 * mean(x < lsl | x > usl))
  z <- (sort(x) - m) / so; i <- 1:n
  A2 <- -n - mean((2 * i - 1) * (pnorm(z, log.p = TRUE) + pnorm(rev(z), lower.tail = FALSE, log.p = TRUE)))
  AA <- A2 * (1 + 0.75 / n + 2.25 / n^2)
  p <- if (AA < 0.2) 1 - exp(-13.436 + 101.14 * AA - 223.73 * AA^2) else
       if (AA < 0.34) 1 - exp(-8.318 + 42.796 * AA - 59.938 * AA^2) else
       if (AA < 0.6) exp(0.9177 - 4.279 * AA - 1.38 * AA^2) else
       if (AA < 13) exp(1.2937 - 5.709 * AA + 0.0186 * AA^2) else 0
  out("a2", A2); out("a2_adjusted", AA); out("ad_p", p)
  q <- quantile(x, c(0.00135, 0.5, 0.99865), type = 7, names = FALSE)
  out("pct", q)
  out("pct_pp", (usl - lsl) / (q[3] - q[1]))
  out("pct_ppk", min((usl - q[2]) / (q[3] - q[2]), (q[2] - lsl) / (q[2] - q[1])))
)";

void ExpectMatchesR(const std::vector<double>& x, double sigma_within, double lsl, double usl, double confidence) {
  auto r = ComputeCapability(x, sigma_within, {.lsl = lsl, .usl = usl, .confidence = confidence});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Values ref = RunR(kRCapability, x, {sigma_within, lsl, usl, confidence});
  const double tol = 1e-11;
  ExpectRel(*r->cp, One(ref, "cp"), tol, "cp");
  ExpectRel(*r->cpk, One(ref, "cpk"), tol, "cpk");
  ExpectRel(*r->pp, One(ref, "pp"), tol, "pp");
  ExpectRel(*r->ppk, One(ref, "ppk"), tol, "ppk");
  ExpectRel(*r->cpm, One(ref, "cpm"), tol, "cpm");
  ExpectRel(r->cp_ci->low, ref["cp_ci"].at(0), 1e-10, "cp_ci.low");
  ExpectRel(r->cp_ci->high, ref["cp_ci"].at(1), 1e-10, "cp_ci.high");
  ExpectRel(r->pp_ci->low, ref["pp_ci"].at(0), 1e-10, "pp_ci.low");
  ExpectRel(r->pp_ci->high, ref["pp_ci"].at(1), 1e-10, "pp_ci.high");
  ExpectRel(r->cpk_ci->low, ref["cpk_ci"].at(0), 1e-10, "cpk_ci.low");
  ExpectRel(r->cpk_ci->high, ref["cpk_ci"].at(1), 1e-10, "cpk_ci.high");
  ExpectRel(r->ppk_ci->low, ref["ppk_ci"].at(0), 1e-10, "ppk_ci.low");
  ExpectRel(r->ppk_ci->high, ref["ppk_ci"].at(1), 1e-10, "ppk_ci.high");
  ExpectRel(r->expected_ppm_below, ref["ppm_within"].at(0), 1e-10, "ppm below");
  ExpectRel(r->expected_ppm_above, ref["ppm_within"].at(1), 1e-10, "ppm above");
  ExpectRel(r->expected_ppm_below_overall, ref["ppm_overall"].at(0), 1e-10, "ppm below overall");
  ExpectRel(r->expected_ppm_above_overall, ref["ppm_overall"].at(1), 1e-10, "ppm above overall");
  EXPECT_NEAR(r->observed_ppm_total, One(ref, "observed"), 1e-6);
  ExpectRel(r->anderson_darling, One(ref, "a2_adjusted"), 1e-10, "A*2");
  ExpectRel(r->ad_p_value, One(ref, "ad_p"), 1e-9, "AD p");
  EXPECT_EQ(r->normal, One(ref, "ad_p") >= 0.05);
  ExpectRel(r->percentile_low, ref["pct"].at(0), 1e-13, "X 0.135 %");
  ExpectRel(r->percentile_median, ref["pct"].at(1), 1e-13, "X 50 %");
  ExpectRel(r->percentile_high, ref["pct"].at(2), 1e-13, "X 99.865 %");
  ExpectRel(*r->percentile_pp, One(ref, "pct_pp"), 1e-12, "percentile pp");
  ExpectRel(*r->percentile_ppk, One(ref, "pct_ppk"), 1e-12, "percentile ppk");
  auto ad = AndersonDarlingNormal(x);
  ASSERT_TRUE(ad.ok());
  ExpectRel(ad->a2, One(ref, "a2"), 1e-10, "A2");
}

TEST(CapabilityR, PistonRings) {
  std::vector<double> x = PistonRingsPhase1();
  ExpectMatchesR(x, RbarOverD2(x), 73.95, 74.05, 0.95);
}

// A normal sample: AD should not reject; 90 % intervals.
TEST(CapabilityR, NormalSample) {
  std::mt19937_64 gen(20240517);
  std::normal_distribution<double> d(12.0, 0.4);
  std::vector<double> x(200);
  for (double& v : x) v = d(gen);
  ExpectMatchesR(x, 0.38, 11, 13.5, 0.90);
  auto r = ComputeCapability(x, 0.38, {.lsl = 11, .usl = 13.5});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->normal) << r->ad_p_value;
}

// A lognormal (skewed) sample: AD must reject and say so in a warning; the percentile indices
// then differ from Pp/Ppk.
TEST(CapabilityR, SkewedSampleRejectsNormality) {
  std::mt19937_64 gen(7);
  std::lognormal_distribution<double> d(0.0, 0.8);
  std::vector<double> x(150);
  for (double& v : x) v = 5 + d(gen);
  ExpectMatchesR(x, 0.9, 4, 12, 0.95);
  auto r = ComputeCapability(x, 0.9, {.lsl = 4, .usl = 12});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->normal);
  EXPECT_LT(r->ad_p_value, 0.001);
  bool warned = false;
  for (const auto& w : r->warnings) warned |= w.find("normality rejected") != std::string::npos;
  EXPECT_TRUE(warned);
}

// Small sample (n = 8, the smallest the p-value table covers).
TEST(CapabilityR, EightValues) {
  ExpectMatchesR({9.8, 10.1, 10.0, 9.9, 10.3, 10.2, 9.7, 10.05}, 0.2, 9, 11, 0.99);
}

// ---- bad input ----

std::string ErrorOf(const std::vector<double>& x, double sigma, const CapabilityOptions& o) {
  auto r = ComputeCapability(x, sigma, o);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(Capability, BadInputGivesPreciseErrors) {
  CapabilityOptions both{.lsl = 1, .usl = 3};
  EXPECT_EQ(ErrorOf({}, 1, both), "capability: needs at least 2 values, got 0");
  EXPECT_EQ(ErrorOf({2}, 1, both), "capability: needs at least 2 values, got 1");
  EXPECT_EQ(ErrorOf({2, 2.5, NAN, 2}, 1, both), "capability: value 3 of 4 is NaN");
  EXPECT_EQ(ErrorOf({2, INFINITY}, 1, both), "capability: value 2 of 2 is infinite");
  EXPECT_EQ(ErrorOf({2, 2, 2}, 1, both), "capability: all 3 values are equal (2): the overall sigma is 0");
  EXPECT_EQ(ErrorOf({2, 2.5}, 0, both), "capability: sigma_within 0 must be a finite number above 0");
  EXPECT_EQ(ErrorOf({2, 2.5}, NAN, both), "capability: sigma_within nan must be a finite number above 0");
  EXPECT_EQ(ErrorOf({2, 2.5}, -1, both), "capability: sigma_within -1 must be a finite number above 0");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = 3, .usl = 3}), "capability: lsl 3 must be below usl 3");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = 4, .usl = 3}), "capability: lsl 4 must be below usl 3");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {}), "capability: needs a specification limit: lsl, usl or both");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = NAN, .usl = 3}), "capability: lsl is not a finite number");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = 1, .usl = 3, .target = 5}),
            "capability: target 5 lies outside the specification limits");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = 1, .usl = 3, .confidence = 1}),
            "capability: confidence 1 must lie strictly between 0 and 1");
  EXPECT_EQ(ErrorOf({2, 2.5}, 1, {.lsl = 1, .usl = 3, .ad_alpha = 0}),
            "capability: ad_alpha 0 must lie strictly between 0 and 1");
  auto ad = AndersonDarlingNormal({1, 1});
  EXPECT_EQ(ad.status().message(), "anderson-darling: all 2 values are equal (1)");
}

// Two values, extreme outliers, tiny spreads: every number is finite, never NaN.
TEST(Capability, EdgeCasesStayFinite) {
  auto r = ComputeCapability({1, 2}, 0.5, {.lsl = 0, .usl = 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(*r->cp, 1, 1e-12);
  EXPECT_TRUE(std::isfinite(r->anderson_darling));
  bool warned = false;
  for (const auto& w : r->warnings) warned |= w.find("with 2 values the Anderson-Darling") != std::string::npos;
  EXPECT_TRUE(warned);

  std::vector<double> x(3000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1 + 1e-3 * std::sin(static_cast<double>(i));
  x[17] = -1e6;  // z about -55: Phi underflows, log Phi does not
  r = ComputeCapability(x, 1e-3, {.lsl = 0.99, .usl = 1.01});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(std::isfinite(r->anderson_darling));
  EXPECT_GT(r->anderson_darling, 100);
  EXPECT_EQ(r->ad_p_value, 0);
  EXPECT_FALSE(r->normal);
  EXPECT_NEAR(r->observed_ppm_below, 1e6 / 3000, 1e-9);

  std::string json = CapabilityJson(*r);
  EXPECT_EQ(json.find("nan"), std::string::npos);
  EXPECT_EQ(json.find("inf"), std::string::npos);
}

TEST(Capability, JsonHasContractFields) {
  auto r = ComputeCapability(WithMeanSd(20, 50, 1.75), 1.75, {.usl = 62});
  ASSERT_TRUE(r.ok());
  auto j = nlohmann::json::parse(CapabilityJson(*r));
  EXPECT_EQ(j["n"], 20);
  EXPECT_NEAR(j["mean"].get<double>(), 50, 1e-12);
  EXPECT_TRUE(j["cp"].is_null());
  EXPECT_TRUE(j["cp_ci"].is_null());
  EXPECT_TRUE(j["lsl"].is_null());
  EXPECT_NEAR(j["cpk"].get<double>(), 12 / 5.25, 1e-12);
  EXPECT_NEAR(j["cpk_ci"]["low"].get<double>(), r->cpk_ci->low, 1e-12);
  EXPECT_NEAR(j["cpk_ci"]["high"].get<double>(), r->cpk_ci->high, 1e-12);
  for (const char* k : {"sigma_within", "sigma_overall", "pp", "ppk", "cpm", "pp_ci", "ppk_ci", "expected_ppm_below",
                        "expected_ppm_above", "expected_ppm_total", "expected_ppm_total_overall", "observed_ppm_total",
                        "anderson_darling", "ad_p_value", "normal", "percentile_pp", "percentile_ppk", "warnings"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_TRUE(j["normal"].is_boolean());
  EXPECT_TRUE(j["warnings"].is_array());
  EXPECT_NEAR(j["expected_ppm_above"].get<double>(), r->expected_ppm_above, 1e-12 * r->expected_ppm_above);
}

}  // namespace
}  // namespace pf::spc
