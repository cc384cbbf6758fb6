// Linear algebra and normalisation: Gemm, MatMul, Softmax, ReduceMean, BatchNormalization
// (inference), QuantizeLinear, DequantizeLinear.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {
namespace {

Result<Outs> InferGemm(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 3));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  for (size_t k = 0; k < in.size(); ++k) if (in[k]) PF_RETURN_IF_ERROR(RequireFloat(n, in, k));
  const Shape& a = in[0]->shape;
  const Shape& b = in[1]->shape;
  if (a.size() != 2 || b.size() != 2) return InvalidArgument("{}: A and B must be 2-D", n.Label());
  const bool ta = n.Int("transA", 0) != 0, tb = n.Int("transB", 0) != 0;
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], nn = tb ? b[0] : b[1];
  if (k != kb) return InvalidArgument("{}: inner dimensions differ ({} and {})", n.Label(), k, kb);
  if (in.size() == 3 && in[2]) {
    PF_ASSIGN_OR_RETURN(Shape c, Broadcast(n, in[2]->shape, Shape{m, nn}));
    if (c != Shape{m, nn}) return InvalidArgument("{}: C {} does not broadcast to [{},{}]", n.Label(),
                                                  ShapeToString(in[2]->shape), m, nn);
  }
  return Outs{Info(DType::kFloat, {m, nn})};
}

Result<std::vector<Tensor>> RunGemm(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const bool ta = n.Int("transA", 0) != 0, tb = n.Int("transB", 0) != 0;
  const float alpha = n.Float("alpha", 1.0f), beta = n.Float("beta", 1.0f);
  PF_ASSIGN_OR_RETURN(const FusedActivation act, ParseFusedActivation(n));
  Tensor y = MakeOutput(outs[0]);
  const int64_t m = y.shape[0], nn = y.shape[1], kk = ta ? a.shape[0] : a.shape[1];
  std::vector<int64_t> ci;
  if (in.size() == 3 && in[2]) ci = BroadcastIndex(in[2]->shape, y.shape);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < nn; ++c) {
      double acc = 0;
      for (int64_t k = 0; k < kk; ++k) {
        const float av = ta ? a.f[k * m + r] : a.f[r * kk + k];
        const float bv = tb ? b.f[c * kk + k] : b.f[k * nn + c];
        acc += static_cast<double>(av) * bv;
      }
      float v = alpha * static_cast<float>(acc);
      if (!ci.empty()) v += beta * in[2]->f[ci[r * nn + c]];
      y.f[r * nn + c] = act.kind == FusedActivation::Kind::kNone ? v : act.Apply(v);
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<Outs> InferMatMul(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 2));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 1));
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  Shape a = in[0]->shape, b = in[1]->shape;
  if (a.empty() || b.empty()) return InvalidArgument("{}: inputs must have rank >= 1", n.Label());
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a.back() != b[b.size() - 2]) {
    return InvalidArgument("{}: inner dimensions differ ({} and {})", n.Label(), ShapeToString(in[0]->shape),
                           ShapeToString(in[1]->shape));
  }
  PF_ASSIGN_OR_RETURN(Shape batch, Broadcast(n, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)));
  Shape out = batch;
  if (!a1) out.push_back(a[a.size() - 2]);
  if (!b1) out.push_back(b.back());
  return Outs{Info(DType::kFloat, out)};
}

Result<std::vector<Tensor>> RunMatMul(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  Shape a = in[0]->shape, b = in[1]->shape;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), nn = b.back();
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  PF_ASSIGN_OR_RETURN(Shape batch, Broadcast(n, ab, bb));
  const auto ia = BroadcastIndex(ab, batch);
  const auto ib = BroadcastIndex(bb, batch);
  PF_ASSIGN_OR_RETURN(const FusedActivation act, ParseFusedActivation(n));
  Tensor y = MakeOutput(outs[0]);
  for (size_t p = 0; p < ia.size(); ++p) {
    const float* pa = in[0]->f.data() + ia[p] * m * k;
    const float* pb = in[1]->f.data() + ib[p] * k * nn;
    float* py = y.f.data() + p * m * nn;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t c = 0; c < nn; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < k; ++j) acc += static_cast<double>(pa[r * k + j]) * pb[j * nn + c];
        py[r * nn + c] = static_cast<float>(acc);
      }
    }
  }
  if (act.kind != FusedActivation::Kind::kNone) {
    for (float& v : y.f) v = act.Apply(v);
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<Outs> InferSameFloat(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  return Outs{Info(DType::kFloat, in[0]->shape)};
}

Result<Outs> InferSoftmax(const Node& n, const Infos& in, int64_t opset) {
  PF_ASSIGN_OR_RETURN(Outs o, InferSameFloat(n, in, opset));
  PF_RETURN_IF_ERROR(NormalizeAxis(n, n.Int("axis", opset < 13 ? 1 : -1),
                                   static_cast<int64_t>(in[0]->shape.size())).status());
  return o;
}

// Softmax over `inner`-sized groups: before opset 13 the input is coerced to 2-D at `axis`
// (default 1) and the softmax runs over the whole trailing block; from 13 on it runs over the one
// axis (default -1).
Result<std::vector<Tensor>> RunSoftmax(const Node& n, const Ins& in, const Outs& outs, int64_t opset) {
  const Tensor& x = *in[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", opset < 13 ? 1 : -1), rank));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) outer *= x.shape[d];
    else if (d == axis || opset < 13) len *= x.shape[d];
    else inner *= x.shape[d];
  }
  Tensor y = MakeOutput(outs[0]);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t l = 0; l < len; ++l) mx = std::max(mx, x.f[base + l * inner]);
      double sum = 0;
      for (int64_t l = 0; l < len; ++l) sum += std::exp(static_cast<double>(x.f[base + l * inner]) - mx);
      for (int64_t l = 0; l < len; ++l) {
        y.f[base + l * inner] = static_cast<float>(std::exp(static_cast<double>(x.f[base + l * inner]) - mx) / sum);
      }
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

// ReduceMean (opsets 11-17: axes is an attribute; none means all axes).
Result<std::vector<bool>> ReducedAxes(const Node& n, int64_t rank) {
  std::vector<bool> red(rank, n.Ints("axes").empty());
  for (int64_t a : n.Ints("axes")) {
    if (rank == 0) return InvalidArgument("{}: axis {} of a scalar", n.Label(), a);
    PF_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(n, a, rank));
    red[ax] = true;
  }
  return red;
}

Result<Outs> InferReduceMean(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  const Shape& s = in[0]->shape;
  PF_ASSIGN_OR_RETURN(auto red, ReducedAxes(n, static_cast<int64_t>(s.size())));
  const bool keep = n.Int("keepdims", 1) != 0;
  Shape out;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!red[d]) out.push_back(s[d]);
    else if (keep) out.push_back(1);
  }
  return Outs{Info(DType::kFloat, out)};
}

Result<std::vector<Tensor>> RunReduceMean(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  PF_ASSIGN_OR_RETURN(auto red, ReducedAxes(n, static_cast<int64_t>(x.shape.size())));
  Shape kept = x.shape;  // the output shape with keepdims=1; same element order as the output
  int64_t count = 1;
  for (size_t d = 0; d < kept.size(); ++d) {
    if (red[d]) { count *= kept[d]; kept[d] = 1; }
  }
  std::vector<double> acc(NumElements(kept), 0.0);
  const auto strides = Strides(kept);
  std::vector<int64_t> pos(x.shape.size(), 0);
  for (int64_t j = 0; j < x.size(); ++j) {
    int64_t o = 0;
    for (size_t d = 0; d < pos.size(); ++d) o += red[d] ? 0 : pos[d] * strides[d];
    acc[o] += x.f[j];
    for (int d = static_cast<int>(pos.size()) - 1; d >= 0; --d) {
      if (++pos[d] < x.shape[d]) break;
      pos[d] = 0;
    }
  }
  Tensor y = MakeOutput(outs[0]);
  for (size_t k = 0; k < acc.size(); ++k) {
    y.f[k] = count == 0 ? 0.0f : static_cast<float>(acc[k] / count);
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<Outs> InferBatchNorm(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 5, 5));
  for (size_t k = 0; k < 5; ++k) PF_RETURN_IF_ERROR(RequireFloat(n, in, k));
  if (n.Int("training_mode", 0) != 0 || n.outputs.size() > 1) {
    return Unimplemented("{}: only inference mode (one output) is supported", n.Label());
  }
  const Shape& x = in[0]->shape;
  if (x.size() < 2) return InvalidArgument("{}: X must have rank >= 2", n.Label());
  for (size_t k = 1; k < 5; ++k) {
    if (in[k]->shape != Shape{x[1]}) {
      return InvalidArgument("{}: input {} has shape {}, expected [{}]", n.Label(), k, ShapeToString(in[k]->shape), x[1]);
    }
  }
  return Outs{Info(DType::kFloat, x)};
}

Result<std::vector<Tensor>> RunBatchNorm(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const float eps = n.Float("epsilon", 1e-5f);
  const int64_t nb = x.shape[0], c = x.shape[1], inner = x.size() / std::max<int64_t>(nb * c, 1);
  Tensor y = MakeOutput(outs[0]);
  for (int64_t ch = 0; ch < c; ++ch) {
    const float s = in[1]->f[ch] / std::sqrt(in[4]->f[ch] + eps);
    const float b = in[2]->f[ch] - in[3]->f[ch] * s;
    for (int64_t b0 = 0; b0 < nb; ++b0) {
      const int64_t base = (b0 * c + ch) * inner;
      for (int64_t k = 0; k < inner; ++k) y.f[base + k] = x.f[base + k] * s + b;
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

// Quantization parameters: per tensor (scalar or one element) or per axis (1-D, opset >= 13).
Status CheckQuantParams(const Node& n, const Infos& in, int64_t opset) {
  const Shape& x = in[0]->shape;
  const Shape& s = in[1]->shape;
  if (NumElements(s) == 1 && s.size() <= 1) return Status::Ok();
  if (opset < 13 || s.size() != 1) return InvalidArgument("{}: scale must be a scalar", n.Label());
  if (x.empty()) return InvalidArgument("{}: per-axis scale for a scalar input", n.Label());
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", 1), static_cast<int64_t>(x.size())));
  if (s[0] != x[axis]) {
    return InvalidArgument("{}: per-axis scale has {} elements, axis {} has {}", n.Label(), s[0], axis, x[axis]);
  }
  if (in.size() > 2 && in[2] && in[2]->shape != s) {
    return InvalidArgument("{}: zero point shape {} differs from scale shape {}", n.Label(),
                           ShapeToString(in[2]->shape), ShapeToString(s));
  }
  return Status::Ok();
}

// For element j of x, the index into scale / zero point.
std::vector<int64_t> QuantIndex(const Node& n, const Shape& x, const Shape& s) {
  std::vector<int64_t> idx(NumElements(x), 0);
  if (NumElements(s) == 1) return idx;
  int64_t axis = n.Int("axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  int64_t inner = 1;
  for (size_t d = axis + 1; d < x.size(); ++d) inner *= x[d];
  for (size_t j = 0; j < idx.size(); ++j) idx[j] = (static_cast<int64_t>(j) / inner) % x[axis];
  return idx;
}

Result<Outs> InferQuantize(const Node& n, const Infos& in, int64_t opset) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 3));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 1));
  DType t = DType::kUint8;
  if (in.size() > 2 && in[2]) t = in[2]->dtype;
  if (t != DType::kUint8 && t != DType::kInt8) {
    return Unimplemented("{}: output type {} is not supported (uint8, int8)", n.Label(), DTypeName(t));
  }
  PF_RETURN_IF_ERROR(CheckQuantParams(n, in, opset));
  return Outs{Info(t, in[0]->shape)};
}

Result<std::vector<Tensor>> RunQuantize(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& s = *in[1];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  Tensor y = MakeOutput(outs[0]);
  const double lo = y.dtype == DType::kUint8 ? 0 : -128, hi = y.dtype == DType::kUint8 ? 255 : 127;
  const auto qi = QuantIndex(n, x.shape, s.shape);
  for (int64_t j = 0; j < x.size(); ++j) {
    const int64_t z = zp ? zp->i[qi[j]] : 0;
    // nearbyint rounds half to even in the default rounding mode, as the spec asks. The quotient
    // is fp32 (x / y_scale in float, as ONNX's reference and ONNX Runtime's MlasQuantizeLinear
    // compute it): a double quotient rounds differently when it lies within a float ulp of .5.
    const float quotient = x.f[j] / s.f[qi[j]];
    const double q = std::nearbyint(static_cast<double>(quotient)) + z;
    y.i[j] = static_cast<int64_t>(std::clamp(q, lo, hi));
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<Outs> InferDequantize(const Node& n, const Infos& in, int64_t opset) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 3));
  const DType t = in[0]->dtype;
  if (t != DType::kUint8 && t != DType::kInt8 && t != DType::kInt32) {
    return Unimplemented("{}: input type {} is not supported (uint8, int8, int32)", n.Label(), DTypeName(t));
  }
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 1));
  if (in.size() > 2 && in[2] && in[2]->dtype != t) {
    return InvalidArgument("{}: zero point type {} differs from input type {}", n.Label(), DTypeName(in[2]->dtype),
                           DTypeName(t));
  }
  PF_RETURN_IF_ERROR(CheckQuantParams(n, in, opset));
  return Outs{Info(DType::kFloat, in[0]->shape)};
}

Result<std::vector<Tensor>> RunDequantize(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& s = *in[1];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  Tensor y = MakeOutput(outs[0]);
  const auto qi = QuantIndex(n, x.shape, s.shape);
  for (int64_t j = 0; j < x.size(); ++j) {
    const int64_t z = zp ? zp->i[qi[j]] : 0;
    y.f[j] = static_cast<float>(x.i[j] - z) * s.f[qi[j]];
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void RegisterMath(std::vector<OpDef>* t) {
  t->push_back({"Gemm", InferGemm, RunGemm});
  t->push_back({"MatMul", InferMatMul, RunMatMul});
  t->push_back({"Softmax", InferSoftmax, RunSoftmax});
  t->push_back({"ReduceMean", InferReduceMean, RunReduceMean});
  t->push_back({"BatchNormalization", InferBatchNorm, RunBatchNorm});
  t->push_back({"QuantizeLinear", InferQuantize, RunQuantize});
  t->push_back({"DequantizeLinear", InferDequantize, RunDequantize});
}

}  // namespace pf::engine::op
