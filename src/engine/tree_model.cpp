#include "engine/tree_model.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/file.h"

namespace pf::engine {
namespace {

Status XgbError(const std::string& what, const char* call) {
  return InvalidArgument("{}: XGBoost {} failed: {}", what, call, XGBGetLastError());
}

// __array_interface__ of a row-major float32 matrix (version 3, read-only).
std::string ArrayInterface(const float* values, int64_t rows, int64_t cols) {
  return fmt::format(R"({{"data": [{}, true], "shape": [{}, {}], "typestr": "<f4", "version": 3}})",
                     reinterpret_cast<uintptr_t>(values), rows, cols);
}

}  // namespace

bool LooksLikeXgboostModel(std::string_view bytes) {
  size_t k = 0;
  while (k < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[k]))) ++k;
  if (k >= bytes.size() || bytes[k] != '{') return false;
  std::string_view head = bytes.substr(k, 40);
  return head.find("learner") != std::string_view::npos || head.find("version") != std::string_view::npos;
}

Result<std::unique_ptr<TreeModel>> TreeModel::LoadFromBytes(std::string_view bytes, const TreeModelOptions& options,
                                                            const std::string& what) {
  if (!LooksLikeXgboostModel(bytes)) {
    return InvalidArgument("{}: not an XGBoost JSON or UBJSON model (expected an object with 'learner')", what);
  }
  if (options.threads < 1) return InvalidArgument("{}: threads is {} (must be >= 1)", what, options.threads);
  std::unique_ptr<TreeModel> m(new TreeModel());
  m->options_ = options;
  m->what_ = what;
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) return XgbError(what, "XGBoosterCreate");
  m->booster_ = h;
  if (XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()) != 0) return XgbError(what, "model load");
  const std::string nthread = std::to_string(options.threads);
  if (XGBoosterSetParam(h, "nthread", nthread.c_str()) != 0) return XgbError(what, "SetParam(nthread)");
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(h, &features) != 0) return XgbError(what, "GetNumFeature");
  if (features == 0) return InvalidArgument("{}: the model declares no features", what);
  m->num_features_ = static_cast<int64_t>(features);
  int rounds = 0;
  if (XGBoosterBoostedRounds(h, &rounds) != 0) return XgbError(what, "BoostedRounds");
  m->rounds_ = rounds;
  bst_ulong len = 0;
  const char* config = nullptr;
  if (XGBoosterSaveJsonConfig(h, &len, &config) != 0) return XgbError(what, "SaveJsonConfig");
  auto cfg = nlohmann::json::parse(std::string_view(config, len), nullptr, false);
  if (!cfg.is_discarded()) m->objective_ = cfg.value("/learner/objective/name"_json_pointer, std::string());
  // The output width depends on the objective and the number of classes: ask the model once.
  std::vector<float> row(m->num_features_, std::nanf(""));
  int64_t cols = 0;
  PF_ASSIGN_OR_RETURN(std::vector<float> probe, m->PredictRaw(row.data(), 1, &cols));
  m->outputs_per_row_ = cols;
  return m;
}

Result<std::unique_ptr<TreeModel>> TreeModel::LoadFromFile(const std::string& path, const TreeModelOptions& options) {
  PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  return LoadFromBytes(bytes, options, path);
}

TreeModel::~TreeModel() {
  if (booster_) XGBoosterFree(static_cast<BoosterHandle>(booster_));
}

Result<std::vector<float>> TreeModel::PredictRaw(const float* values, int64_t rows, int64_t* cols) const {
  const std::string array = ArrayInterface(values, rows, num_features_);
  // type 0: transformed prediction, 1: margin; strict_shape gives [rows, groups] for every objective.
  const std::string config =
      fmt::format(R"({{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
                  R"("strict_shape": true, "cache_id": 0, "missing": NaN}})",
                  options_.margin ? 1 : 0);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(static_cast<BoosterHandle>(booster_), array.c_str(), config.c_str(), nullptr, &shape,
                                &dim, &result) != 0) {
    return XgbError(what_, "PredictFromDense");
  }
  if (dim != 2 || static_cast<int64_t>(shape[0]) != rows) {
    return Internal("{}: XGBoost returned a prediction of rank {} for {} rows", what_, dim, rows);
  }
  *cols = static_cast<int64_t>(shape[1]);
  return std::vector<float>(result, result + rows * *cols);
}

Result<std::vector<float>> TreeModel::Predict(const float* values, int64_t rows) const {
  if (rows <= 0) return InvalidArgument("{}: {} rows to predict (must be > 0)", what_, rows);
  int64_t cols = 0;
  return PredictRaw(values, rows, &cols);
}

Result<Tensor> TreeModel::Predict(const Tensor& x) const {
  if (!x.is_float()) {
    return InvalidArgument("{}: input dtype {} does not match the model's input dtype float", what_, DTypeName(x.dtype));
  }
  const bool one_row = x.shape.size() == 1;
  const int64_t features = one_row ? x.shape[0] : x.shape.size() == 2 ? x.shape[1] : -1;
  if (features != num_features_) {
    return InvalidArgument("{}: input shape {} does not match the model's [rows, {}] or [{}]", what_,
                           ShapeToString(x.shape), num_features_, num_features_);
  }
  const int64_t rows = one_row ? 1 : x.shape[0];
  if (rows == 0) return Tensor::Float({0, outputs_per_row_});
  PF_ASSIGN_OR_RETURN(std::vector<float> y, Predict(x.f.data(), rows));
  return Tensor::Float({rows, outputs_per_row_}, std::move(y));
}

}  // namespace pf::engine
