#pragma once
// Static shape inference over a Graph: every value's dtype and shape, from the declared graph
// input shapes and the constants, through each op's shape function (engine/ops.h).
//
// Static only: a graph input with an unknown (-1) dimension, or a shape-defining input (Reshape's
// shape, Slice's starts...) that is not a constant, is kUnimplemented naming the value or node.
// The returned infos of constants point into `graph.constants`: keep the graph alive meanwhile.
#include <map>
#include <string>

#include "core/status.h"
#include "engine/graph.h"
#include "engine/ops.h"

namespace pf::engine {

Result<std::map<std::string, TensorInfo>> InferShapes(const Graph& graph);

}  // namespace pf::engine
