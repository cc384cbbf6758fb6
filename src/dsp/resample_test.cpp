#include "dsp/resample.h"

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

double ToneAmplitude(const std::vector<float>& y, double fs, double f) {
  // Least-squares amplitude of a known-frequency tone over the middle of y (away from the ends).
  double c = 0, s = 0;
  std::size_t n = 0;
  for (std::size_t i = y.size() / 4; i < 3 * y.size() / 4; ++i, ++n) {
    c += y[i] * std::cos(2 * std::numbers::pi * f * i / fs);
    s += y[i] * std::sin(2 * std::numbers::pi * f * i / fs);
  }
  return 2 * std::hypot(c, s) / double(n);
}

std::vector<float> Tone(double fs, std::size_t n, double f) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::sin(2 * std::numbers::pi * f * i / fs));
  return x;
}

TEST(DecimateTest, PassbandKeptStopbandRejected) {
  const double fs = 48000;
  // 1 kHz and 4.5 kHz pass (within 0.1 dB); 7 kHz, which would alias to 5 kHz at 12 kHz, is rejected.
  for (double f : {1000.0, 4500.0}) {
    auto y = Decimate(Tone(fs, 48000, f), 4);
    ASSERT_TRUE(y.ok());
    EXPECT_EQ(y->size(), 12000u);
    EXPECT_NEAR(ToneAmplitude(*y, 12000, f), 1.0, 0.012) << f;
  }
  auto y = Decimate(Tone(fs, 48000, 7000), 4);
  EXPECT_LT(ToneAmplitude(*y, 12000, 5000), 1e-3);  // > 60 dB down
  auto taps = DecimationFilter(4);
  EXPECT_EQ(taps->size(), 257u);
}

TEST(DecimateTest, Errors) {
  EXPECT_EQ(Decimate(std::vector<float>(10), 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecimationFilter(1).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pf::dsp
