#include "dsp/fft.h"

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

// Reference: the O(n^2) DFT in double.
std::vector<std::complex<double>> Dft(const std::vector<std::complex<double>>& x, int sign) {
  const std::size_t n = x.size();
  std::vector<std::complex<double>> y(n);
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t t = 0; t < n; ++t) {
      y[k] += x[t] * std::polar(1.0, sign * 2 * std::numbers::pi * double(k * t % n) / double(n));
    }
  }
  return y;
}

TEST(FftTest, FastSizes) {
  EXPECT_EQ(NextFastSize(1), 1u);
  EXPECT_EQ(NextFastSize(7), 8u);
  EXPECT_EQ(NextFastSize(121265), 121500u);  // 2^2 * 3^5 * 5^3
  EXPECT_EQ(PrevFastSize(121265), 120000u);
  EXPECT_EQ(PrevFastSize(25600), 25600u);
}

TEST(FftTest, RealForwardMatchesDftOnRandomSizes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  for (std::size_t n : {8u, 30u, 96u, 250u, 384u, 1000u}) {
    auto fft = RealFft::Create(n);
    ASSERT_TRUE(fft.ok());
    std::vector<float> x(n);
    std::vector<std::complex<double>> xd(n);
    for (std::size_t i = 0; i < n; ++i) xd[i] = x[i] = g(rng);
    std::vector<Complex> y(n / 2 + 1);
    fft->Forward(x, y);
    auto ref = Dft(xd, -1);
    for (std::size_t k = 0; k <= n / 2; ++k) {
      EXPECT_NEAR(y[k].real(), ref[k].real(), 1e-4 * std::sqrt(double(n))) << "n=" << n << " k=" << k;
      EXPECT_NEAR(y[k].imag(), ref[k].imag(), 1e-4 * std::sqrt(double(n))) << "n=" << n << " k=" << k;
    }
    std::vector<float> back(n);
    fft->Inverse(y, back);
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(back[i] / float(n), x[i], 1e-4);
  }
}

TEST(FftTest, ComplexMatchesDft) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  for (std::size_t n : {1u, 7u, 45u, 128u, 243u}) {
    auto fft = ComplexFft::Create(n);
    ASSERT_TRUE(fft.ok());
    std::vector<Complex> x(n), y(n), z(n);
    std::vector<std::complex<double>> xd(n);
    for (std::size_t i = 0; i < n; ++i) xd[i] = x[i] = Complex(g(rng), g(rng));
    fft->Forward(x, y);
    auto ref = Dft(xd, -1);
    for (std::size_t k = 0; k < n; ++k) EXPECT_LT(std::abs(std::complex<double>(y[k]) - ref[k]), 1e-4 * std::sqrt(double(n) + 1));
    fft->Inverse(y, z);
    for (std::size_t i = 0; i < n; ++i) EXPECT_LT(std::abs(z[i] / float(n) - x[i]), 1e-4);
  }
}

TEST(FftTest, BadSizes) {
  EXPECT_EQ(RealFft::Create(7).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RealFft::Create(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ComplexFft::Create(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(RealFft::Create(7).status().message().find("size 7"), std::string::npos);
}

}  // namespace
}  // namespace pf::dsp
