// See quant_loops.h. Plain loops written so that GCC vectorizes them (no libm calls, no branches:
// the clamps are ternaries that map to min/max, the rounding is the 1.5 * 2^23 trick, exact for
// the clamped magnitudes); the file is compiled with -O3 (src/engine/CMakeLists.txt).
#include "engine/quant_loops.h"

#define PF_CLONES __attribute__((target_clones("avx2", "default")))

namespace pf::engine::qloops {
namespace {

constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: (v + kMagic) - kMagic rounds |v| < 2^22 half to even

template <typename Q>
inline void QuantizeT(const float* x, int64_t n, float scale, int32_t zp, Q* y) {
  constexpr float kLo = Q(-1) < Q(0) ? -128.0f : 0.0f, kHi = Q(-1) < Q(0) ? 127.0f : 255.0f;
  const float lo = kLo - static_cast<float>(zp), hi = kHi - static_cast<float>(zp);
  for (int64_t k = 0; k < n; ++k) {
    float v = x[k] / scale;
    v = v > lo ? v : lo;  // NaN -> lo
    v = v < hi ? v : hi;
    y[k] = static_cast<Q>(static_cast<int32_t>((v + kMagic) - kMagic) + zp);
  }
}

template <typename Q>
inline void DequantizeT(const Q* q, int64_t n, float scale, int32_t zp, float* y) {
  for (int64_t k = 0; k < n; ++k) y[k] = static_cast<float>(static_cast<int32_t>(q[k]) - zp) * scale;
}

template <typename Q>
inline void AddT(const Q* a, const Q* b, int64_t n, float ra, float rb, float fixed, Q* y) {
  constexpr int32_t kLo = Q(-1) < Q(0) ? -128 : 0, kHi = Q(-1) < Q(0) ? 127 : 255;
  const double dra = ra, drb = rb, dfixed = fixed;
  for (int64_t k = 0; k < n; ++k) {
    const float inner = static_cast<float>(static_cast<double>(b[k]) * drb + dfixed);
    const float v = static_cast<float>(static_cast<double>(a[k]) * dra + static_cast<double>(inner));
    int32_t r = static_cast<int32_t>((v + kMagic) - kMagic);  // |v| < 2^22: the caller's bound
    r = r < kLo ? kLo : r;  // integer clamps as ternaries: GCC vectorizes these (not std::min here)
    r = r > kHi ? kHi : r;
    y[k] = static_cast<Q>(r);
  }
}

}  // namespace

PF_CLONES void Quantize(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) { QuantizeT(x, n, scale, zp, y); }
PF_CLONES void Quantize(const float* x, int64_t n, float scale, int32_t zp, int8_t* y) { QuantizeT(x, n, scale, zp, y); }
PF_CLONES void Dequantize(const uint8_t* q, int64_t n, float scale, int32_t zp, float* y) { DequantizeT(q, n, scale, zp, y); }
PF_CLONES void Dequantize(const int8_t* q, int64_t n, float scale, int32_t zp, float* y) { DequantizeT(q, n, scale, zp, y); }
PF_CLONES void Add(const uint8_t* a, const uint8_t* b, int64_t n, float ra, float rb, float fixed, uint8_t* y) {
  AddT(a, b, n, ra, rb, fixed, y);
}
PF_CLONES void Add(const int8_t* a, const int8_t* b, int64_t n, float ra, float rb, float fixed, int8_t* y) {
  AddT(a, b, n, ra, rb, fixed, y);
}

}  // namespace pf::engine::qloops
