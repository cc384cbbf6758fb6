// The vectorized 8-bit loops against a scalar statement of the same arithmetic in double precision
// (std::nearbyint, std::fma on floats): every element identical, on random values, on exact halves
// (where rounding half to even matters), and on NaN / infinities / huge values for Quantize.
#include "engine/quant_loops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace pf::engine::qloops {
namespace {

template <typename Q>
Q RefQuantize(float x, float scale, int32_t zp) {
  const double lo = Q(-1) < Q(0) ? -128 : 0, hi = Q(-1) < Q(0) ? 127 : 255;
  float v = x / scale;
  if (std::isnan(v)) return static_cast<Q>(lo);
  const double r = std::nearbyint(std::clamp<double>(v, -1e9, 1e9)) + zp;
  return static_cast<Q>(std::clamp(r, lo, hi));
}

template <typename Q>
Q RefAdd(Q a, Q b, float ra, float rb, float fixed) {
  const double lo = Q(-1) < Q(0) ? -128 : 0, hi = Q(-1) < Q(0) ? 127 : 255;
  const float v = std::fma(static_cast<float>(a), ra, std::fma(static_cast<float>(b), rb, fixed));
  return static_cast<Q>(std::clamp<double>(std::nearbyint(v), lo, hi));
}

template <typename Q>
void CheckType(std::mt19937& rng) {
  const int n = 1003;  // not a multiple of any vector width
  std::uniform_real_distribution<float> u(-3, 3);
  for (int round = 0; round < 20; ++round) {
    const float scale = std::uniform_real_distribution<float>(0.001f, 0.1f)(rng);
    const int32_t zp = Q(-1) < Q(0) ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    std::vector<float> x(n);
    for (int k = 0; k < n; ++k) {
      x[k] = k % 7 == 0 ? (static_cast<float>(static_cast<int>(rng() % 200)) - 100.5f) * scale  // near halves
                        : u(rng);
    }
    x[0] = std::numeric_limits<float>::quiet_NaN();
    x[1] = std::numeric_limits<float>::infinity();
    x[2] = -std::numeric_limits<float>::infinity();
    x[3] = 3e38f;
    x[4] = -3e38f;
    x[5] = 0.5f * scale;
    x[6] = 1.5f * scale;
    x[7] = -2.5f * scale;
    std::vector<Q> y(n);
    Quantize(x.data(), n, scale, zp, y.data());
    for (int k = 0; k < n; ++k) ASSERT_EQ(+y[k], +RefQuantize<Q>(x[k], scale, zp)) << "x " << x[k] << " k " << k;
    std::vector<float> back(n);
    Dequantize(y.data(), n, scale, zp, back.data());
    for (int k = 0; k < n; ++k) ASSERT_EQ(back[k], static_cast<float>(static_cast<int32_t>(y[k]) - zp) * scale);

    std::vector<Q> a(n), b(n), s(n);
    for (int k = 0; k < n; ++k) {
      a[k] = static_cast<Q>(rng() % 256);
      b[k] = static_cast<Q>(rng() % 256);
    }
    const float ra = std::uniform_real_distribution<float>(0.1f, 2.0f)(rng);
    const float rb = std::uniform_real_distribution<float>(0.1f, 2.0f)(rng);
    const float fixed = std::uniform_real_distribution<float>(-200, 200)(rng);
    ASSERT_TRUE(AddInRange(ra, rb, fixed));
    Add(a.data(), b.data(), n, ra, rb, fixed, s.data());
    for (int k = 0; k < n; ++k) ASSERT_EQ(+s[k], +RefAdd<Q>(a[k], b[k], ra, rb, fixed)) << "k " << k;
  }
  EXPECT_FALSE(AddInRange(20000.0f, 1.0f, 0.0f));
}

TEST(QuantLoops, EqualTheScalarArithmetic) {
  std::mt19937 rng(5);
  CheckType<uint8_t>(rng);
  CheckType<int8_t>(rng);
}

}  // namespace
}  // namespace pf::engine::qloops
