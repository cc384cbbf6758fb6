#include "engine/manifest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

namespace pf::engine {
namespace {

using Json = nlohmann::json;

// Reads one JSON object, remembering which keys were used so the unknown ones can be named.
class Obj {
 public:
  Obj(const Json& j, std::string path, const std::string& what) : j_(j), path_(std::move(path)), what_(what) {}

  static Result<Obj> Of(const Json& j, std::string path, const std::string& what) {
    if (!j.is_object()) return InvalidArgument("{}: '{}' must be an object", what, path);
    return Obj(j, std::move(path), what);
  }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const Json* Get(const std::string& key) {
    used_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  Status Missing(const std::string& key) const {
    return InvalidArgument("{}: required key '{}' is missing", what_, Path(key));
  }
  Status Type(const std::string& key, const char* want) const {
    return InvalidArgument("{}: '{}' must be {}", what_, Path(key), want);
  }
  Status Str(const std::string& key, std::string* out, bool required) {
    const Json* v = Get(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    if (!v->is_string()) return Type(key, "a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }
  Status Num(const std::string& key, double* out, bool required) {
    const Json* v = Get(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    if (!v->is_number()) return Type(key, "a number");
    *out = v->get<double>();
    if (!std::isfinite(*out)) return Type(key, "a finite number");
    return Status::Ok();
  }
  Status Int(const std::string& key, int64_t* out, bool required) {
    const Json* v = Get(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    if (!v->is_number_integer()) return Type(key, "an integer");
    *out = v->get<int64_t>();
    return Status::Ok();
  }
  template <typename T>
  Status Array(const std::string& key, std::vector<T>* out, const char* want) {
    const Json* v = Get(key);
    if (!v) return Status::Ok();
    if (!v->is_array()) return Type(key, want);
    for (size_t k = 0; k < v->size(); ++k) {
      const Json& e = (*v)[k];
      if constexpr (std::is_same_v<T, std::string>) {
        if (!e.is_string()) return Type(fmt::format("{}[{}]", key, k), "a string");
      } else if constexpr (std::is_integral_v<T>) {
        if (!e.is_number_integer()) return Type(fmt::format("{}[{}]", key, k), "an integer");
      } else {
        if (!e.is_number()) return Type(fmt::format("{}[{}]", key, k), "a number");
      }
      out->push_back(e.get<T>());
    }
    return Status::Ok();
  }
  Status NoUnknownKeys() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!used_.count(it.key())) return InvalidArgument("{}: unknown key '{}'", what_, Path(it.key()));
    }
    return Status::Ok();
  }
  // Elements of an array of objects.
  Result<std::vector<const Json*>> Objects(const std::string& key, bool required) {
    const Json* v = Get(key);
    std::vector<const Json*> out;
    if (!v) {
      if (required) return Missing(key);
      return out;
    }
    if (!v->is_array()) return Type(key, "an array of objects");
    for (const Json& e : *v) out.push_back(&e);
    return out;
  }

 private:
  const Json& j_;
  std::string path_;
  const std::string& what_;
  std::set<std::string> used_;
};

Result<ManifestInput> ParseInput(const Json& j, const std::string& path, const std::string& what) {
  PF_ASSIGN_OR_RETURN(Obj o, Obj::Of(j, path, what));
  ManifestInput in;
  PF_RETURN_IF_ERROR(o.Str("name", &in.name, true));
  if (!o.Get("shape")) return o.Missing("shape");
  PF_RETURN_IF_ERROR(o.Array("shape", &in.shape, "an array of integers"));
  for (size_t k = 0; k < in.shape.size(); ++k) {
    if (in.shape[k] < -1) return InvalidArgument("{}: '{}.shape[{}]' is {} (a size >= 0, or -1 for any)", what, path, k, in.shape[k]);
  }
  std::string dtype = "float";
  PF_RETURN_IF_ERROR(o.Str("dtype", &dtype, false));
  PF_ASSIGN_OR_RETURN(in.dtype, DTypeFromName(dtype, fmt::format("{}: '{}.dtype'", what, path)));
  PF_RETURN_IF_ERROR(o.Str("preprocessing", &in.preprocessing, false));
  if (const Json* n = o.Get("normalization")) {
    PF_ASSIGN_OR_RETURN(Obj no, Obj::Of(*n, o.Path("normalization"), what));
    PF_RETURN_IF_ERROR(no.Array("mean", &in.mean, "an array of numbers"));
    PF_RETURN_IF_ERROR(no.Array("std", &in.std, "an array of numbers"));
    PF_RETURN_IF_ERROR(no.Int("axis", &in.axis, false));
    PF_RETURN_IF_ERROR(no.NoUnknownKeys());
  }
  PF_RETURN_IF_ERROR(o.NoUnknownKeys());
  return in;
}

Result<ManifestOutput> ParseOutput(const Json& j, const std::string& path, const std::string& what) {
  PF_ASSIGN_OR_RETURN(Obj o, Obj::Of(j, path, what));
  ManifestOutput out;
  PF_RETURN_IF_ERROR(o.Str("name", &out.name, true));
  PF_RETURN_IF_ERROR(o.Str("meaning", &out.meaning, false));
  PF_RETURN_IF_ERROR(o.Array("class_names", &out.class_names, "an array of strings"));
  if (const Json* t = o.Get("thresholds")) {
    PF_ASSIGN_OR_RETURN(Obj to, Obj::Of(*t, o.Path("thresholds"), what));
    for (auto it = t->begin(); it != t->end(); ++it) {
      PF_RETURN_IF_ERROR(to.Num(it.key(), &out.thresholds[it.key()], true));
    }
  }
  PF_RETURN_IF_ERROR(o.NoUnknownKeys());
  return out;
}

Result<FeatureSummary> ParseSummary(const Json& j, const std::string& path, const std::string& what) {
  PF_ASSIGN_OR_RETURN(Obj o, Obj::Of(j, path, what));
  FeatureSummary s;
  PF_RETURN_IF_ERROR(o.Str("input", &s.input, true));
  PF_RETURN_IF_ERROR(o.Str("feature", &s.feature, true));
  PF_RETURN_IF_ERROR(o.Int("count", &s.count, true));
  for (auto [key, field] : {std::pair{"mean", &s.mean}, {"std", &s.std}, {"min", &s.min}, {"max", &s.max},
                            {"p01", &s.p01}, {"p50", &s.p50}, {"p99", &s.p99}}) {
    PF_RETURN_IF_ERROR(o.Num(key, field, true));
  }
  PF_RETURN_IF_ERROR(o.NoUnknownKeys());
  return s;
}

std::string Hex(const unsigned char* p, size_t n) {
  std::string s;
  for (size_t k = 0; k < n; ++k) s += fmt::format("{:02x}", p[k]);
  return s;
}

bool ShapeAccepts(const Shape& model, const Shape& manifest) {
  if (model.size() != manifest.size()) return false;
  for (size_t k = 0; k < model.size(); ++k) {
    if (model[k] >= 0 && manifest[k] != model[k]) return false;
  }
  return true;
}

}  // namespace

Result<DType> DTypeFromName(const std::string& name, const std::string& what) {
  for (DType t : {DType::kFloat, DType::kInt64, DType::kInt32, DType::kUint8, DType::kInt8, DType::kBool}) {
    if (DTypeName(t) == name) return t;
  }
  if (name == "float32") return DType::kFloat;
  return InvalidArgument("{}: dtype '{}' is not one of float, int64, int32, uint8, int8, bool", what, name);
}

Result<Manifest> ParseManifest(std::string_view json, const std::string& what) {
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Re-parse with exceptions only to get nlohmann's byte position for the message.
    try {
      (void)Json::parse(json.begin(), json.end());
    } catch (const Json::exception& e) {  // parse_error (line and column), out_of_range (a number too large)
      return InvalidArgument("{}: not valid JSON: {}", what, e.what());
    }
    return InvalidArgument("{}: not valid JSON", what);
  }
  PF_ASSIGN_OR_RETURN(Obj o, Obj::Of(j, "", what));
  Manifest m;
  m.present = true;
  int64_t version = 0;
  PF_RETURN_IF_ERROR(o.Int("manifest_version", &version, true));
  if (version != kManifestVersion) {
    return InvalidArgument("{}: 'manifest_version' {} is not supported (this build reads {})", what, version,
                           kManifestVersion);
  }
  m.manifest_version = static_cast<int>(version);
  PF_RETURN_IF_ERROR(o.Str("name", &m.name, true));
  PF_RETURN_IF_ERROR(o.Str("version", &m.version, true));
  PF_RETURN_IF_ERROR(o.Str("model_sha256", &m.model_sha256, true));
  PF_ASSIGN_OR_RETURN(auto inputs, o.Objects("inputs", true));
  for (size_t k = 0; k < inputs.size(); ++k) {
    PF_ASSIGN_OR_RETURN(ManifestInput in, ParseInput(*inputs[k], fmt::format("inputs[{}]", k), what));
    m.inputs.push_back(std::move(in));
  }
  PF_ASSIGN_OR_RETURN(auto outputs, o.Objects("outputs", true));
  for (size_t k = 0; k < outputs.size(); ++k) {
    PF_ASSIGN_OR_RETURN(ManifestOutput out, ParseOutput(*outputs[k], fmt::format("outputs[{}]", k), what));
    m.outputs.push_back(std::move(out));
  }
  PF_ASSIGN_OR_RETURN(auto summaries, o.Objects("training_data", false));
  for (size_t k = 0; k < summaries.size(); ++k) {
    PF_ASSIGN_OR_RETURN(FeatureSummary s, ParseSummary(*summaries[k], fmt::format("training_data[{}]", k), what));
    m.training_data.push_back(std::move(s));
  }
  PF_RETURN_IF_ERROR(o.NoUnknownKeys());
  return m;
}

std::string ManifestToJson(const Manifest& m, int indent) {
  Json j;
  j["manifest_version"] = m.manifest_version;
  j["name"] = m.name;
  j["version"] = m.version;
  j["model_sha256"] = m.model_sha256;
  j["inputs"] = Json::array();
  for (const auto& in : m.inputs) {
    Json e{{"name", in.name}, {"shape", in.shape}, {"dtype", std::string(DTypeName(in.dtype))}};
    if (!in.mean.empty() || !in.std.empty()) e["normalization"] = {{"mean", in.mean}, {"std", in.std}, {"axis", in.axis}};
    if (!in.preprocessing.empty()) e["preprocessing"] = in.preprocessing;
    j["inputs"].push_back(std::move(e));
  }
  j["outputs"] = Json::array();
  for (const auto& out : m.outputs) {
    Json e{{"name", out.name}};
    if (!out.meaning.empty()) e["meaning"] = out.meaning;
    if (!out.class_names.empty()) e["class_names"] = out.class_names;
    if (!out.thresholds.empty()) e["thresholds"] = out.thresholds;
    j["outputs"].push_back(std::move(e));
  }
  if (!m.training_data.empty()) {
    j["training_data"] = Json::array();
    for (const auto& s : m.training_data) {
      j["training_data"].push_back({{"input", s.input}, {"feature", s.feature}, {"count", s.count}, {"mean", s.mean},
                                    {"std", s.std}, {"min", s.min}, {"max", s.max}, {"p01", s.p01}, {"p50", s.p50},
                                    {"p99", s.p99}});
    }
  }
  return j.dump(indent);
}

Status ValidateManifest(const Manifest& m, const std::vector<ValueInfo>& model_inputs,
                        const std::vector<ValueInfo>& model_outputs, const std::string& model_sha256) {
  if (m.model_sha256 != model_sha256) {
    return InvalidArgument("manifest 'model_sha256' {} does not match the model's hash {}",
                           m.model_sha256.empty() ? "(empty)" : m.model_sha256, model_sha256);
  }
  std::map<std::string, const ManifestInput*> by_name;
  for (size_t k = 0; k < m.inputs.size(); ++k) {
    const ManifestInput& in = m.inputs[k];
    const std::string f = fmt::format("manifest 'inputs[{}]' ('{}')", k, in.name);
    if (!by_name.emplace(in.name, &in).second) return InvalidArgument("{}: input described twice", f);
    auto it = std::find_if(model_inputs.begin(), model_inputs.end(), [&](const ValueInfo& v) { return v.name == in.name; });
    if (it == model_inputs.end()) return InvalidArgument("{}.name: the model has no input '{}'", f, in.name);
    if (it->dtype != in.dtype) {
      return InvalidArgument("{}.dtype {} does not match the model's declared input dtype {}", f, DTypeName(in.dtype),
                             DTypeName(it->dtype));
    }
    if (!it->shape.empty() && !ShapeAccepts(it->shape, in.shape)) {
      return InvalidArgument("{}.shape {} does not match the model's declared input shape {}", f,
                             ShapeToString(in.shape), ShapeToString(it->shape));
    }
    if (in.mean.size() != in.std.size()) {
      return InvalidArgument("{}.normalization: mean has {} values but std has {}", f, in.mean.size(), in.std.size());
    }
    if (!in.mean.empty()) {
      if (in.axis < 0 || in.axis >= static_cast<int64_t>(in.shape.size())) {
        return InvalidArgument("{}.normalization.axis {} is outside the input's rank {}", f, in.axis, in.shape.size());
      }
      const int64_t channels = in.shape[in.axis];
      if (channels >= 0 && static_cast<int64_t>(in.mean.size()) != channels && in.mean.size() != 1) {
        return InvalidArgument("{}.normalization: {} mean/std values for {} channels on axis {}", f, in.mean.size(),
                               channels, in.axis);
      }
      for (size_t c = 0; c < in.std.size(); ++c) {
        if (!(in.std[c] > 0)) return InvalidArgument("{}.normalization.std[{}] is {} (must be > 0)", f, c, in.std[c]);
      }
    }
  }
  for (const ValueInfo& v : model_inputs) {
    if (!by_name.count(v.name)) return InvalidArgument("manifest 'inputs': the model's input '{}' is not described", v.name);
  }
  std::set<std::string> outs;
  for (size_t k = 0; k < m.outputs.size(); ++k) {
    const ManifestOutput& out = m.outputs[k];
    const std::string f = fmt::format("manifest 'outputs[{}]' ('{}')", k, out.name);
    if (!outs.insert(out.name).second) return InvalidArgument("{}: output described twice", f);
    auto it = std::find_if(model_outputs.begin(), model_outputs.end(), [&](const ValueInfo& v) { return v.name == out.name; });
    if (it == model_outputs.end()) return InvalidArgument("{}.name: the model has no output '{}'", f, out.name);
    const int64_t last = it->shape.empty() ? -1 : it->shape.back();
    if (!out.class_names.empty() && last >= 0 && static_cast<int64_t>(out.class_names.size()) != last) {
      return InvalidArgument("{}.class_names: {} names but the output's last dimension is {}", f,
                             out.class_names.size(), last);
    }
  }
  for (const ValueInfo& v : model_outputs) {
    if (!outs.count(v.name)) return InvalidArgument("manifest 'outputs': the model's output '{}' is not described", v.name);
  }
  for (size_t k = 0; k < m.training_data.size(); ++k) {
    const FeatureSummary& s = m.training_data[k];
    const std::string f = fmt::format("manifest 'training_data[{}]' ('{}' of '{}')", k, s.feature, s.input);
    if (!by_name.count(s.input)) return InvalidArgument("{}.input: no manifest input '{}'", f, s.input);
    if (s.count <= 0) return InvalidArgument("{}.count is {} (must be > 0)", f, s.count);
    if (s.std < 0) return InvalidArgument("{}.std is {} (must be >= 0)", f, s.std);
    if (!(s.min <= s.p01 && s.p01 <= s.p50 && s.p50 <= s.p99 && s.p99 <= s.max)) {
      return InvalidArgument("{}: min {} <= p01 {} <= p50 {} <= p99 {} <= max {} does not hold", f, s.min, s.p01,
                             s.p50, s.p99, s.max);
    }
    if (s.mean < s.min || s.mean > s.max) {
      return InvalidArgument("{}.mean {} is outside [min {}, max {}]", f, s.mean, s.min, s.max);
    }
  }
  return Status::Ok();
}

Manifest ManifestFromModel(const std::string& name, const std::vector<ValueInfo>& inputs,
                           const std::vector<ValueInfo>& outputs, const std::string& model_sha256) {
  Manifest m;
  m.name = name;
  m.model_sha256 = model_sha256;
  for (const auto& v : inputs) m.inputs.push_back({v.name, v.shape, v.dtype, {}, {}, 1, ""});
  for (const auto& v : outputs) m.outputs.push_back({v.name, "", {}, {}});
  return m;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

Result<std::string_view> OnnxGraphBytes(std::string_view b) {
  size_t pos = 0;
  auto varint = [&](uint64_t* v) -> bool {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= b.size()) return false;
      const uint8_t c = static_cast<uint8_t>(b[pos++]);
      *v |= uint64_t{c & 0x7fu} << shift;
      if (!(c & 0x80)) return true;
    }
    return false;
  };
  std::optional<std::string_view> graph;
  while (pos < b.size()) {
    const size_t at = pos;
    uint64_t key = 0, v = 0;
    if (!varint(&key)) return InvalidArgument("not an ONNX model: byte {}: truncated field key", at);
    const uint64_t field = key >> 3;
    switch (key & 7) {
      case 0:
        if (!varint(&v)) return InvalidArgument("not an ONNX model: byte {}: truncated varint", at);
        break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2: {
        if (!varint(&v) || v > b.size() - pos) {
          return InvalidArgument("not an ONNX model: byte {}: field {} length runs past the end", at, field);
        }
        if (field == 7) graph = b.substr(pos, v);  // the last occurrence wins, as protobuf merges
        pos += v;
        break;
      }
      default: return InvalidArgument("not an ONNX model: byte {}: wire type {} is not valid here", at, key & 7);
    }
    if (pos > b.size()) return InvalidArgument("not an ONNX model: byte {}: field {} runs past the end", at, field);
  }
  if (!graph) return InvalidArgument("not an ONNX model: no graph field");
  return *graph;
}

Result<std::string> OnnxModelHash(std::string_view model_bytes) {
  PF_ASSIGN_OR_RETURN(std::string_view g, OnnxGraphBytes(model_bytes));
  return Sha256Hex(g);
}

}  // namespace pf::engine
