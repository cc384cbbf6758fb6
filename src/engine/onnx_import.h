#pragma once
// ONNX import: a ModelProto (file or bytes) becomes a Graph (engine/graph.h).
//
// Accepted: the default domain at opsets 11-17; initializers and Constant nodes of type float,
// int64, int32, uint8, int8 and bool stored inline (typed fields or raw_data). Every rejection
// is a Status that names what and where: a file that is not ONNX, an unsupported opset, an
// operator this engine does not run (node and op named), a tensor whose data does not match its
// shape, a value nobody produces, a cycle. Protobuf is touched here and in the tools that rewrite models (quantize.cpp, prune.cpp).
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/graph.h"

namespace onnx {
class ModelProto;
}

namespace pf::engine {

struct ImportOptions {
  // Reject nodes whose op the reference interpreter cannot run (engine/ops.h). Off only for
  // tools that list a model's operators.
  bool require_supported_ops = true;
  // > 0: uint8/int8 initializers with at least this many elements are deferred (Tensor::deferred,
  // Graph::load_deferred): their raw bytes stay in a store the graph shares, instead of int64
  // elements (8x the memory). For Session::Create, which loads each as its kernel is built.
  int64_t defer_8bit_elements = 0;
};
// What engine::OnnxModel (the product's loader) defers: every weight tensor of a real model.
constexpr int64_t kDeferWeightElements = 4096;

Result<Graph> LoadModelFromBytes(std::string_view bytes, const ImportOptions& options = {});
Result<Graph> LoadModelFromFile(const std::string& path, const ImportOptions& options = {});
// The model's metadata_props (key -> value), e.g. "pf.manifest" (engine/manifest.h). Errors: bytes that
// are not a ModelProto, a key given twice.
Result<std::map<std::string, std::string>> LoadModelMetadata(std::string_view bytes);

// The bytes of a model that a tool rewrote (model quantize, model prune): producer_name set to `tool`,
// the manifest's model_sha256 (engine/manifest.h) recomputed over the new graph, and the result
// checked to load. A model that does not load is the tool's defect (kInternal); a manifest that is
// not a JSON object is the input's (kInvalidArgument).
Result<std::string> SerializeRewrittenModel(onnx::ModelProto& m, const std::string& tool);

// A serialized onnx.TensorProto (the test_data_set_N/*.pb files) as a Tensor; `what` names it in errors.
Result<Tensor> LoadTensorFromBytes(std::string_view bytes, const std::string& what);
Result<Tensor> LoadTensorFromFile(const std::string& path);

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;

}  // namespace pf::engine
