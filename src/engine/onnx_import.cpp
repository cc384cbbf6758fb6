#include "engine/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "engine/manifest.h"
#include "engine/ops.h"

namespace pf::engine {
namespace {

Result<DType> DTypeFromProto(int32_t t, const std::string& what) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kFloat;
    case onnx::TensorProto::INT64: return DType::kInt64;
    case onnx::TensorProto::INT32: return DType::kInt32;
    case onnx::TensorProto::UINT8: return DType::kUint8;
    case onnx::TensorProto::INT8: return DType::kInt8;
    case onnx::TensorProto::BOOL: return DType::kBool;
    default: return Unimplemented("{}: tensor element type {} is not supported "
                                  "(float, int64, int32, uint8, int8, bool)", what, t);
  }
}

size_t ElementBytes(DType t) {
  switch (t) {
    case DType::kFloat: case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    default: return 1;
  }
}

Status SizeMismatch(const std::string& what, const Shape& shape, int64_t expected, size_t got, const char* field) {
  return InvalidArgument("{}: shape {} needs {} elements but {} holds {}", what, ShapeToString(shape), expected,
                         field, got);
}

// A tensor's dtype and shape from its header (no elements), checked: inline data, a supported type,
// dimensions >= 0, at most kMaxElements elements.
Result<Tensor> TensorHeader(const onnx::TensorProto& p, const std::string& what) {
  if (p.data_location() == onnx::TensorProto::EXTERNAL || p.external_data_size() > 0) {
    return Unimplemented("{}: external tensor data is not supported", what);
  }
  Tensor t;
  PF_ASSIGN_OR_RETURN(t.dtype, DTypeFromProto(p.data_type(), what));
  for (int64_t d : p.dims()) {
    if (d < 0) return InvalidArgument("{}: negative dimension {}", what, d);
    t.shape.push_back(d);
  }
  if (CheckedNumElements(t.shape) < 0) {
    return InvalidArgument("{}: shape {} has more than {} elements", what, ShapeToString(t.shape), kMaxElements);
  }
  return t;
}

Result<Tensor> TensorFromProto(const onnx::TensorProto& p, const std::string& what) {
  PF_ASSIGN_OR_RETURN(Tensor t, TensorHeader(p, what));
  const int64_t n = NumElements(t.shape);
  // Sizes are checked before anything is allocated, so a lying header cannot exhaust memory.
  const int64_t given = p.has_raw_data() ? static_cast<int64_t>(p.raw_data().size() / ElementBytes(t.dtype))
                        : t.is_float() ? p.float_data_size()
                        : t.dtype == DType::kInt64 ? p.int64_data_size() : p.int32_data_size();
  if (given == n) {
    if (t.is_float()) t.f.resize(n); else t.i.resize(n);
  }
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    const size_t eb = ElementBytes(t.dtype);
    if (raw.size() != static_cast<size_t>(n) * eb) {
      return InvalidArgument("{}: shape {} of {} needs {} bytes but raw_data holds {}", what,
                             ShapeToString(t.shape), DTypeName(t.dtype), n * eb, raw.size());
    }
    const char* b = raw.data();
    for (int64_t k = 0; k < n; ++k) {
      const char* e = b + k * eb;
      switch (t.dtype) {
        case DType::kFloat: { float v; std::memcpy(&v, e, 4); t.f[k] = v; break; }
        case DType::kInt32: { int32_t v; std::memcpy(&v, e, 4); t.i[k] = v; break; }
        case DType::kInt64: { int64_t v; std::memcpy(&v, e, 8); t.i[k] = v; break; }
        case DType::kUint8: t.i[k] = static_cast<uint8_t>(*e); break;
        case DType::kInt8: t.i[k] = static_cast<int8_t>(*e); break;
        case DType::kBool: t.i[k] = *e != 0; break;
      }
    }
    return t;
  }
  switch (t.dtype) {
    case DType::kFloat:
      if (p.float_data_size() != n) return SizeMismatch(what, t.shape, n, p.float_data_size(), "float_data");
      for (int64_t k = 0; k < n; ++k) t.f[k] = p.float_data(k);
      break;
    case DType::kInt64:
      if (p.int64_data_size() != n) return SizeMismatch(what, t.shape, n, p.int64_data_size(), "int64_data");
      for (int64_t k = 0; k < n; ++k) t.i[k] = p.int64_data(k);
      break;
    default:
      if (p.int32_data_size() != n) return SizeMismatch(what, t.shape, n, p.int32_data_size(), "int32_data");
      for (int64_t k = 0; k < n; ++k) {
        int64_t v = p.int32_data(k);
        if (t.dtype == DType::kUint8) v = static_cast<uint8_t>(v);
        if (t.dtype == DType::kInt8) v = static_cast<int8_t>(v);
        if (t.dtype == DType::kBool) v = v != 0;
        t.i[k] = v;
      }
  }
  return t;
}

// An 8-bit tensor's dtype and shape without its elements (deferred = true), after the same checks
// of the header and the data size that TensorFromProto makes, so a later load cannot fail on them.
// Not deferred (returned for TensorFromProto to convert) when its data is not in raw_data.
Result<Tensor> DeferredTensor(const onnx::TensorProto& p, const std::string& what) {
  PF_ASSIGN_OR_RETURN(Tensor t, TensorHeader(p, what));
  const int64_t n = NumElements(t.shape);
  if (!p.has_raw_data()) return t;
  if (p.raw_data().size() != static_cast<size_t>(n)) {
    return InvalidArgument("{}: shape {} of {} needs {} bytes but raw_data holds {}", what, ShapeToString(t.shape),
                           DTypeName(t.dtype), n, p.raw_data().size());
  }
  t.deferred = true;
  return t;
}

Result<Attribute> AttributeFromProto(const onnx::AttributeProto& a, const std::string& what) {
  Attribute r;
  switch (a.type()) {
    case onnx::AttributeProto::INT: r.kind = Attribute::Kind::kInt; r.i = a.i(); break;
    case onnx::AttributeProto::FLOAT: r.kind = Attribute::Kind::kFloat; r.f = a.f(); break;
    case onnx::AttributeProto::STRING: r.kind = Attribute::Kind::kString; r.s = a.s(); break;
    case onnx::AttributeProto::INTS:
      r.kind = Attribute::Kind::kInts;
      r.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      r.kind = Attribute::Kind::kFloats;
      r.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::TENSOR: {
      r.kind = Attribute::Kind::kTensor;
      PF_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(a.t(), what));
      r.t = std::move(t);
      break;
    }
    default: return Unimplemented("{}: attribute type {} is not supported", what, static_cast<int>(a.type()));
  }
  return r;
}

// A Constant node's value as a tensor (value, value_float(s), value_int(s)).
Result<Tensor> ConstantValue(const Node& node) {
  if (node.Has("value")) return *node.attrs.at("value").t;
  if (node.Has("value_float")) return Tensor::Float({}, {node.Float("value_float", 0)});
  if (node.Has("value_floats")) {
    const auto& v = node.attrs.at("value_floats").floats;
    return Tensor::Float({static_cast<int64_t>(v.size())}, v);
  }
  if (node.Has("value_int")) return Tensor::Int(DType::kInt64, {}, {node.Int("value_int", 0)});
  if (node.Has("value_ints")) {
    auto v = node.Ints("value_ints");
    Tensor t = Tensor::Int(DType::kInt64, {static_cast<int64_t>(v.size())}, v);
    if (v.empty()) t.i.clear();
    return t;
  }
  return Unimplemented("{}: only value, value_float(s) and value_int(s) constants are supported", node.Label());
}

Result<ValueInfo> ValueInfoFromProto(const onnx::ValueInfoProto& v) {
  ValueInfo info;
  info.name = v.name();
  const std::string what = fmt::format("graph value '{}'", v.name());
  if (!v.type().has_tensor_type()) return Unimplemented("{}: only tensor values are supported", what);
  const auto& tt = v.type().tensor_type();
  PF_ASSIGN_OR_RETURN(info.dtype, DTypeFromProto(tt.elem_type(), what));
  if (tt.has_shape()) {
    for (const auto& d : tt.shape().dim()) info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return info;
}

Status CheckOpset(const onnx::ModelProto& m, Graph* g) {
  for (const auto& os : m.opset_import()) {
    if (os.domain().empty() || os.domain() == "ai.onnx") g->opset = os.version();
  }
  if (g->opset == 0) return Unimplemented("the model imports no opset of domain '' (only that domain is supported)");
  if (g->opset < kMinOpset || g->opset > kMaxOpset) {
    return Unimplemented("opset {} of domain '' is not supported ({}-{})", g->opset, kMinOpset, kMaxOpset);
  }
  return Status::Ok();
}

}  // namespace

Result<Graph> LoadModelFromBytes(std::string_view bytes, const ImportOptions& options) {
  onnx::ModelProto m;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("not an ONNX model: protobuf ModelProto parse failed ({} bytes)", bytes.size());
  }
  if (!m.has_graph()) return InvalidArgument("not an ONNX model: no graph");
  Graph g;
  PF_RETURN_IF_ERROR(CheckOpset(m, &g));
  const auto& gp = m.graph();
  // Deferred initializers move into a store the graph's loader shares (the rest of the proto is
  // freed on return).
  auto store = std::make_shared<std::map<std::string, onnx::TensorProto>>();
  for (auto& init : *m.mutable_graph()->mutable_initializer()) {
    if (init.name().empty()) return InvalidArgument("an initializer has no name");
    const std::string what = fmt::format("initializer '{}'", init.name());
    if (options.defer_8bit_elements > 0 &&
        (init.data_type() == onnx::TensorProto::UINT8 || init.data_type() == onnx::TensorProto::INT8)) {
      PF_ASSIGN_OR_RETURN(Tensor t, DeferredTensor(init, what));
      if (t.deferred && t.size() >= options.defer_8bit_elements) {
        g.constants[init.name()] = std::move(t);
        (*store)[init.name()].Swap(&init);
        continue;
      }
    }
    PF_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(init, what));
    g.constants[init.name()] = std::move(t);
  }
  if (!store->empty()) {
    g.load_deferred = [store](const std::string& name) -> Result<Tensor> {
      auto it = store->find(name);
      if (it == store->end()) return NotFound("deferred constant '{}' is not in the store", name);
      return TensorFromProto(it->second, fmt::format("initializer '{}'", name));
    };
  }
  for (const auto& in : gp.input()) {
    if (g.constants.count(in.name())) continue;  // IR < 4 lists initializers as inputs too
    PF_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(in));
    g.inputs.push_back(std::move(info));
  }
  for (const auto& out : gp.output()) {
    PF_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(out));
    g.outputs.push_back(std::move(info));
  }
  for (const auto& np : gp.node()) {
    Node node;
    node.name = np.name();
    node.op_type = np.op_type();
    node.inputs.assign(np.input().begin(), np.input().end());
    node.outputs.assign(np.output().begin(), np.output().end());
    if (!np.domain().empty() && np.domain() != "ai.onnx") {
      return Unimplemented("{}: operator domain '{}' is not supported", node.Label(), np.domain());
    }
    for (const auto& a : np.attribute()) {
      PF_ASSIGN_OR_RETURN(node.attrs[a.name()],
                          AttributeFromProto(a, fmt::format("{}: attribute '{}'", node.Label(), a.name())));
    }
    if (node.op_type == "Constant") {
      if (node.outputs.size() != 1) return InvalidArgument("{}: needs exactly one output", node.Label());
      PF_ASSIGN_OR_RETURN(Tensor t, ConstantValue(node));
      g.constants[node.outputs[0]] = std::move(t);
      continue;
    }
    if (options.require_supported_ops && !IsSupportedOp(node.op_type)) {
      return Unimplemented("{}: operator '{}' is not supported", node.Label(), node.op_type);
    }
    g.nodes.push_back(std::move(node));
  }
  PF_RETURN_IF_ERROR(g.SortTopologically());
  for (const auto& out : g.outputs) {
    bool produced = g.constants.count(out.name) > 0;
    for (const auto& in : g.inputs) produced = produced || in.name == out.name;
    for (const auto& n : g.nodes) {
      for (const auto& o : n.outputs) produced = produced || o == out.name;
    }
    if (!produced) return InvalidArgument("graph output '{}' is not produced by any node, input or initializer", out.name);
  }
  return g;
}

Result<std::map<std::string, std::string>> LoadModelMetadata(std::string_view bytes) {
  onnx::ModelProto m;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("not an ONNX model: protobuf ModelProto parse failed ({} bytes)", bytes.size());
  }
  std::map<std::string, std::string> out;
  for (const auto& p : m.metadata_props()) {
    if (!out.emplace(p.key(), p.value()).second) return InvalidArgument("metadata_props key '{}' is given twice", p.key());
  }
  return out;
}

Result<Graph> LoadModelFromFile(const std::string& path, const ImportOptions& options) {
  PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  Result<Graph> g = LoadModelFromBytes(bytes, options);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

Result<std::string> SerializeRewrittenModel(onnx::ModelProto& m, const std::string& tool) {
  m.set_producer_name("plantfloor " + tool);
  for (auto& p : *m.mutable_metadata_props()) {
    if (p.key() != kManifestMetadataKey) continue;
    auto j = nlohmann::json::parse(p.value(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument("metadata '{}' is not a JSON object", kManifestMetadataKey);
    j["model_sha256"] = Sha256Hex(m.graph().SerializeAsString());
    p.set_value(j.dump());
  }
  std::string out = m.SerializeAsString();
  auto check = LoadModelFromBytes(out);
  if (!check.ok()) return Internal("the model written by {} does not load: {}", tool, check.status().ToString());
  return out;
}

Result<Tensor> LoadTensorFromBytes(std::string_view bytes, const std::string& what) {
  onnx::TensorProto p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("{}: not a serialized TensorProto", what);
  }
  return TensorFromProto(p, what);
}

Result<Tensor> LoadTensorFromFile(const std::string& path) {
  PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  return LoadTensorFromBytes(bytes, path);
}

}  // namespace pf::engine
