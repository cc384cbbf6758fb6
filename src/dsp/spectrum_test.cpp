#include "dsp/spectrum.h"

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

std::vector<float> Sine(double fs, std::size_t n, double f, double amp, double phase = 0.3) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * f * i / fs + phase));
  return x;
}

TEST(WindowTest, GainsMatchClosedForms) {
  std::vector<float> w(4096);
  FillWindow(WindowKind::kHann, w);
  EXPECT_NEAR(CoherentGain(w), 0.5, 1e-6);
  EXPECT_NEAR(NoiseBandwidthBins(w), 1.5, 1e-4);
  FillWindow(WindowKind::kRectangular, w);
  EXPECT_NEAR(NoiseBandwidthBins(w), 1.0, 1e-9);
  FillWindow(WindowKind::kFlatTop, w);
  EXPECT_NEAR(CoherentGain(w), 0.21557895, 1e-6);  // a0
  EXPECT_NEAR(NoiseBandwidthBins(w), 3.77, 0.01);   // Heinzel et al. 2002: 3.7702 bins
  EXPECT_EQ(ParseWindowKind("flattop"), WindowKind::kFlatTop);
  EXPECT_FALSE(ParseWindowKind("kaiser").has_value());
}

TEST(WelchTest, SineOfKnownAmplitudeAndParseval) {
  const double fs = 10000, f = 1234.5, a = 2.0;
  auto x = Sine(fs, 100000, f, a);
  auto welch = WelchPsd::Create(fs, {2048, 0.5, WindowKind::kHann});
  ASSERT_TRUE(welch.ok());
  std::vector<double> psd(welch->bins());
  ASSERT_TRUE(welch->Compute(x, psd).ok());
  const double df = welch->bin_hz();
  double total = 0, near = 0;
  for (std::size_t k = 0; k < psd.size(); ++k) {
    total += psd[k] * df;
    if (std::abs(k * df - f) < 5 * df) near += psd[k] * df;
  }
  EXPECT_NEAR(near, a * a / 2, 0.01 * a * a / 2);   // all the sine's power sits at f
  EXPECT_NEAR(total, a * a / 2, 0.01 * a * a / 2);  // Parseval: integral of the PSD = variance
}

TEST(WelchTest, WhiteNoiseOfKnownVariance) {
  const double fs = 2000, sigma = 0.7;
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0, sigma);
  std::vector<float> x(400000);
  for (auto& v : x) v = g(rng);
  auto welch = WelchPsd::Create(fs, {512, 0.5, WindowKind::kHann});
  ASSERT_TRUE(welch.ok());
  std::vector<double> psd(welch->bins());
  ASSERT_TRUE(welch->Compute(x, psd).ok());
  double mean = 0;
  for (std::size_t k = 1; k + 1 < psd.size(); ++k) mean += psd[k];
  mean /= double(psd.size() - 2);
  EXPECT_NEAR(mean, 2 * sigma * sigma / fs, 0.02 * 2 * sigma * sigma / fs);  // one-sided level 2 sigma^2 / fs
}

TEST(WelchTest, Errors) {
  auto welch = WelchPsd::Create(1000, {256, 0.5, WindowKind::kHann});
  ASSERT_TRUE(welch.ok());
  std::vector<float> x(100);
  std::vector<double> psd(welch->bins());
  EXPECT_EQ(welch->Compute(x, psd).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WelchPsd::Create(1000, {256, 1.0, WindowKind::kHann}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WelchPsd::Create(0, {256, 0.5, WindowKind::kHann}).status().code(), StatusCode::kInvalidArgument);
}

TEST(SpectrumTest, AmplitudeOnAndOffBin) {
  const double fs = 8192;
  auto hann = SpectrumAnalyzer::Create(fs, 8192, WindowKind::kHann);
  ASSERT_TRUE(hann.ok());
  ASSERT_TRUE(hann->Compute(Sine(fs, 8192, 500, 1.5)).ok());
  EXPECT_NEAR(hann->amplitude()[500], 1.5, 1e-4);
  auto flat = SpectrumAnalyzer::Create(fs, 8192, WindowKind::kFlatTop);
  ASSERT_TRUE(flat->Compute(Sine(fs, 8192, 500.5, 1.5)).ok());  // worst case: half a bin off
  float peak = 0;
  for (float v : flat->amplitude()) peak = std::max(peak, v);
  EXPECT_NEAR(peak, 1.5, 1.5 * 0.002);  // flat top: scallop loss < 0.02 dB
}

TEST(SpectrumTest, VelocityRmsOfPureSine) {
  // a(t) = A sin(2 pi f t) in g -> v = A g0 / (2 pi f), RMS v/sqrt(2), in mm/s.
  const double fs = 25600, a = 0.5;
  auto s = SpectrumAnalyzer::Create(fs, 25600, WindowKind::kHann);
  ASSERT_TRUE(s.ok());
  for (double f : {50.0, 159.0, 600.3}) {
    ASSERT_TRUE(s->Compute(Sine(fs, 25600, f, a)).ok());
    const double expected = a * kStandardGravity / (2 * std::numbers::pi * f) / std::sqrt(2.0) * 1000;
    EXPECT_NEAR(s->VelocityRmsMmPerS(10, 1000), expected, 0.005 * expected) << f;
  }
  // Outside 10-1000 Hz: nothing.
  ASSERT_TRUE(s->Compute(Sine(fs, 25600, 3000, a)).ok());
  EXPECT_LT(s->VelocityRmsMmPerS(10, 1000), 1e-3);
}

TEST(SpectrumTest, BandRmsAndOrders) {
  const double fs = 4096, fr = 24.7;
  std::vector<float> x(4096);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = i / fs;
    x[i] = static_cast<float>(1.0 * std::sin(2 * std::numbers::pi * fr * t) + 0.5 * std::sin(2 * std::numbers::pi * 2 * fr * t) +
                              0.25 * std::sin(2 * std::numbers::pi * 3 * fr * t) + 0.3 * std::sin(2 * std::numbers::pi * 1000 * t));
  }
  auto s = SpectrumAnalyzer::Create(fs, 4096, WindowKind::kFlatTop);
  ASSERT_TRUE(s->Compute(x).ok());
  std::array<OrderAmplitude, 3> orders;
  // The stated speed is 1 % low: the 2 % tolerance still finds the lines.
  s->OrderAmplitudes(fr * 0.99, 0.02, orders);
  EXPECT_NEAR(orders[0].amplitude, 1.0, 0.005);
  EXPECT_NEAR(orders[1].amplitude, 0.5, 0.005);
  EXPECT_NEAR(orders[2].amplitude, 0.25, 0.005);
  EXPECT_NEAR(orders[1].frequency_hz, 2 * fr, 1.0);
  EXPECT_NEAR(s->BandRms(900, 1100), 0.3 / std::sqrt(2.0), 0.003);
  EXPECT_NEAR(s->BandRms(0, 2048), std::sqrt((1 + 0.25 + 0.0625 + 0.09) / 2), 0.005);
}

TEST(SpectrumTest, Errors) {
  EXPECT_EQ(SpectrumAnalyzer::Create(1000, 7, WindowKind::kHann).status().code(), StatusCode::kInvalidArgument);
  auto s = SpectrumAnalyzer::Create(1000, 64, WindowKind::kHann);
  std::vector<float> x(63);
  EXPECT_EQ(s->Compute(x).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pf::dsp
