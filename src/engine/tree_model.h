#pragma once
// Tree models: XGBoost boosters saved as JSON or UBJSON (issue 8 item 3), loaded through the XGBoost C
// API (libxgboost, <xgboost/c_api.h>); the XGBoost handle stays inside tree_model.cpp.
// Prediction: a gbtree booster with numerical splits and one of the objectives reg:squarederror,
// reg:absoluteerror, reg:pseudohubererror, reg:logistic, binary:logistic, binary:logitraw,
// multi:softprob runs in plantfloor's own loop over flat node arrays (the booster's JSON read once at
// load): one row costs well under a microsecond where XGBoost's per-call setup costs several (issue 9,
// tree students). Other boosters (dart, categorical splits, other objectives) and
// TreeModelOptions::native = false predict through XGBoost. Both give the same values (unit test:
// within 1e-6 on random rows with missing values).
//
// Input: float32 rows of num_features() values, row-major (NaN = missing, as XGBoost treats it).
// Output: rows x outputs_per_row() floats: probabilities (or the objective's transformed value) per
// class/group, or the raw margins when TreeModelOptions::margin is set. Binary and regression
// objectives give one value per row, multi:softprob one per class.
// Threads: `threads` is XGBoost's nthread for prediction (default 1, so inference never competes
// with sensor ingestion). Predict() is const and may be called from several threads at once
// (XGBoost's in-place prediction keeps its result buffer per calling thread; it is copied out here).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/tensor.h"

namespace pf::engine {

struct TreeModelOptions {
  int threads = 1;
  bool margin = false;  // raw margins instead of transformed outputs
  bool native = true;   // plantfloor's tree loop where the model allows it (see above)
};

struct NativeForest;

class TreeModel {
 public:
  // `what` names the model in errors (the file path). Errors: bytes that are neither XGBoost JSON
  // nor UBJSON, XGBoost's own load error (quoted), a model with no features.
  static Result<std::unique_ptr<TreeModel>> LoadFromBytes(std::string_view bytes, const TreeModelOptions& options,
                                                          const std::string& what);
  static Result<std::unique_ptr<TreeModel>> LoadFromFile(const std::string& path, const TreeModelOptions& options);
  ~TreeModel();
  TreeModel(const TreeModel&) = delete;
  TreeModel& operator=(const TreeModel&) = delete;

  int64_t num_features() const { return num_features_; }
  int64_t outputs_per_row() const { return outputs_per_row_; }
  int64_t boosted_rounds() const { return rounds_; }
  const std::string& objective() const { return objective_; }  // "binary:logistic", ...
  const TreeModelOptions& options() const { return options_; }
  // True when predictions run in plantfloor's loop; else XGBoost's.
  bool native() const { return native_ != nullptr; }

  // `rows` x num_features() values; returns rows x outputs_per_row() values.
  Result<std::vector<float>> Predict(const float* values, int64_t rows) const;
  // x: float [rows, num_features] or [num_features] (one row); returns [rows, outputs_per_row].
  Result<Tensor> Predict(const Tensor& x) const;

 private:
  TreeModel() = default;
  Result<std::vector<float>> PredictRaw(const float* values, int64_t rows, int64_t* cols) const;

  void PredictNative(const float* values, int64_t rows, float* out) const;

  void* booster_ = nullptr;  // BoosterHandle
  std::shared_ptr<const NativeForest> native_;
  TreeModelOptions options_;
  int64_t num_features_ = 0;
  int64_t outputs_per_row_ = 0;
  int64_t rounds_ = 0;
  std::string objective_;
  std::string what_;
};

// True when bytes look like an XGBoost JSON or UBJSON model (an object whose first key is "learner"
// or "version"), for LoadModel's format detection.
bool LooksLikeXgboostModel(std::string_view bytes);

}  // namespace pf::engine
