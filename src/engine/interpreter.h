#pragma once
// The reference interpreter: runs a Graph node by node with the fp32 reference kernels
// (engine/ops.h). Clarity over speed: every value is kept until the run ends, nothing is fused.
// It is the yardstick the optimized engine is tested against.
//
// Stateless and thread-compatible: concurrent Run() calls on one const Graph are safe.
#include <map>
#include <string>

#include "core/status.h"
#include "engine/graph.h"

namespace pf::engine {

using TensorMap = std::map<std::string, Tensor>;

// Runs the graph on `inputs` (one tensor per graph input, matching its dtype and declared
// shape; unknown dims accept any size). Returns the graph outputs by name. Errors name the
// input or the node.
Result<TensorMap> RunReference(const Graph& graph, const TensorMap& inputs);

}  // namespace pf::engine
