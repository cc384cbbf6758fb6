#pragma once
// Tensor: a dense, row-major n-d array as the reference interpreter sees it.
//
// Why two buffers: the reference kernels compute in fp32, and every integer-like ONNX type this
// engine accepts (int64, int32, uint8, int8, bool) fits exactly in an int64, so a tensor keeps its
// elements in `f` (kFloat) or `i` (every other dtype) and `dtype` says what the values mean.
// Plain value type: copyable, not thread-safe for concurrent mutation.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pf::engine {

enum class DType { kFloat, kInt64, kInt32, kUint8, kInt8, kBool };

std::string_view DTypeName(DType t);  // "float", "int64", ...

using Shape = std::vector<int64_t>;

// Number of elements of a shape (1 for a scalar). Dimensions must be >= 0.
int64_t NumElements(const Shape& shape);
// Element count, or -1 when a dimension is negative or the product exceeds kMaxElements
// (for shapes that come from files or from computed values).
constexpr int64_t kMaxElements = int64_t{1} << 32;
int64_t CheckedNumElements(const Shape& shape);
// "[1,3,224,224]"
std::string ShapeToString(const Shape& shape);
// Row-major strides in elements.
std::vector<int64_t> Strides(const Shape& shape);

struct Tensor {
  DType dtype = DType::kFloat;
  Shape shape;
  std::vector<float> f;    // elements when dtype == kFloat
  std::vector<int64_t> i;  // elements for every other dtype
  // A graph constant whose elements are not loaded yet (f and i empty): Graph::load_deferred
  // loads it (engine/graph.h). Only large 8-bit weights are deferred, and only on request.
  bool deferred = false;

  static Tensor Float(Shape shape, std::vector<float> values = {});  // zero-filled when values empty
  static Tensor Int(DType dtype, Shape shape, std::vector<int64_t> values = {});
  bool is_float() const { return dtype == DType::kFloat; }
  int64_t size() const { return NumElements(shape); }
  // Element k as double, whatever the dtype (for index inputs and comparisons).
  double At(int64_t k) const { return is_float() ? f[k] : static_cast<double>(i[k]); }
};

}  // namespace pf::engine
