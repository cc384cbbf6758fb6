#include "dsp/features.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

TEST(TimeFeaturesTest, SineMatchesClosedForms) {
  // Whole periods of A sin: rms A/sqrt2, peak A, crest sqrt2, kurtosis 3/2, skewness 0,
  // mean|x| = 2A/pi, mean sqrt|x| = sqrt(A) * (2/pi) * int_0^{pi/2} sqrt(sin) = sqrt(A) *
  // (2/pi) * sqrt(pi) Gamma(3/4) / (2 Gamma(5/4)).
  const double a = 2.5;
  std::vector<float> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(a * std::sin(2 * std::numbers::pi * 50 * i / 100000.0 + 0.1));
  auto f = ComputeTimeFeatures(x);
  ASSERT_TRUE(f.ok());
  const double mean_abs = 2 * a / std::numbers::pi;
  const double mean_sqrt = std::sqrt(a) * (2 / std::numbers::pi) * std::sqrt(std::numbers::pi) * std::tgamma(0.75) / (2 * std::tgamma(1.25));
  EXPECT_NEAR(f->rms, a / std::sqrt(2.0), 1e-5);
  EXPECT_NEAR(f->peak, a, 1e-3);
  EXPECT_NEAR(f->peak_to_peak, 2 * a, 2e-3);
  EXPECT_NEAR(f->crest_factor, std::sqrt(2.0), 1e-3);
  EXPECT_NEAR(f->kurtosis, 1.5, 1e-4);
  EXPECT_NEAR(f->skewness, 0.0, 1e-4);
  EXPECT_NEAR(f->shape_factor, (a / std::sqrt(2.0)) / mean_abs, 1e-4);  // pi / (2 sqrt 2)
  EXPECT_NEAR(f->impulse_factor, a / mean_abs, 1e-3);                  // pi / 2
  EXPECT_NEAR(f->clearance_factor, a / (mean_sqrt * mean_sqrt), 1e-3);
}

TEST(TimeFeaturesTest, GaussianKurtosisThreeAndSkewedExponential) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(1.0, 2.0);
  std::vector<float> x(400000);
  for (auto& v : x) v = g(rng);
  auto f = ComputeTimeFeatures(x);
  EXPECT_NEAR(f->kurtosis, 3.0, 0.05);
  EXPECT_NEAR(f->skewness, 0.0, 0.02);
  EXPECT_NEAR(f->mean, 1.0, 0.02);
  EXPECT_NEAR(f->rms, std::sqrt(1.0 + 4.0), 0.02);
  // Exponential: skewness 2, kurtosis 9.
  std::exponential_distribution<float> e(1.0);
  for (auto& v : x) v = e(rng);
  f = ComputeTimeFeatures(x);
  EXPECT_NEAR(f->skewness, 2.0, 0.1);
  EXPECT_NEAR(f->kurtosis, 9.0, 0.6);
}

TEST(TimeFeaturesTest, SquareWaveAndZeros) {
  std::vector<float> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i / 10) % 2 ? 3.0f : -3.0f;
  auto f = ComputeTimeFeatures(x);
  EXPECT_DOUBLE_EQ(f->crest_factor, 1.0);
  EXPECT_DOUBLE_EQ(f->kurtosis, 1.0);
  EXPECT_DOUBLE_EQ(f->shape_factor, 1.0);
  std::vector<float> zeros(64, 0.0f);
  f = ComputeTimeFeatures(zeros);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->crest_factor, 0.0);
  EXPECT_EQ(f->kurtosis, 0.0);
}

TEST(TimeFeaturesTest, Errors) {
  EXPECT_EQ(ComputeTimeFeatures({}).status().code(), StatusCode::kInvalidArgument);
  std::vector<float> x(10, 1.0f);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  auto f = ComputeTimeFeatures(x);
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("sample 7"), std::string::npos);
}

}  // namespace
}  // namespace pf::dsp
