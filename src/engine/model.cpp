#include "engine/model.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/file.h"
#include "engine/npy.h"
#include "engine/onnx_import.h"

namespace pf::engine {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Stem(const std::string& what) { return std::filesystem::path(what).stem().string(); }

// Loads and validates the manifest, or describes the model when it has none.
Result<Manifest> ResolveManifest(const std::optional<std::string>& json, const std::string& source,
                                 const std::string& what, const std::vector<ValueInfo>& inputs,
                                 const std::vector<ValueInfo>& outputs, const std::string& hash,
                                 const ModelOptions& options) {
  if (!json) {
    if (options.require_manifest) return FailedPrecondition("{}: no manifest ({})", what, source);
    return ManifestFromModel(Stem(what), inputs, outputs, hash);
  }
  PF_ASSIGN_OR_RETURN(Manifest m, ParseManifest(*json, source));
  PF_RETURN_IF_ERROR_CTX(ValidateManifest(m, inputs, outputs, hash), "{}", what);
  return m;
}

RunResult Timed(TensorMap outputs, std::chrono::steady_clock::time_point start,
                std::optional<std::chrono::nanoseconds> deadline) {
  RunResult r;
  const auto took = std::chrono::steady_clock::now() - start;
  r.outputs = std::move(outputs);
  r.latency_ms = std::chrono::duration<double, std::milli>(took).count();
  r.late = deadline && took > *deadline;
  return r;
}

}  // namespace

Model::~Model() = default;

Status CheckModelInputs(const std::vector<ValueInfo>& declared, const TensorMap& inputs) {
  std::set<std::string> names;
  for (const ValueInfo& v : declared) {
    names.insert(v.name);
    auto it = inputs.find(v.name);
    if (it == inputs.end()) return InvalidArgument("model input '{}' is missing", v.name);
    PF_RETURN_IF_ERROR(CheckTensorForInput(it->second, v, fmt::format("input '{}'", v.name)));
  }
  for (const auto& [name, t] : inputs) {
    if (!names.count(name)) return InvalidArgument("input '{}' is not an input of the model", name);
  }
  return Status::Ok();
}

// --- ONNX -----------------------------------------------------------------------------------

Result<std::unique_ptr<OnnxModel>> OnnxModel::Load(std::string_view bytes, const std::string& what,
                                                   const ModelOptions& options) {
  std::unique_ptr<OnnxModel> m(new OnnxModel());
  // The metadata and the hash parse the model too: first, while nothing else is held (peak memory).
  auto metadata = LoadModelMetadata(bytes);
  if (!metadata.ok()) return metadata.status().WithContext(what);
  Result<std::string> hash = OnnxModelHash(bytes);
  if (!hash.ok()) return hash.status().WithContext(what);
  // 8-bit weights stay bytes until the session's kernels take them (see ImportOptions).
  ImportOptions io;
  io.defer_8bit_elements = kDeferWeightElements;
  Result<Graph> g = LoadModelFromBytes(bytes, io);
  if (!g.ok()) return g.status().WithContext(what);
  std::optional<std::string> json;
  if (auto it = metadata->find(kManifestMetadataKey); it != metadata->end()) json = it->second;
  PF_ASSIGN_OR_RETURN(m->manifest_, ResolveManifest(json, fmt::format("{}: metadata '{}'", what, kManifestMetadataKey),
                                                    what, g->inputs, g->outputs, *hash, options));
  SessionOptions so;
  so.threads = options.threads;
  so.optimize = options.optimize;
  so.use_dnnl = options.use_dnnl;
  so.model_name = m->manifest_.name;
  so.metrics = options.metrics;
  so.profile = options.profile;
  Result<std::unique_ptr<Session>> s = Session::Create(std::move(g).value(), so);
  if (!s.ok()) return s.status().WithContext(what);
  m->session_ = std::move(s).value();
  return m;
}

OnnxModel::~OnnxModel() = default;

Result<RunResult> OnnxModel::Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline) {
  PF_RETURN_IF_ERROR(CheckModelInputs(session_->inputs(), inputs));
  return session_->Run(inputs, deadline);
}

std::vector<std::string> OnnxModel::NodeKernels() const {
  return session_->NodeKernels();
}

const std::vector<ValueInfo>& OnnxModel::inputs() const { return session_->inputs(); }
const std::vector<ValueInfo>& OnnxModel::outputs() const { return session_->outputs(); }
const Graph& OnnxModel::running_graph() const { return session_->graph(); }

// --- XGBoost --------------------------------------------------------------------------------

Result<std::unique_ptr<XgboostModel>> XgboostModel::Load(std::string_view bytes, const std::string& path,
                                                         const ModelOptions& options) {
  std::unique_ptr<XgboostModel> m(new XgboostModel());
  TreeModelOptions to;
  to.threads = options.threads;
  to.margin = options.margin;
  PF_ASSIGN_OR_RETURN(m->tree_, TreeModel::LoadFromBytes(bytes, to, path));
  const std::string manifest_path = path + ".manifest.json";
  std::optional<std::string> json;
  if (std::filesystem::exists(manifest_path)) {
    PF_ASSIGN_OR_RETURN(std::string text, ReadFileBytes(manifest_path));
    json = std::move(text);
  }
  std::string in_name = "features", out_name = "scores";
  if (json) {
    // Names come from the manifest; ValidateManifest then checks everything else against the model.
    PF_ASSIGN_OR_RETURN(Manifest pre, ParseManifest(*json, manifest_path));
    if (pre.inputs.size() == 1) in_name = pre.inputs[0].name;
    if (pre.outputs.size() == 1) out_name = pre.outputs[0].name;
  }
  m->inputs_ = {{in_name, DType::kFloat, {-1, m->tree_->num_features()}}};
  m->outputs_ = {{out_name, DType::kFloat, {-1, m->tree_->outputs_per_row()}}};
  PF_ASSIGN_OR_RETURN(m->manifest_, ResolveManifest(json, manifest_path, path, m->inputs_, m->outputs_,
                                                    Sha256Hex(bytes), options));
  return m;
}

Result<RunResult> XgboostModel::Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline) {
  const auto start = std::chrono::steady_clock::now();
  if (inputs.size() != 1 || inputs.begin()->first != inputs_[0].name) {
    return InvalidArgument("tree model takes exactly one input '{}' ({} given{})", inputs_[0].name, inputs.size(),
                           inputs.empty() ? "" : fmt::format(", first '{}'", inputs.begin()->first));
  }
  const Tensor& x = inputs.begin()->second;
  if (x.shape.size() != 1) PF_RETURN_IF_ERROR(CheckTensorForInput(x, inputs_[0], fmt::format("input '{}'", inputs_[0].name)));
  PF_ASSIGN_OR_RETURN(Tensor y, tree_->Predict(x));
  TensorMap out;
  out.emplace(outputs_[0].name, std::move(y));
  return Timed(std::move(out), start, deadline);
}

// --- loading --------------------------------------------------------------------------------

Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const ModelOptions& options) {
  PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  const bool onnx_ext = EndsWith(path, ".onnx");
  const bool tree_ext = EndsWith(path, ".json") || EndsWith(path, ".ubj");
  if (tree_ext || (!onnx_ext && LooksLikeXgboostModel(bytes))) {
    PF_ASSIGN_OR_RETURN(auto m, XgboostModel::Load(bytes, path, options));
    return std::unique_ptr<Model>(std::move(m));
  }
  PF_ASSIGN_OR_RETURN(auto m, OnnxModel::Load(bytes, path, options));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace pf::engine
