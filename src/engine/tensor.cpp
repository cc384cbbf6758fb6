#include "engine/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace pf::engine {

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kFloat: return "float";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kUint8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kBool: return "bool";
  }
  return "?";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t CheckedNumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d > 0 && n > kMaxElements / d) return -1;
    n *= d;
  }
  return n;
}

std::string ShapeToString(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int k = static_cast<int>(shape.size()) - 2; k >= 0; --k) s[k] = s[k + 1] * shape[k + 1];
  return s;
}

Tensor Tensor::Float(Shape shape, std::vector<float> values) {
  Tensor t;
  t.dtype = DType::kFloat;
  t.shape = std::move(shape);
  if (values.empty()) values.assign(NumElements(t.shape), 0.0f);
  t.f = std::move(values);
  return t;
}

Tensor Tensor::Int(DType dtype, Shape shape, std::vector<int64_t> values) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (values.empty()) values.assign(NumElements(t.shape), 0);
  t.i = std::move(values);
  return t;
}

}  // namespace pf::engine
