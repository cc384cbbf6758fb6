#pragma once
// Registration hooks of the operator files; ops.cpp builds the table from them. Internal to engine/.
#include <vector>

#include "engine/ops.h"

namespace pf::engine::op {
void RegisterElementwise(std::vector<OpDef>* table);  // ops_elementwise.cpp
void RegisterMath(std::vector<OpDef>* table);         // ops_math.cpp
void RegisterNn(std::vector<OpDef>* table);           // ops_nn.cpp
void RegisterLayout(std::vector<OpDef>* table);       // ops_layout.cpp
void RegisterConvTranspose(std::vector<OpDef>* table);  // ops_conv_transpose.cpp
}  // namespace pf::engine::op
