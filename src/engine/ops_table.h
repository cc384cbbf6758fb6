#pragma once
// Registration hooks of the operator files; ops.cpp builds the table from them, plus helpers that
// several operator files share. Internal to engine/.
#include <vector>

#include "engine/ops.h"

namespace pf::engine::op {
void RegisterElementwise(std::vector<OpDef>* table);  // ops_elementwise.cpp
void RegisterMath(std::vector<OpDef>* table);         // ops_math.cpp
void RegisterNn(std::vector<OpDef>* table);           // ops_nn.cpp
void RegisterLayout(std::vector<OpDef>* table);       // ops_layout.cpp
void RegisterConvTranspose(std::vector<OpDef>* table);  // ops_conv_transpose.cpp
void RegisterQuant(std::vector<OpDef>* table);        // ops_quant.cpp

// The sliding-window geometry of one spatial dimension (ops_nn.cpp; Conv, pools, QLinearConv).
struct Axis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0;
};
// Resolves auto_pad, pads, strides, dilations and ceil_mode into per-axis geometry.
Result<std::vector<Axis>> Geometry(const Node& n, const Shape& in, const Shape& kernel, bool allow_ceil);
// Pads geometry to exactly 3 spatial axes (leading size-1 axes).
std::vector<Axis> To3d(std::vector<Axis> ax);
// X must have 1 to 3 spatial dims.
Status CheckSpatial(const Node& n, const Shape& x);
// [N, channels, out...]
Shape OutShape(const Shape& x, int64_t channels, const std::vector<Axis>& ax);

// The fused activation of a node (pf_activation with pf_min/pf_max/pf_alpha/pf_beta, see
// engine/passes.h), applied exactly like the standalone activation kernels (ops_elementwise.cpp)
// so a fused graph gives bit-identical results. Defined in ops_quant.cpp.
struct FusedActivation {
  enum class Kind { kNone, kRelu, kClip, kLeakyRelu, kHardSigmoid, kHardSwish, kSigmoid, kTanh };
  Kind kind = Kind::kNone;
  float min = 0, max = 0, alpha = 0, beta = 0;
  float Apply(float v) const;
};
// Error (naming the node) for an unknown pf_activation.
Result<FusedActivation> ParseFusedActivation(const Node& n);
}  // namespace pf::engine::op
