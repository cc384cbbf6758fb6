#include "dsp/envelope.h"

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/test_signals.h"

namespace pf::dsp {
namespace {

TEST(EnvelopeTest, AmSignalGivesClosedFormSes) {
  // x = (1 + m cos(2 pi fm t)) cos(2 pi fc t): squared envelope 1 + m^2/2 + 2m cos(fm) + m^2/2 cos(2 fm).
  const double fs = 12000, fc = 3000, fm = 100, m = 0.4;
  const std::size_t n = 12000;
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = i / fs;
    x[i] = static_cast<float>((1 + m * std::cos(2 * std::numbers::pi * fm * t)) * std::cos(2 * std::numbers::pi * fc * t));
  }
  auto env = EnvelopeSpectrum::Create(fs, n);
  ASSERT_TRUE(env.ok());
  ASSERT_TRUE(env->SetBand({2500, 3500}).ok());
  ASSERT_TRUE(env->Compute(x).ok());
  const double df = env->bin_hz();
  EXPECT_NEAR(env->ses()[static_cast<std::size_t>(fm / df)], 2 * m, 1e-3);
  EXPECT_NEAR(env->ses()[static_cast<std::size_t>(2 * fm / df)], m * m / 2, 1e-3);
  EXPECT_NEAR(env->ses()[0], 1 + m * m / 2, 1e-3);
  EXPECT_LT(env->ses()[static_cast<std::size_t>(3 * fm / df)], 1e-3);
}

TEST(EnvelopeTest, BandOutsideTheCarrierSeesNothing) {
  const double fs = 12000;
  std::vector<float> x(6000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(2 * std::numbers::pi * 3000 * i / fs));
  auto env = EnvelopeSpectrum::Create(fs, x.size());
  ASSERT_TRUE(env->SetBand({500, 1500}).ok());
  ASSERT_TRUE(env->Compute(x).ok());
  EXPECT_LT(env->ses()[0], 1e-6);
}

TEST(EnvelopeTest, BandErrors) {
  auto env = EnvelopeSpectrum::Create(1000, 1000);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->SetBand({300, 200}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(env->SetBand({0, 600}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(env->SetBand({100, 101}).code(), StatusCode::kInvalidArgument);  // fewer than 4 bins
  EXPECT_EQ(EnvelopeSpectrum::Create(1000, 7).status().code(), StatusCode::kInvalidArgument);
}

TEST(KurtogramTest, FindsTheResonanceExcitedByImpacts) {
  testing::FaultSignal s;
  s.fault_hz = 107;
  s.resonance_hz = 4100;
  s.impact = 1.0;
  s.noise_rms = 0.2;
  s.seconds = 2;
  auto x = testing::MakeFaultSignal(s);
  auto kg = Kurtogram::Create(s.fs, x.size(), {.min_bandwidth_hz = 300});
  ASSERT_TRUE(kg.ok());
  auto r = kg->Compute(x);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LE(r->band.lo_hz, 4100);
  EXPECT_GE(r->band.hi_hz, 4100);
  EXPECT_GE(r->band.hi_hz - r->band.lo_hz, 300);
  EXPECT_GT(r->kurtosis, 0.8);  // Gaussian noise: below 0.3 (next test)
  EXPECT_GT(r->bands_searched, 20);
}

TEST(KurtogramTest, GaussianNoiseHasSpectralKurtosisNearZero) {
  testing::FaultSignal s;
  s.seconds = 4;
  s.noise_rms = 1;
  s.shaft_amplitude = 0;
  auto x = testing::MakeFaultSignal(s);
  auto kg = Kurtogram::Create(s.fs, x.size(), {.min_bandwidth_hz = 375});
  auto r = kg->Compute(x);
  ASSERT_TRUE(r.ok());
  EXPECT_LT(r->kurtosis, 0.3);  // the largest of ~60 bands' SK, each ~N(0, 2/sqrt(bins))
  std::vector<float> zeros(x.size(), 0.0f);
  EXPECT_EQ(kg->Compute(zeros).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pf::dsp
