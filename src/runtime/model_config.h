#pragma once
// [[models]]: models on live tags (issue 8 item 6). Each entry names a model file (ONNX with its
// manifest in metadata_props, or an XGBoost model with "<path>.manifest.json" beside it), the cycle
// and deadline, and which tags fill which model input (apps/model_app.h: channel-major windows).
// The model is loaded when the configuration is read, so `plantfloor check` proves that the
// bindings fit the model (names, element counts) and the output tags can be declared:
// "<name>.<output>", "<name>.<output>.<class>" or "<name>.<output>.<i>" (apps::ModelApp).
#include <span>
#include <string>
#include <vector>

#include "apps/model_app.h"
#include "core/config.h"

namespace pf {

struct ModelEntry {
  apps::ModelAppConfig app;  // name, bindings, cycle, deadline, max input age
  std::string path;          // the model file (relative paths: to the configuration file's directory)
  std::string asset;         // asset of the output tags ("" : the first input tag's)
  int threads = 1;
  std::vector<std::string> output_names;  // from the model, for the declared output tags
  std::vector<std::string> output_meanings;
  const ConfigNode* node = nullptr;
};

std::span<const FieldSpec> ModelSpec();
std::span<const FieldSpec> ModelInputSpec();
// One [[models]] table: reads it, loads the model, checks the bindings against it. `base_dir`
// resolves a relative path. Tag existence is checked by the caller.
Result<ModelEntry> ReadModel(const ConfigNode& table, const std::string& base_dir);

}  // namespace pf
