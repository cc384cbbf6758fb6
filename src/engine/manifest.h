#pragma once
// The model manifest: the versioned description that travels with a model (issue 8 item 4), so
// apps read names, shapes, normalization, class names and thresholds from it instead of repeating
// them in config. Schema in docs/schema.md, section "Model manifest".
//
// Where it lives: ONNX models carry it as JSON in metadata_props key "pf.manifest"; a tree model
// (XGBoost) has it in a file "<model>.manifest.json" beside the model file.
// The model hash (model_sha256, lowercase hex) is the SHA-256 of
//   - ONNX: the bytes of the ModelProto's `graph` field (field 7) as stored in the file, so the hash
//     does not cover metadata_props and the manifest can sit inside the model it describes
//     (python: hashlib.sha256(model.graph.SerializeToString()));
//   - XGBoost: the whole model file.
// Parse errors name the key path ("inputs[1].normalization.std") or the JSON byte position;
// ValidateManifest() errors name the field and both values. Plain value types; thread-compatible.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/graph.h"

namespace pf::engine {

constexpr int kManifestVersion = 1;
constexpr char kManifestMetadataKey[] = "pf.manifest";

struct ManifestInput {
  std::string name;
  Shape shape;  // -1: any size (a batch dimension)
  DType dtype = DType::kFloat;
  // Per-channel normalization x' = (x - mean[c]) / std[c] along `axis`; both empty = none.
  std::vector<double> mean, std;
  int64_t axis = 1;
  std::string preprocessing;  // free text for people and the app that builds inputs ("window 1 s, lag 3")
};

struct ManifestOutput {
  std::string name;
  std::string meaning;                    // "probability of a cracked weld per class"
  std::vector<std::string> class_names;   // index -> name along the last axis; empty = not a classifier
  std::map<std::string, double> thresholds;  // "alarm" -> 0.8
};

// Training-data summary of one input feature (for drift checks).
struct FeatureSummary {
  std::string input;    // manifest input name
  std::string feature;  // feature name or index within the input ("vibration_rms", "channel 0")
  int64_t count = 0;
  double mean = 0, std = 0, min = 0, max = 0, p01 = 0, p50 = 0, p99 = 0;
};

struct Manifest {
  int manifest_version = kManifestVersion;
  std::string name, version, model_sha256;
  std::vector<ManifestInput> inputs;
  std::vector<ManifestOutput> outputs;
  std::vector<FeatureSummary> training_data;
  // False when the model came without a manifest: then only name, inputs and outputs are filled,
  // from the model itself.
  bool present = false;
};

// JSON -> Manifest. `what` names the source in errors ("model.onnx: metadata 'pf.manifest'").
// Unknown keys are errors (a typo must not silently drop a threshold).
Result<Manifest> ParseManifest(std::string_view json, const std::string& what);
// Manifest -> JSON (the schema ParseManifest reads; `present` is not written).
std::string ManifestToJson(const Manifest& m, int indent = 2);

// The manifest against the model: hash, every declared input/output described (name, dtype, shape;
// -1 in the model accepts any size), normalization lengths, class-name count, feature summaries
// consistent (min <= p01 <= p50 <= p99 <= max, std >= 0). Errors are kInvalidArgument naming the field.
Status ValidateManifest(const Manifest& m, const std::vector<ValueInfo>& model_inputs,
                        const std::vector<ValueInfo>& model_outputs, const std::string& model_sha256);

// A Manifest that describes a model without one (present == false).
Manifest ManifestFromModel(const std::string& name, const std::vector<ValueInfo>& inputs,
                           const std::vector<ValueInfo>& outputs, const std::string& model_sha256);

// Lowercase hex SHA-256 (OpenSSL libcrypto).
std::string Sha256Hex(std::string_view bytes);
// The stored bytes of ModelProto field 7 (graph), found by walking the protobuf wire format.
Result<std::string_view> OnnxGraphBytes(std::string_view model_bytes);
// The model hash as defined above, for ONNX model bytes.
Result<std::string> OnnxModelHash(std::string_view model_bytes);

Result<DType> DTypeFromName(const std::string& name, const std::string& what);  // "float", "uint8", ...

}  // namespace pf::engine
