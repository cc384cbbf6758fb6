#include "engine/shape_inference.h"

namespace pf::engine {

Result<std::map<std::string, TensorInfo>> InferShapes(const Graph& graph) {
  std::map<std::string, TensorInfo> values;
  for (const auto& in : graph.inputs) {
    for (int64_t d : in.shape) {
      if (d < 0) return Unimplemented("graph input '{}' has a dynamic shape {}", in.name, ShapeToString(in.shape));
    }
    values[in.name] = TensorInfo{in.dtype, in.shape, nullptr};
  }
  // A deferred constant (Tensor::deferred) has no elements to show: known by dtype and shape only.
  for (const auto& [name, t] : graph.constants) values[name] = TensorInfo{t.dtype, t.shape, t.deferred ? nullptr : &t};
  for (const auto& node : graph.nodes) {
    const OpDef* def = FindOp(node.op_type);
    if (def == nullptr) return Unimplemented("{}: operator '{}' is not supported", node.Label(), node.op_type);
    std::vector<const TensorInfo*> ins;
    for (const auto& name : node.inputs) {
      if (name.empty()) { ins.push_back(nullptr); continue; }
      auto it = values.find(name);
      if (it == values.end()) return Internal("{}: input '{}' has no inferred shape", node.Label(), name);
      ins.push_back(&it->second);
    }
    PF_ASSIGN_OR_RETURN(auto outs, def->infer(node, ins, graph.opset));
    for (size_t k = 0; k < node.outputs.size() && k < outs.size(); ++k) {
      if (!node.outputs[k].empty()) values[node.outputs[k]] = outs[k];
    }
  }
  for (const auto& out : graph.outputs) {
    auto it = values.find(out.name);
    if (it == values.end()) return InvalidArgument("graph output '{}' has no inferred shape", out.name);
    bool match = out.shape.empty() || out.shape.size() == it->second.shape.size();
    for (size_t d = 0; match && d < out.shape.size(); ++d) {
      match = out.shape[d] < 0 || out.shape[d] == it->second.shape[d];
    }
    if (!match) {
      return InvalidArgument("graph output '{}': declared shape {} but inferred {}", out.name,
                             ShapeToString(out.shape), ShapeToString(it->second.shape));
    }
  }
  return values;
}

}  // namespace pf::engine
