#include "engine/op_util.h"

namespace pf::engine::op {

Status CheckArity(const Node& n, const Infos& in, size_t required, size_t max) {
  if (in.size() < required || in.size() > max) {
    return InvalidArgument("{}: takes {} to {} inputs, got {}", n.Label(), required, max, in.size());
  }
  for (size_t k = 0; k < required; ++k) {
    if (in[k] == nullptr) return InvalidArgument("{}: required input {} is missing", n.Label(), k);
  }
  return Status::Ok();
}

Status RequireFloat(const Node& n, const Infos& in, size_t k) {
  if (in[k]->dtype != DType::kFloat) {
    return Unimplemented("{}: input {} has type {}; only float is supported", n.Label(), k, DTypeName(in[k]->dtype));
  }
  return Status::Ok();
}

Result<int64_t> NormalizeAxis(const Node& n, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return InvalidArgument("{}: axis {} is out of range for rank {}", n.Label(), axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

Result<Shape> Broadcast(const Node& n, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k + a.size() >= r ? a[k + a.size() - r] : 1;
    int64_t db = k + b.size() >= r ? b[k + b.size() - r] : 1;
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("{}: shapes {} and {} do not broadcast", n.Label(), ShapeToString(a), ShapeToString(b));
    }
    out[k] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> BroadcastIndex(const Shape& in, const Shape& out) {
  const int64_t total = NumElements(out);
  std::vector<int64_t> idx(total);
  const size_t r = out.size();
  Shape in_full(r, 1);
  for (size_t k = 0; k < in.size(); ++k) in_full[r - in.size() + k] = in[k];
  auto in_strides = Strides(in_full);
  for (size_t k = 0; k < r; ++k) if (in_full[k] == 1) in_strides[k] = 0;
  std::vector<int64_t> pos(r, 0);
  int64_t src = 0;
  for (int64_t j = 0; j < total; ++j) {
    idx[j] = src;
    for (int k = static_cast<int>(r) - 1; k >= 0; --k) {
      ++pos[k];
      src += in_strides[k];
      if (pos[k] < out[k]) break;
      src -= pos[k] * in_strides[k];
      pos[k] = 0;
    }
  }
  return idx;
}

Result<std::vector<int64_t>> ConstInts(const Node& n, const Infos& in, size_t k, const char* what) {
  if (k >= in.size() || in[k] == nullptr) return InvalidArgument("{}: input '{}' is missing", n.Label(), what);
  const Tensor* t = in[k]->value;
  if (t == nullptr) return Unimplemented("{}: input '{}' must be a constant for static shapes", n.Label(), what);
  if (t->is_float()) return InvalidArgument("{}: input '{}' must be an integer tensor", n.Label(), what);
  return t->i;
}

Tensor MakeOutput(const TensorInfo& info) {
  return info.dtype == DType::kFloat ? Tensor::Float(info.shape) : Tensor::Int(info.dtype, info.shape);
}

Tensor Remap(const Tensor& src, const Shape& out_shape, const std::vector<int64_t>& src_index, double fill) {
  Tensor out = src.is_float() ? Tensor::Float(out_shape) : Tensor::Int(src.dtype, out_shape);
  for (size_t j = 0; j < src_index.size(); ++j) {
    const int64_t s = src_index[j];
    if (src.is_float()) out.f[j] = s < 0 ? static_cast<float>(fill) : src.f[s];
    else out.i[j] = s < 0 ? static_cast<int64_t>(fill) : src.i[s];
  }
  return out;
}

int64_t WrapInt(DType t, int64_t v) {
  switch (t) {
    case DType::kUint8: return static_cast<uint8_t>(v);
    case DType::kInt8: return static_cast<int8_t>(v);
    case DType::kInt32: return static_cast<int32_t>(v);
    case DType::kBool: return v != 0;
    default: return v;
  }
}

}  // namespace pf::engine::op
