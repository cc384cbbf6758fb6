#pragma once
// Helpers shared by the operator files (engine/ops_*.cpp): input checks, axis normalisation,
// numpy broadcasting and dtype-generic element copies. Internal to engine/.
#include <cmath>
#include <vector>

#include "engine/ops.h"

namespace pf::engine::op {

using Infos = std::vector<const TensorInfo*>;
using Ins = std::vector<const Tensor*>;
using Outs = std::vector<TensorInfo>;

// Checks that inputs [0, required) are present and at most `max` are given.
Status CheckArity(const Node& n, const Infos& in, size_t required, size_t max);
// Requires a float input k.
Status RequireFloat(const Node& n, const Infos& in, size_t k);
// Maps a possibly negative axis into [0, rank); error names the node.
Result<int64_t> NormalizeAxis(const Node& n, int64_t axis, int64_t rank);
// numpy multidirectional broadcasting of two shapes.
Result<Shape> Broadcast(const Node& n, const Shape& a, const Shape& b);
// For an output index (row-major, over `out`), the flat index into a tensor of shape `in`
// broadcast to `out` (in is right-aligned; size-1 dims repeat).
std::vector<int64_t> BroadcastIndex(const Shape& in, const Shape& out);
// An int64 1-D constant input (axes, pads, shape, starts...); error when it is not constant.
Result<std::vector<int64_t>> ConstInts(const Node& n, const Infos& in, size_t k, const char* what);
// Output tensor with the info's dtype and shape, zero-filled.
Tensor MakeOutput(const TensorInfo& info);
// A tensor of `out_shape` whose element j is src[src_index[j]], or `fill` when src_index[j] < 0.
Tensor Remap(const Tensor& src, const Shape& out_shape, const std::vector<int64_t>& src_index, double fill = 0);
// Converts an integer result to the range of an integer dtype (wraps like C for uint8/int8/int32).
int64_t WrapInt(DType t, int64_t v);

inline TensorInfo Info(DType t, Shape s) { return TensorInfo{t, std::move(s), nullptr}; }

}  // namespace pf::engine::op
