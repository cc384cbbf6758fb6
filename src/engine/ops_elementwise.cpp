// Element-wise operators: activations (Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish,
// Clip) and Add/Sub/Mul/Div with numpy broadcasting.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {
namespace {

Result<Outs> InferUnary(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  return Outs{Info(DType::kFloat, in[0]->shape)};
}

template <typename F>
Result<std::vector<Tensor>> MapFloat(const Tensor& x, F f) {
  Tensor y = Tensor::Float(x.shape);
  for (size_t k = 0; k < x.f.size(); ++k) y.f[k] = f(x.f[k]);
  return std::vector<Tensor>{std::move(y)};
}

Result<std::vector<Tensor>> RunRelu(const Node&, const Ins& in, const Outs&, int64_t) {
  return MapFloat(*in[0], [](float v) { return v > 0 ? v : 0.0f; });
}
Result<std::vector<Tensor>> RunLeakyRelu(const Node& n, const Ins& in, const Outs&, int64_t) {
  const float a = n.Float("alpha", 0.01f);
  return MapFloat(*in[0], [a](float v) { return v >= 0 ? v : a * v; });
}
Result<std::vector<Tensor>> RunSigmoid(const Node&, const Ins& in, const Outs&, int64_t) {
  // exp of a negative argument only, so neither branch overflows.
  return MapFloat(*in[0], [](float v) {
    if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
    const float e = std::exp(v);
    return e / (1.0f + e);
  });
}
Result<std::vector<Tensor>> RunTanh(const Node&, const Ins& in, const Outs&, int64_t) {
  return MapFloat(*in[0], [](float v) { return std::tanh(v); });
}
Result<std::vector<Tensor>> RunHardSigmoid(const Node& n, const Ins& in, const Outs&, int64_t) {
  const float a = n.Float("alpha", 0.2f), b = n.Float("beta", 0.5f);
  return MapFloat(*in[0], [a, b](float v) { return std::clamp(a * v + b, 0.0f, 1.0f); });
}
Result<std::vector<Tensor>> RunHardSwish(const Node&, const Ins& in, const Outs&, int64_t) {
  return MapFloat(*in[0], [](float v) { return v * std::clamp(v / 6.0f + 0.5f, 0.0f, 1.0f); });
}

// Clip: min/max are optional scalar inputs (opset >= 11); integer types clip exactly.
Result<Outs> InferClip(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 3));
  if (in[0]->dtype == DType::kBool) return Unimplemented("{}: bool input is not supported", n.Label());
  for (size_t k = 1; k < in.size(); ++k) {
    if (in[k] == nullptr) continue;
    if (NumElements(in[k]->shape) != 1) return InvalidArgument("{}: min/max must be scalars", n.Label());
    if (in[k]->dtype != in[0]->dtype) return InvalidArgument("{}: min/max type differs from the input's", n.Label());
  }
  return Outs{Info(in[0]->dtype, in[0]->shape)};
}
Result<std::vector<Tensor>> RunClip(const Node&, const Ins& in, const Outs&, int64_t) {
  const bool has_lo = in.size() > 1 && in[1] != nullptr, has_hi = in.size() > 2 && in[2] != nullptr;
  if (!in[0]->is_float()) {
    Tensor y = *in[0];
    for (auto& v : y.i) {
      if (has_lo) v = std::max(v, in[1]->i[0]);
      if (has_hi) v = std::min(v, in[2]->i[0]);
    }
    return std::vector<Tensor>{std::move(y)};
  }
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (has_lo) lo = in[1]->f[0];
  if (has_hi) hi = in[2]->f[0];
  return MapFloat(*in[0], [lo, hi](float v) { return std::min(std::max(v, lo), hi); });
}

Result<Outs> InferBinary(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 2));
  if (in[0]->dtype != in[1]->dtype) {
    return InvalidArgument("{}: input types differ ({} and {})", n.Label(), DTypeName(in[0]->dtype),
                           DTypeName(in[1]->dtype));
  }
  if (in[0]->dtype == DType::kBool) return Unimplemented("{}: bool arithmetic is not supported", n.Label());
  PF_ASSIGN_OR_RETURN(Shape s, Broadcast(n, in[0]->shape, in[1]->shape));
  return Outs{Info(in[0]->dtype, s)};
}

template <typename F, typename G>
Result<std::vector<Tensor>> RunBinary(const Node& n, const Ins& in, const Outs& outs, F ff, G fi) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  Tensor y = MakeOutput(outs[0]);
  const auto ia = BroadcastIndex(a.shape, y.shape);
  const auto ib = BroadcastIndex(b.shape, y.shape);
  for (size_t k = 0; k < ia.size(); ++k) {
    if (y.is_float()) {
      y.f[k] = ff(a.f[ia[k]], b.f[ib[k]]);
    } else {
      if (!fi(a.i[ia[k]], b.i[ib[k]], &y.i[k])) return InvalidArgument("{}: integer division by zero", n.Label());
      y.i[k] = WrapInt(y.dtype, y.i[k]);
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<std::vector<Tensor>> RunAdd(const Node& n, const Ins& in, const Outs& o, int64_t) {
  return RunBinary(n, in, o, [](float a, float b) { return a + b; },
                   [](int64_t a, int64_t b, int64_t* r) { *r = a + b; return true; });
}
Result<std::vector<Tensor>> RunSub(const Node& n, const Ins& in, const Outs& o, int64_t) {
  return RunBinary(n, in, o, [](float a, float b) { return a - b; },
                   [](int64_t a, int64_t b, int64_t* r) { *r = a - b; return true; });
}
Result<std::vector<Tensor>> RunMul(const Node& n, const Ins& in, const Outs& o, int64_t) {
  return RunBinary(n, in, o, [](float a, float b) { return a * b; },
                   [](int64_t a, int64_t b, int64_t* r) { *r = a * b; return true; });
}
Result<std::vector<Tensor>> RunDiv(const Node& n, const Ins& in, const Outs& o, int64_t) {
  return RunBinary(n, in, o, [](float a, float b) { return a / b; },
                   [](int64_t a, int64_t b, int64_t* r) {
                     if (b == 0) return false;
                     *r = a / b;
                     return true;
                   });
}

}  // namespace

void RegisterElementwise(std::vector<OpDef>* t) {
  t->push_back({"Relu", InferUnary, RunRelu});
  t->push_back({"LeakyRelu", InferUnary, RunLeakyRelu});
  t->push_back({"Sigmoid", InferUnary, RunSigmoid});
  t->push_back({"Tanh", InferUnary, RunTanh});
  t->push_back({"HardSigmoid", InferUnary, RunHardSigmoid});
  t->push_back({"HardSwish", InferUnary, RunHardSwish});
  t->push_back({"Clip", InferClip, RunClip});
  t->push_back({"Add", InferBinary, RunAdd});
  t->push_back({"Sub", InferBinary, RunSub});
  t->push_back({"Mul", InferBinary, RunMul});
  t->push_back({"Div", InferBinary, RunDiv});
}

}  // namespace pf::engine::op
