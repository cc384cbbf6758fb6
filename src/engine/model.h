#pragma once
// The common model interface: what apps and the CLI hold, whatever the model's kind ("onnx": an ONNX
// graph run by engine::Session; "xgboost": a tree model run by the XGBoost C API), with its
// manifest (engine/manifest.h) read and validated at load.
//
// LoadModel(path) picks the kind by extension (.onnx; .json / .ubj) and otherwise by content (an
// XGBoost JSON/UBJSON object, else ONNX protobuf). The manifest comes from ONNX metadata_props
// "pf.manifest" or from "<path>.manifest.json" beside a tree model; a model without one gets
// ManifestFromModel() (present == false), or an error when ModelOptions::require_manifest.
// A manifest that does not match the model (hash, input names/dtypes/shapes, outputs) is an error
// naming the field.
//
// Run(inputs, deadline): inputs must be exactly inputs() by name, each with the input's dtype and
// a shape that fits (-1: any size); else kInvalidArgument naming the input and both dtypes/shapes.
// The run is never cut short: past the deadline the result is marked late.
// Tree models take one float input [rows, features] (or [features]) and give one float output
// [rows, outputs_per_row]; their input/output names come from the manifest ("features" and
// "scores" without one).
//
// Thread-safety: one Run() at a time per Model; distinct Models are independent.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/graph.h"
#include "engine/interpreter.h"
#include "engine/manifest.h"
#include "engine/session.h"
#include "engine/tree_model.h"

namespace pf::engine {

struct ModelOptions {
  int threads = 1;
  bool optimize = true;   // ONNX: graph passes
  bool use_dnnl = true;   // ONNX: oneDNN kernels for the heavy ops
  bool margin = false;    // XGBoost: raw margins instead of probabilities
  bool require_manifest = false;
  // ONNX: the Session's latency histogram and run/late counters, labelled with the manifest's
  // name (engine/session.h). Optional; must outlive the Model.
  MetricsRegistry* metrics = nullptr;
  bool profile = false;  // ONNX: time every node (OnnxModel::session().node_time_ms())
};

class Model {
 public:
  virtual ~Model();
  virtual const Manifest& manifest() const = 0;
  virtual const std::vector<ValueInfo>& inputs() const = 0;
  virtual const std::vector<ValueInfo>& outputs() const = 0;
  virtual Result<RunResult> Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline = {}) = 0;
  virtual std::string kind() const = 0;  // "onnx" | "xgboost"
};

// An ONNX model, run by an engine::Session (the imported graph moves into it: weights are held once).
class OnnxModel : public Model {
 public:
  static Result<std::unique_ptr<OnnxModel>> Load(std::string_view bytes, const std::string& what,
                                                 const ModelOptions& options);
  ~OnnxModel() override;
  const Manifest& manifest() const override { return manifest_; }
  // The Session's inputs/outputs: static shapes (an unknown dimension is fixed to 1 there).
  const std::vector<ValueInfo>& inputs() const override;
  const std::vector<ValueInfo>& outputs() const override;
  Result<RunResult> Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline = {}) override;
  std::string kind() const override { return "onnx"; }
  // Per node of the optimized graph: "dnnl:conv_int8", "ref:Softmax"...
  std::vector<std::string> NodeKernels() const;
  // The graph that runs (after the passes unless ModelOptions::optimize is off).
  const Graph& running_graph() const;
  const Session& session() const { return *session_; }

 private:
  OnnxModel() = default;
  Manifest manifest_;
  std::unique_ptr<Session> session_;
};

// An XGBoost model behind the Model interface.
class XgboostModel : public Model {
 public:
  static Result<std::unique_ptr<XgboostModel>> Load(std::string_view bytes, const std::string& path,
                                                    const ModelOptions& options);
  const Manifest& manifest() const override { return manifest_; }
  const std::vector<ValueInfo>& inputs() const override { return inputs_; }
  const std::vector<ValueInfo>& outputs() const override { return outputs_; }
  Result<RunResult> Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline = {}) override;
  std::string kind() const override { return "xgboost"; }
  const TreeModel& tree() const { return *tree_; }

 private:
  XgboostModel() = default;
  std::unique_ptr<TreeModel> tree_;
  Manifest manifest_;
  std::vector<ValueInfo> inputs_, outputs_;
};

Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const ModelOptions& options = {});

// Every input present with the right dtype and shape, no unknown names (see Run above).
Status CheckModelInputs(const std::vector<ValueInfo>& declared, const TensorMap& inputs);

}  // namespace pf::engine
