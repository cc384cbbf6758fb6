// Quantized operators: QLinearConv and QLinearMatMul (standard ONNX) and the internal
// PfQLinearGemm and PfQLinearAdd that graph passes create from QDQ patterns (engine/passes.h);
// plus the fused-activation helper (pf_activation) that the fp32 Conv/Gemm/MatMul kernels share.
//
// Arithmetic, as ONNX specifies, in ONNX Runtime's float formulation (so plantfloor and ONNX
// Runtime 1.30 agree bit for bit, which a deep int8 network needs: one flipped tie spreads through
// the following layers): inputs minus zero points, products accumulated exactly in integer (int64
// here, which holds every int32 accumulator), int32 bias added to the accumulator; then
//   v = float(acc) * M,  M = float(float(x_scale * w_scale[c]) / y_scale)   (fp32 operations)
//   y = saturate(round_half_even(v) + y_zp)                                 (qlinearconv.cc,
// quant_gemm.cc, MlasRequantizeOutput). pf_activation: Relu and Clip (bounds / y_scale) act on v;
// the other kinds act on the real value acc * x_scale * w_scale[c] (double), which is then divided
// by y_scale, rounded half to even and saturated. The output type is the type of y_zp (u8 or s8).
// Scales: activations per tensor; weights per tensor or per output channel (QLinearConv: axis 0
// of W; QLinearMatMul and PfQLinearGemm: the column of B, i.e. the output column). QLinearMatMul
// also accepts a per-row a_scale (2-D A), as the spec allows. PfQLinearAdd computes as ONNX
// Runtime's QLinearAdd (MlasQLinearAddKernelAvx2Helper, the x86-64 kernel): with rA = a_scale /
// y_scale, rB = b_scale / y_scale and F = y_zp - (rA * a_zp + rB * b_zp), all fp32,
// y = saturate(round_half_even(fma(a, rA, fma(b, rB, F)))) on the raw integers a and b; with a
// pf_activation it dequantizes both operands, adds in float, applies it and requantizes.
// PfQLinearGlobalAveragePool (x, x_scale, x_zp, y_scale, y_zp; DQ -> GlobalAveragePool -> Q) is ONNX
// Runtime's QLinearGlobalAveragePool (MlasQLinearGlobalAveragePoolNchw): acc = sum(x) - x_zp * N
// (int32, N = spatial size), y = saturate(round_half_even(float(acc) * S) + y_zp) with
// S = float(x_scale / float(y_scale * float(N))).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {

float FusedActivation::Apply(float v) const {
  switch (kind) {
    case Kind::kNone: return v;
    case Kind::kRelu: return v > 0 ? v : 0.0f;
    case Kind::kClip: return std::min(std::max(v, min), max);
    case Kind::kLeakyRelu: return v >= 0 ? v : alpha * v;
    case Kind::kHardSigmoid: return std::clamp(alpha * v + beta, 0.0f, 1.0f);
    case Kind::kHardSwish: return v * std::clamp(v / 6.0f + 0.5f, 0.0f, 1.0f);
    case Kind::kSigmoid: {
      if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
      const float e = std::exp(v);
      return e / (1.0f + e);
    }
    case Kind::kTanh: return std::tanh(v);
  }
  return v;
}

Result<FusedActivation> ParseFusedActivation(const Node& n) {
  FusedActivation a;
  if (!n.Has("pf_activation")) return a;
  const std::string kind = n.Str("pf_activation", "");
  using K = FusedActivation::Kind;
  if (kind == "Relu") a.kind = K::kRelu;
  else if (kind == "Clip") a.kind = K::kClip;
  else if (kind == "LeakyRelu") a.kind = K::kLeakyRelu;
  else if (kind == "HardSigmoid") a.kind = K::kHardSigmoid;
  else if (kind == "HardSwish") a.kind = K::kHardSwish;
  else if (kind == "Sigmoid") a.kind = K::kSigmoid;
  else if (kind == "Tanh") a.kind = K::kTanh;
  else return InvalidArgument("{}: unknown pf_activation '{}'", n.Label(), kind);
  a.min = n.Float("pf_min", -std::numeric_limits<float>::infinity());
  a.max = n.Float("pf_max", std::numeric_limits<float>::infinity());
  a.alpha = n.Float("pf_alpha", a.kind == K::kLeakyRelu ? 0.01f : 0.2f);
  a.beta = n.Float("pf_beta", 0.5f);
  return a;
}

namespace {

bool IsQuant(DType t) { return t == DType::kUint8 || t == DType::kInt8; }

// A per-tensor quantization parameter: one element (scalar or [1]).
Status CheckScalar(const Node& n, const Infos& in, size_t k, const char* what, bool is_scale) {
  if (k >= in.size() || in[k] == nullptr) {
    if (is_scale) return InvalidArgument("{}: input '{}' is missing", n.Label(), what);
    return Status::Ok();
  }
  if (NumElements(in[k]->shape) != 1 || in[k]->shape.size() > 1) {
    return Unimplemented("{}: '{}' must be a scalar (per-tensor), has shape {}", n.Label(), what,
                         ShapeToString(in[k]->shape));
  }
  if (is_scale && in[k]->dtype != DType::kFloat) {
    return InvalidArgument("{}: '{}' must be float, is {}", n.Label(), what, DTypeName(in[k]->dtype));
  }
  return Status::Ok();
}

// A scale (float) or zero point of the weights: one element, or `channels` elements (1-D).
Status CheckPerChannel(const Node& n, const Infos& in, size_t k, const char* what, int64_t channels,
                       bool is_scale, DType zp_type) {
  if (k >= in.size() || in[k] == nullptr) {
    if (is_scale) return InvalidArgument("{}: input '{}' is missing", n.Label(), what);
    return Status::Ok();
  }
  const Shape& s = in[k]->shape;
  const bool scalar = NumElements(s) == 1 && s.size() <= 1;
  if (!scalar && s != Shape{channels}) {
    return InvalidArgument("{}: '{}' has shape {}, expected a scalar or [{}]", n.Label(), what, ShapeToString(s),
                           channels);
  }
  if (is_scale && in[k]->dtype != DType::kFloat) {
    return InvalidArgument("{}: '{}' must be float, is {}", n.Label(), what, DTypeName(in[k]->dtype));
  }
  if (!is_scale && in[k]->dtype != zp_type) {
    return InvalidArgument("{}: '{}' has type {}, its tensor {}", n.Label(), what, DTypeName(in[k]->dtype),
                           DTypeName(zp_type));
  }
  return Status::Ok();
}

Status CheckQuantTensor(const Node& n, const Infos& in, size_t k, const char* what) {
  if (!IsQuant(in[k]->dtype)) {
    return Unimplemented("{}: '{}' has type {}; only uint8 and int8 are supported", n.Label(), what,
                         DTypeName(in[k]->dtype));
  }
  return Status::Ok();
}

// Checks a (tensor, scale, zero point) triple at inputs k, k+1, k+2 with per-tensor parameters.
Status CheckTriple(const Node& n, const Infos& in, size_t k, const char* what) {
  PF_RETURN_IF_ERROR(CheckQuantTensor(n, in, k, what));
  PF_RETURN_IF_ERROR(CheckScalar(n, in, k + 1, "scale", true));
  PF_RETURN_IF_ERROR(CheckScalar(n, in, k + 2, "zero point", false));
  if (k + 2 < in.size() && in[k + 2] && in[k + 2]->dtype != in[k]->dtype) {
    return InvalidArgument("{}: zero point of '{}' has type {}, the tensor {}", n.Label(), what,
                           DTypeName(in[k + 2]->dtype), DTypeName(in[k]->dtype));
  }
  return Status::Ok();
}

// The output type: y_zero_point's type, uint8 when omitted.
Result<DType> OutputType(const Node& n, const Infos& in, size_t y_scale) {
  PF_RETURN_IF_ERROR(CheckScalar(n, in, y_scale, "y_scale", true));
  PF_RETURN_IF_ERROR(CheckScalar(n, in, y_scale + 1, "y_zero_point", false));
  if (y_scale + 1 < in.size() && in[y_scale + 1]) {
    const DType t = in[y_scale + 1]->dtype;
    if (!IsQuant(t)) return Unimplemented("{}: output type {} is not supported", n.Label(), DTypeName(t));
    return t;
  }
  return DType::kUint8;
}

Status CheckBias(const Node& n, const Infos& in, size_t k, int64_t channels) {
  if (k >= in.size() || in[k] == nullptr) return Status::Ok();
  if (in[k]->dtype != DType::kInt32) {
    return InvalidArgument("{}: bias must be int32, is {}", n.Label(), DTypeName(in[k]->dtype));
  }
  if (in[k]->shape != Shape{channels}) {
    return InvalidArgument("{}: bias has shape {}, expected [{}]", n.Label(), ShapeToString(in[k]->shape), channels);
  }
  return Status::Ok();
}

int64_t ZeroPoint(const Ins& in, size_t k, int64_t c = 0) {
  if (k >= in.size() || in[k] == nullptr) return 0;
  return in[k]->i.size() == 1 ? in[k]->i[0] : in[k]->i[c];
}

float Scale(const Ins& in, size_t k, int64_t c = 0) { return in[k]->f.size() == 1 ? in[k]->f[0] : in[k]->f[c]; }

// Requantization of one output element: act(real) / y_scale, round half to even, saturate.
struct Requant {
  FusedActivation act;
  double y_scale = 1;
  int64_t y_zp = 0;
  double lo = 0, hi = 255;

  int64_t operator()(double real) const {
    if (act.kind != FusedActivation::Kind::kNone) real = act.Apply(static_cast<float>(real));
    const double q = std::nearbyint(real / y_scale) + static_cast<double>(y_zp);
    return static_cast<int64_t>(std::clamp(q, lo, hi));
  }

  // An integer accumulator with the scales of its operands (see the file comment): fp32 as ONNX
  // Runtime computes it, for no activation, Relu and Clip; the real-valued path otherwise.
  int64_t FromAcc(int64_t acc, float x_scale, float w_scale) const {
    using K = FusedActivation::Kind;
    if (act.kind != K::kNone && act.kind != K::kRelu && act.kind != K::kClip) {
      return (*this)(static_cast<double>(acc) * x_scale * static_cast<double>(w_scale));
    }
    const float ys = static_cast<float>(y_scale);
    const float xw = x_scale * w_scale;
    const float m = xw / ys;
    float v = static_cast<float>(acc) * m;
    if (act.kind == K::kRelu) v = std::max(v, 0.0f);
    if (act.kind == K::kClip) v = std::clamp(v, act.min / ys, act.max / ys);
    return Saturate(std::nearbyint(static_cast<double>(v)));
  }

  // round(v) already taken: add the zero point and saturate.
  int64_t Saturate(double rounded) const {
    return static_cast<int64_t>(std::clamp(rounded + static_cast<double>(y_zp), lo, hi));
  }
};

Result<Requant> MakeRequant(const Node& n, const Ins& in, size_t y_scale, DType out) {
  Requant r;
  PF_ASSIGN_OR_RETURN(r.act, ParseFusedActivation(n));
  r.y_scale = in[y_scale]->f[0];
  r.y_zp = ZeroPoint(in, y_scale + 1);
  r.lo = out == DType::kUint8 ? 0 : -128;
  r.hi = out == DType::kUint8 ? 255 : 127;
  if (!(r.y_scale > 0) || !std::isfinite(r.y_scale)) {
    return InvalidArgument("{}: y_scale must be positive and finite, is {}", n.Label(), r.y_scale);
  }
  return r;
}

// QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B (int32, optional).
Result<Outs> InferQLinearConv(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 8, 9));
  for (size_t k : {0, 1, 3, 4, 6}) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  PF_RETURN_IF_ERROR(CheckTriple(n, in, 0, "x"));
  PF_RETURN_IF_ERROR(CheckQuantTensor(n, in, 3, "w"));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  const Shape& x = in[0]->shape;
  const Shape& w = in[3]->shape;
  PF_RETURN_IF_ERROR(CheckSpatial(n, x));
  const int64_t g = n.Int("group", 1);
  if (w.size() != x.size()) {
    return InvalidArgument("{}: W rank {} differs from X rank {}", n.Label(), w.size(), x.size());
  }
  if (g < 1 || x[1] != w[1] * g || w[0] % g != 0) {
    return InvalidArgument("{}: channels do not match: X {} W {} group {}", n.Label(), ShapeToString(x),
                           ShapeToString(w), g);
  }
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 4, "w_scale", w[0], true, in[3]->dtype));
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 5, "w_zero_point", w[0], false, in[3]->dtype));
  PF_ASSIGN_OR_RETURN(DType out, OutputType(n, in, 6));
  PF_RETURN_IF_ERROR(CheckBias(n, in, 8, w[0]));
  const Shape kernel(w.begin() + 2, w.end());
  if (n.Has("kernel_shape") && n.Ints("kernel_shape") != kernel) {
    return InvalidArgument("{}: kernel_shape differs from W's shape", n.Label());
  }
  PF_ASSIGN_OR_RETURN(auto ax, Geometry(n, Shape(x.begin() + 2, x.end()), kernel, false));
  return Outs{Info(out, OutShape(x, w[0], ax))};
}

Result<std::vector<Tensor>> RunQLinearConv(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[3];
  const Tensor* b = in.size() > 8 ? in[8] : nullptr;
  PF_ASSIGN_OR_RETURN(auto ax0, Geometry(n, Shape(x.shape.begin() + 2, x.shape.end()),
                                         Shape(w.shape.begin() + 2, w.shape.end()), false));
  const auto ax = To3d(ax0);
  Tensor y = MakeOutput(outs[0]);
  PF_ASSIGN_OR_RETURN(const Requant rq, MakeRequant(n, in, 6, y.dtype));
  const int64_t nb = x.shape[0], c = x.shape[1], m = w.shape[0], g = n.Int("group", 1);
  const int64_t cg = c / g, mg = m / g;
  const int64_t in_sz = ax[0].in * ax[1].in * ax[2].in, out_sz = ax[0].out * ax[1].out * ax[2].out;
  const int64_t k_sz = ax[0].kernel * ax[1].kernel * ax[2].kernel;
  const int64_t xz = ZeroPoint(in, 2);
  const float xs = Scale(in, 1);
  for (int64_t bi = 0; bi < nb; ++bi)
  for (int64_t oc = 0; oc < m; ++oc) {
    const int64_t grp = oc / mg;
    const int64_t wz = ZeroPoint(in, 5, oc);
    const float ws = Scale(in, 4, oc);
    int64_t* py = y.i.data() + (bi * m + oc) * out_sz;
    for (int64_t oz = 0; oz < ax[0].out; ++oz)
    for (int64_t oy = 0; oy < ax[1].out; ++oy)
    for (int64_t ox = 0; ox < ax[2].out; ++ox) {
      int64_t acc = b ? b->i[oc] : 0;
      for (int64_t ic = 0; ic < cg; ++ic) {
        const int64_t* px = x.i.data() + (bi * c + grp * cg + ic) * in_sz;
        const int64_t* pw = w.i.data() + (oc * cg + ic) * k_sz;
        for (int64_t kz = 0; kz < ax[0].kernel; ++kz) {
          const int64_t iz = oz * ax[0].stride - ax[0].pad_begin + kz * ax[0].dilation;
          if (iz < 0 || iz >= ax[0].in) continue;
          for (int64_t ky = 0; ky < ax[1].kernel; ++ky) {
            const int64_t iy = oy * ax[1].stride - ax[1].pad_begin + ky * ax[1].dilation;
            if (iy < 0 || iy >= ax[1].in) continue;
            for (int64_t kx = 0; kx < ax[2].kernel; ++kx) {
              const int64_t ix = ox * ax[2].stride - ax[2].pad_begin + kx * ax[2].dilation;
              if (ix < 0 || ix >= ax[2].in) continue;
              // Padding contributes x_zero_point, i.e. zero after the subtraction.
              acc += (px[(iz * ax[1].in + iy) * ax[2].in + ix] - xz) *
                     (pw[(kz * ax[1].kernel + ky) * ax[2].kernel + kx] - wz);
            }
          }
        }
      }
      py[(oz * ax[1].out + oy) * ax[2].out + ox] = rq.FromAcc(acc, xs, ws);
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

// QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. numpy matmul semantics.
Result<Outs> InferQLinearMatMul(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 8, 8));
  for (size_t k : {0, 1, 3, 4, 6}) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  PF_RETURN_IF_ERROR(CheckQuantTensor(n, in, 0, "a"));
  PF_RETURN_IF_ERROR(CheckQuantTensor(n, in, 3, "b"));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  Shape a = in[0]->shape, b = in[1 + 2]->shape;
  if (a.empty() || b.empty()) return InvalidArgument("{}: inputs must have rank >= 1", n.Label());
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a.back() != b[b.size() - 2]) {
    return InvalidArgument("{}: inner dimensions differ ({} and {})", n.Label(), ShapeToString(in[0]->shape),
                           ShapeToString(in[3]->shape));
  }
  // a: per tensor, or per row for a 2-D A; b: per tensor, or per column for a 2-D B.
  const int64_t rows = in[0]->shape.size() == 2 ? a[0] : 1;
  const int64_t cols = in[3]->shape.size() == 2 ? b.back() : 1;
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 1, "a_scale", rows, true, in[0]->dtype));
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 2, "a_zero_point", rows, false, in[0]->dtype));
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 4, "b_scale", cols, true, in[3]->dtype));
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 5, "b_zero_point", cols, false, in[3]->dtype));
  PF_ASSIGN_OR_RETURN(DType out, OutputType(n, in, 6));
  PF_ASSIGN_OR_RETURN(Shape batch, Broadcast(n, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)));
  Shape y = batch;
  if (!a1) y.push_back(a[a.size() - 2]);
  if (!b1) y.push_back(b.back());
  return Outs{Info(out, y)};
}

Result<std::vector<Tensor>> RunQLinearMatMul(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  Shape a = in[0]->shape, b = in[3]->shape;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), nn = b.back();
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  PF_ASSIGN_OR_RETURN(Shape batch, Broadcast(n, ab, bb));
  const auto ia = BroadcastIndex(ab, batch);
  const auto ib = BroadcastIndex(bb, batch);
  Tensor y = MakeOutput(outs[0]);
  PF_ASSIGN_OR_RETURN(const Requant rq, MakeRequant(n, in, 6, y.dtype));
  for (size_t p = 0; p < ia.size(); ++p) {
    const int64_t* pa = in[0]->i.data() + ia[p] * m * k;
    const int64_t* pb = in[3]->i.data() + ib[p] * k * nn;
    int64_t* py = y.i.data() + p * m * nn;
    for (int64_t r = 0; r < m; ++r) {
      const int64_t az = ZeroPoint(in, 2, r);
      const float as = Scale(in, 1, r);
      for (int64_t c = 0; c < nn; ++c) {
        const int64_t bz = ZeroPoint(in, 5, c);
        int64_t acc = 0;
        for (int64_t j = 0; j < k; ++j) acc += (pa[r * k + j] - az) * (pb[j * nn + c] - bz);
        py[r * nn + c] = rq.FromAcc(acc, as, Scale(in, 4, c));
      }
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

// PfQLinearGemm: a [M,K], a_scale, a_zp, w ([K,N], or [N,K] with transB), w_scale, w_zp (per
// tensor or per output column N), y_scale, y_zp, bias (int32 [N], optional). Y = A * W + bias.
Result<Outs> InferPfQLinearGemm(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 8, 9));
  for (size_t k : {0, 1, 3, 4, 6}) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  PF_RETURN_IF_ERROR(CheckTriple(n, in, 0, "a"));
  PF_RETURN_IF_ERROR(CheckQuantTensor(n, in, 3, "w"));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  const Shape& a = in[0]->shape;
  const Shape& w = in[3]->shape;
  if (a.size() != 2 || w.size() != 2) return InvalidArgument("{}: A and W must be 2-D", n.Label());
  const bool tb = n.Int("transB", 0) != 0;
  const int64_t kw = tb ? w[1] : w[0], nn = tb ? w[0] : w[1];
  if (a[1] != kw) return InvalidArgument("{}: inner dimensions differ ({} and {})", n.Label(), a[1], kw);
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 4, "w_scale", nn, true, in[3]->dtype));
  PF_RETURN_IF_ERROR(CheckPerChannel(n, in, 5, "w_zero_point", nn, false, in[3]->dtype));
  PF_ASSIGN_OR_RETURN(DType out, OutputType(n, in, 6));
  PF_RETURN_IF_ERROR(CheckBias(n, in, 8, nn));
  return Outs{Info(out, {a[0], nn})};
}

Result<std::vector<Tensor>> RunPfQLinearGemm(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& a = *in[0];
  const Tensor& w = *in[3];
  const Tensor* b = in.size() > 8 ? in[8] : nullptr;
  const bool tb = n.Int("transB", 0) != 0;
  Tensor y = MakeOutput(outs[0]);
  PF_ASSIGN_OR_RETURN(const Requant rq, MakeRequant(n, in, 6, y.dtype));
  const int64_t m = y.shape[0], nn = y.shape[1], kk = a.shape[1];
  const int64_t az = ZeroPoint(in, 2);
  const float as = Scale(in, 1);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < nn; ++c) {
      const int64_t wz = ZeroPoint(in, 5, c);
      int64_t acc = b ? b->i[c] : 0;
      for (int64_t k = 0; k < kk; ++k) {
        const int64_t wv = tb ? w.i[c * kk + k] : w.i[k * nn + c];
        acc += (a.i[r * kk + k] - az) * (wv - wz);
      }
      y.i[r * nn + c] = rq.FromAcc(acc, as, Scale(in, 4, c));
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

// PfQLinearAdd: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp; numpy broadcasting.
Result<Outs> InferPfQLinearAdd(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 8, 8));
  for (size_t k : {0, 1, 3, 4, 6}) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  PF_RETURN_IF_ERROR(CheckTriple(n, in, 0, "a"));
  PF_RETURN_IF_ERROR(CheckTriple(n, in, 3, "b"));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  PF_ASSIGN_OR_RETURN(DType out, OutputType(n, in, 6));
  PF_ASSIGN_OR_RETURN(Shape s, Broadcast(n, in[0]->shape, in[3]->shape));
  return Outs{Info(out, s)};
}

Result<std::vector<Tensor>> RunPfQLinearAdd(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[3];
  Tensor y = MakeOutput(outs[0]);
  PF_ASSIGN_OR_RETURN(const Requant rq, MakeRequant(n, in, 6, y.dtype));
  const auto ia = BroadcastIndex(a.shape, y.shape);
  const auto ib = BroadcastIndex(b.shape, y.shape);
  const int64_t az = ZeroPoint(in, 2), bz = ZeroPoint(in, 5);
  const float as = Scale(in, 1), bs = Scale(in, 4);
  if (rq.act.kind == FusedActivation::Kind::kNone) {
    // ONNX Runtime's QLinearAdd (see the file comment).
    const float ys = static_cast<float>(rq.y_scale);
    const float ra = as / ys, rb = bs / ys;
    const float ra_za = ra * static_cast<float>(az);
    const float rb_zb = rb * static_cast<float>(bz);
    const float fixed = static_cast<float>(rq.y_zp) - (ra_za + rb_zb);
    for (size_t k = 0; k < ia.size(); ++k) {
      const float v = std::fma(static_cast<float>(a.i[ia[k]]), ra,
                               std::fma(static_cast<float>(b.i[ib[k]]), rb, fixed));
      y.i[k] = static_cast<int64_t>(std::clamp(std::nearbyint(static_cast<double>(v)), rq.lo, rq.hi));
    }
    return std::vector<Tensor>{std::move(y)};
  }
  for (size_t k = 0; k < ia.size(); ++k) {
    const float da = static_cast<float>(a.i[ia[k]] - az) * as;
    const float db = static_cast<float>(b.i[ib[k]] - bz) * bs;
    y.i[k] = rq(static_cast<double>(da + db));
  }
  return std::vector<Tensor>{std::move(y)};
}

// PfQLinearGlobalAveragePool: x (N, C, spatial...), x_scale, x_zp, y_scale, y_zp -> (N, C, 1, ...).
Result<Outs> InferPfQLinearGlobalAveragePool(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 4, 5));
  for (size_t k : {0, 1, 3}) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  PF_RETURN_IF_ERROR(CheckTriple(n, in, 0, "x"));
  PF_ASSIGN_OR_RETURN(DType out, OutputType(n, in, 3));
  const Shape& x = in[0]->shape;
  if (x.size() < 3) return InvalidArgument("{}: X must have rank >= 3, has shape {}", n.Label(), ShapeToString(x));
  Shape y = x;
  for (size_t d = 2; d < y.size(); ++d) y[d] = 1;
  return Outs{Info(out, y)};
}

Result<std::vector<Tensor>> RunPfQLinearGlobalAveragePool(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  Tensor y = MakeOutput(outs[0]);
  PF_ASSIGN_OR_RETURN(const Requant rq, MakeRequant(n, in, 3, y.dtype));
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t size = planes == 0 ? 0 : static_cast<int64_t>(x.i.size()) / planes;
  if (size <= 0 || size >= (int64_t{1} << 24)) {
    return InvalidArgument("{}: spatial size {} is out of range (1 .. 2^24)", n.Label(), size);
  }
  const int64_t xz = ZeroPoint(in, 2);
  const float xs = Scale(in, 1);
  const float s = xs / (static_cast<float>(rq.y_scale) * static_cast<float>(size));
  for (int64_t p = 0; p < planes; ++p) {
    int64_t acc = -xz * size;
    for (int64_t k = 0; k < size; ++k) acc += x.i[p * size + k];
    const float v = static_cast<float>(acc) * s;
    y.i[p] = rq.Saturate(std::nearbyint(static_cast<double>(v)));
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void RegisterQuant(std::vector<OpDef>* t) {
  t->push_back({"QLinearConv", InferQLinearConv, RunQLinearConv});
  t->push_back({"QLinearMatMul", InferQLinearMatMul, RunQLinearMatMul});
  t->push_back({"PfQLinearGemm", InferPfQLinearGemm, RunPfQLinearGemm});
  t->push_back({"PfQLinearAdd", InferPfQLinearAdd, RunPfQLinearAdd});
  t->push_back({"PfQLinearGlobalAveragePool", InferPfQLinearGlobalAveragePool, RunPfQLinearGlobalAveragePool});
}

}  // namespace pf::engine::op
