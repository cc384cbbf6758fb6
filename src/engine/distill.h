#pragma once
// Distillation into a gradient-boosted tree student (issue 9 item 4): a feature-based teacher model
// labels a transfer set, and XGBoost (C API, libxgboost) trains trees that imitate it. The student
// runs in plantfloor's native tree loop (engine/tree_model.h): no graph, no kernels, a few hundred
// comparisons per row.
//
// Teacher: any engine::Model with one float input whose last dimension is the feature count and a
// first output of C values per row. C >= 2: a classifier; the student learns the teacher's argmax
// (multi:softprob, C classes), each row weighted by the teacher's confidence in it (its top
// probability), so rows the teacher is unsure of pull the trees less. C == 1: a regressor; the
// student fits the teacher's value (reg:squarederror).
// Transfer set: the given rows plus `augment` synthetic rows per row (Bucila, Caruana and
// Niculescu-Mizil 2006, "Model compression": the teacher labels points the data never had): a
// synthetic row mixes a random row with another at a random fraction in [0, mix] and adds Gaussian
// noise of `noise` times each feature's standard deviation; the teacher labels it like any other.
// Everything is seeded: the same inputs and options give the same trees.
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/model.h"

namespace pf::engine {

struct DistillOptions {
  int rounds = 20;        // boosting rounds (trees per class)
  int max_depth = 4;
  double eta = 0.3;
  int threads = 1;        // XGBoost's training threads
  int augment = 4;        // synthetic rows per row
  double mix = 0.5;       // largest interpolation fraction towards the partner row
  double noise = 0.5;     // noise, in standard deviations of each feature
  uint64_t seed = 20261126;
  std::string format = "json";  // "json" or "ubj": the saved student's format
};

struct DistillReport {
  int64_t rows = 0, synthetic = 0, features = 0;
  int64_t outputs = 0;     // C
  std::string objective;
  double agreement = 0;    // student vs teacher argmax on the real rows (classifier); 0 for regressors
  double max_abs_difference = 0;  // largest output difference on the real rows
};

// rows: each of the teacher's feature count, finite. Returns the student's bytes (XGBoost JSON or
// UBJSON). Errors: no rows, rows of the wrong length or with non-finite values (the row named), a
// teacher of the wrong shape, XGBoost's own errors (quoted).
Result<std::string> DistillTrees(Model& teacher, const std::vector<std::vector<float>>& rows, const DistillOptions& options,
                                 DistillReport* report);

}  // namespace pf::engine
