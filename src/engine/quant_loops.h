#pragma once
// The elementwise 8-bit loops of the session's native steps (QuantizeLinear, DequantizeLinear and
// PfQLinearAdd without activation), vectorized: quant_loops.cpp is compiled with -O3 and every
// function is cloned for AVX2 (GCC target_clones; the loader picks the clone for the CPU).
//
// Arithmetic, identical to the scalar reference (ops_quant.cpp) and to ONNX Runtime's MLAS:
//   Quantize:   v = x / scale (float division); v clamped to [lo - zp, hi - zp] (NaN -> lo - zp,
//               as MLAS's maxps); y = round_half_even(v) + zp.
//   Dequantize: y = float(q - zp) * scale.
//   Add:        v = fma(a, ra, fma(b, rb, fixed)) (float fused multiply-adds, emulated exactly in
//               double: an 8-bit integer times a float is exact there, and so are these sums);
//               y = saturate(round_half_even(v)). ra = a_scale / y_scale, rb = b_scale / y_scale,
//               fixed = y_zp - (ra * a_zp + rb * b_zp): ORT's QLinearAdd. Precondition:
//               AddInRange(ra, rb, fixed) (|v| < 2^22, where the rounding trick is exact).
#include <cstdint>

namespace pf::engine::qloops {

void Quantize(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y);
void Quantize(const float* x, int64_t n, float scale, int32_t zp, int8_t* y);
void Dequantize(const uint8_t* q, int64_t n, float scale, int32_t zp, float* y);
void Dequantize(const int8_t* q, int64_t n, float scale, int32_t zp, float* y);
inline bool AddInRange(float ra, float rb, float fixed) {
  const double bound = 256.0 * (ra < 0 ? -ra : ra) + 256.0 * (rb < 0 ? -rb : rb) + (fixed < 0 ? -fixed : fixed);
  return bound < 4194304.0;
}
void Add(const uint8_t* a, const uint8_t* b, int64_t n, float ra, float rb, float fixed, uint8_t* y);
void Add(const int8_t* a, const int8_t* b, int64_t n, float ra, float rb, float fixed, int8_t* y);

}  // namespace pf::engine::qloops
