#include "engine/interpreter.h"

#include "engine/ops.h"

namespace pf::engine {
namespace {

Status CheckInput(const ValueInfo& decl, const Tensor& t) {
  if (t.dtype != decl.dtype) {
    return InvalidArgument("input '{}': type {} but the model expects {}", decl.name, DTypeName(t.dtype),
                           DTypeName(decl.dtype));
  }
  bool match = decl.shape.size() == t.shape.size();
  for (size_t d = 0; match && d < t.shape.size(); ++d) match = decl.shape[d] < 0 || decl.shape[d] == t.shape[d];
  if (!match) {
    return InvalidArgument("input '{}': shape {} but the model expects {}", decl.name, ShapeToString(t.shape),
                           ShapeToString(decl.shape));
  }
  const size_t n = static_cast<size_t>(t.size());
  if ((t.is_float() ? t.f.size() : t.i.size()) != n) {
    return InvalidArgument("input '{}': shape {} needs {} elements", decl.name, ShapeToString(t.shape), n);
  }
  return Status::Ok();
}

}  // namespace

Result<TensorMap> RunReference(const Graph& graph, const TensorMap& inputs) {
  std::map<std::string, const Tensor*> values;
  for (const auto& [name, t] : graph.constants) {
    if (static_cast<int64_t>(t.is_float() ? t.f.size() : t.i.size()) != NumElements(t.shape)) {
      return FailedPrecondition("constant '{}' ({} {}) holds no data ({}; SessionOptions::keep_constants keeps a "
                                "session's weights, ImportOptions::defer_8bit_elements = 0 loads them at import)",
                                name, DTypeName(t.dtype), ShapeToString(t.shape),
                                t.deferred ? "deferred at import" : "released by a Session once copied into its oneDNN kernels");
    }
    values[name] = &t;
  }
  for (const auto& decl : graph.inputs) {
    auto it = inputs.find(decl.name);
    if (it == inputs.end()) return InvalidArgument("input '{}' is missing", decl.name);
    PF_RETURN_IF_ERROR(CheckInput(decl, it->second));
    values[decl.name] = &it->second;
  }
  TensorMap produced;
  for (const auto& node : graph.nodes) {
    const OpDef* def = FindOp(node.op_type);
    if (def == nullptr) return Unimplemented("{}: operator '{}' is not supported", node.Label(), node.op_type);
    std::vector<const Tensor*> ins;
    std::vector<TensorInfo> info_storage;
    info_storage.reserve(node.inputs.size());
    std::vector<const TensorInfo*> infos;
    for (const auto& name : node.inputs) {
      const Tensor* t = nullptr;
      if (!name.empty()) {
        auto it = values.find(name);
        if (it == values.end()) return Internal("{}: input '{}' was not computed", node.Label(), name);
        t = it->second;
      }
      ins.push_back(t);
      info_storage.push_back(t ? TensorInfo{t->dtype, t->shape, t} : TensorInfo{});
      infos.push_back(t ? &info_storage.back() : nullptr);
    }
    PF_ASSIGN_OR_RETURN(auto out_infos, def->infer(node, infos, graph.opset));
    for (const auto& info : out_infos) {
      if (CheckedNumElements(info.shape) < 0) {
        return ResourceExhausted("{}: output shape {} exceeds {} elements", node.Label(), ShapeToString(info.shape),
                                 kMaxElements);
      }
    }
    PF_ASSIGN_OR_RETURN(auto outs, def->run(node, ins, out_infos, graph.opset));
    for (size_t k = 0; k < node.outputs.size() && k < outs.size(); ++k) {
      if (outs[k].shape != out_infos[k].shape || outs[k].dtype != out_infos[k].dtype) {
        return Internal("{}: output {} is {} {}, shape inference said {} {}", node.Label(), k,
                        DTypeName(outs[k].dtype), ShapeToString(outs[k].shape), DTypeName(out_infos[k].dtype),
                        ShapeToString(out_infos[k].shape));
      }
      if (node.outputs[k].empty()) continue;
      auto [it, _] = produced.insert_or_assign(node.outputs[k], std::move(outs[k]));
      values[node.outputs[k]] = &it->second;
    }
  }
  TensorMap result;
  for (const auto& out : graph.outputs) {
    auto it = values.find(out.name);
    if (it == values.end()) return InvalidArgument("graph output '{}' was not computed", out.name);
    result[out.name] = *it->second;
  }
  return result;
}

}  // namespace pf::engine
