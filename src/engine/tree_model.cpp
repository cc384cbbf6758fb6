#include "engine/tree_model.h"

#include <xgboost/c_api.h>

#include <algorithm>
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

// The trees of a gbtree booster as flat node arrays (see tree_model.h).
struct NativeForest {
  // A leaf points at itself (child {self, self}, feature 0): every tree is walked for exactly its
  // depth's steps without a data-dependent branch, the walk's end is the leaf.
  struct Node {
    int32_t feature = 0;
    float value = 0;        // split threshold (x < value goes to child[0]) or leaf value
    int32_t child[2] = {0, 0};
    int32_t default_left = 0;  // 1: a missing value (NaN) goes to child[0]
  };
  enum class Transform { kIdentity, kSigmoid, kSoftmax };
  std::vector<Node> nodes;
  std::vector<int32_t> roots, groups, depths;  // per tree: root index into nodes, output group, depth
  int64_t num_groups = 1;
  float base_margin = 0;
  Transform transform = Transform::kIdentity;
};

namespace {

// The booster's trees in plantfloor's form, or null with the reason when it needs XGBoost.
std::shared_ptr<NativeForest> BuildNativeForest(BoosterHandle h, int64_t num_features, std::string* why) {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(h, R"({"format": "json"})", &len, &buf) != 0) {
    *why = fmt::format("JSON dump failed: {}", XGBGetLastError());
    return nullptr;
  }
  const auto j = nlohmann::json::parse(std::string_view(buf, len), nullptr, false);
  if (j.is_discarded()) {
    *why = "XGBoost's JSON dump does not parse";
    return nullptr;
  }
  try {
    const auto& learner = j.at("learner");
    const auto& gb = learner.at("gradient_booster");
    if (gb.at("name") != "gbtree") {
      *why = fmt::format("booster {}", gb.at("name").dump());
      return nullptr;
    }
    const std::string objective = learner.at("objective").at("name");
    const auto& lp = learner.at("learner_model_param");
    const double base_score = std::stod(lp.at("base_score").get<std::string>());
    auto f = std::make_shared<NativeForest>();
    if (objective == "reg:squarederror" || objective == "reg:absoluteerror" || objective == "reg:pseudohubererror") {
      f->base_margin = static_cast<float>(base_score);
    } else if (objective == "binary:logitraw") {
      f->base_margin = static_cast<float>(base_score);  // XGBoost 1.7 adds it as given (no logit)
    } else if (objective == "reg:logistic" || objective == "binary:logistic") {
      if (!(base_score > 0 && base_score < 1)) {
        *why = fmt::format("base_score {} outside (0, 1) for {}", base_score, objective);
        return nullptr;
      }
      f->base_margin = static_cast<float>(-std::log(1.0 / base_score - 1.0));
      f->transform = NativeForest::Transform::kSigmoid;
    } else if (objective == "multi:softprob") {
      f->base_margin = static_cast<float>(base_score);
      f->transform = NativeForest::Transform::kSoftmax;
    } else {
      *why = fmt::format("objective {}", objective);
      return nullptr;
    }
    f->num_groups = std::max<int64_t>(1, std::stoll(lp.at("num_class").get<std::string>()));
    if (lp.contains("num_target") && std::stoll(lp.at("num_target").get<std::string>()) > 1) {
      *why = "several targets";
      return nullptr;
    }
    const auto& model = gb.at("model");
    const auto& info = model.at("tree_info");
    const auto& trees = model.at("trees");
    if (info.size() != trees.size()) {
      *why = "tree_info and trees differ in length";
      return nullptr;
    }
    for (size_t t = 0; t < trees.size(); ++t) {
      const auto& tr = trees[t];
      if (tr.contains("categories_nodes") && !tr.at("categories_nodes").empty()) {
        *why = "categorical splits";
        return nullptr;
      }
      const auto& left = tr.at("left_children");
      const auto& right = tr.at("right_children");
      const auto& index = tr.at("split_indices");
      const auto& cond = tr.at("split_conditions");
      const auto& dleft = tr.at("default_left");
      const size_t n = left.size();
      if (right.size() != n || index.size() != n || cond.size() != n || dleft.size() != n || n == 0) {
        *why = fmt::format("tree {}: node arrays of different lengths", t);
        return nullptr;
      }
      const int64_t group = info[t].get<int64_t>();
      if (group < 0 || group >= f->num_groups) {
        *why = fmt::format("tree {}: group {} of {}", t, group, f->num_groups);
        return nullptr;
      }
      const auto base = static_cast<int32_t>(f->nodes.size());
      f->roots.push_back(base);
      f->groups.push_back(static_cast<int32_t>(group));
      std::vector<int32_t> depth(n, -1);  // of each node; XGBoost numbers parents before children
      depth[0] = 0;
      int32_t tree_depth = 0;
      for (size_t k = 0; k < n; ++k) {
        NativeForest::Node node;
        const int64_t l = left[k].get<int64_t>(), r = right[k].get<int64_t>();
        node.value = cond[k].get<float>();
        node.child[0] = node.child[1] = base + static_cast<int32_t>(k);
        if (depth[k] < 0) {
          *why = fmt::format("tree {} node {}: a child numbered before its parent", t, k);
          return nullptr;
        }
        tree_depth = std::max(tree_depth, depth[k]);
        if (l >= 0) {
          const int64_t feat = index[k].get<int64_t>();
          if (l <= static_cast<int64_t>(k) || l >= static_cast<int64_t>(n) || r <= static_cast<int64_t>(k) ||
              r >= static_cast<int64_t>(n) || feat < 0 || feat >= num_features) {
            *why = fmt::format("tree {} node {}: child or feature out of range", t, k);
            return nullptr;
          }
          node.feature = static_cast<int32_t>(feat);
          node.child[0] = base + static_cast<int32_t>(l);
          node.child[1] = base + static_cast<int32_t>(r);
          node.default_left = (dleft[k].is_boolean() ? dleft[k].get<bool>() : dleft[k].get<int64_t>() != 0) ? 1 : 0;
          depth[l] = depth[r] = depth[k] + 1;
        }
        f->nodes.push_back(node);
      }
      f->depths.push_back(tree_depth);
    }
    return f;
  } catch (const std::exception& e) {
    *why = fmt::format("unexpected JSON dump ({})", e.what());
    return nullptr;
  }
}

}  // namespace

void TreeModel::PredictNative(const float* values, int64_t rows, float* out) const {
  const NativeForest& f = *native_;
  const int64_t g = f.num_groups;
  const NativeForest::Node* nodes = f.nodes.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = values + r * num_features_;
    float* y = out + r * g;
    std::fill(y, y + g, f.base_margin);
    // Trees walk in lockstep, kLanes at a time: their chains of dependent loads overlap (a leaf
    // points at itself, so a shallower tree's extra steps change nothing).
    constexpr size_t kLanes = 8;
    const size_t trees = f.roots.size();
    for (size_t t0 = 0; t0 < trees; t0 += kLanes) {
      const size_t lanes = std::min(kLanes, trees - t0);
      int32_t idx[kLanes];
      int32_t depth = 0;
      for (size_t j = 0; j < lanes; ++j) {
        idx[j] = f.roots[t0 + j];
        depth = std::max(depth, f.depths[t0 + j]);
      }
      for (int32_t d = 0; d < depth; ++d) {
        for (size_t j = 0; j < lanes; ++j) {
          const NativeForest::Node& n = nodes[idx[j]];
          const float v = x[n.feature];
          // Left when v < threshold, or when v is missing and the node sends missing values left.
          const int32_t left = static_cast<int32_t>(v < n.value) | (n.default_left & static_cast<int32_t>(v != v));
          idx[j] = n.child[1 - left];
        }
      }
      for (size_t j = 0; j < lanes; ++j) y[f.groups[t0 + j]] += nodes[idx[j]].value;
    }
    if (options_.margin) continue;
    if (f.transform == NativeForest::Transform::kSigmoid) {
      for (int64_t c = 0; c < g; ++c) y[c] = 1.0f / (1.0f + std::exp(-y[c]));
    } else if (f.transform == NativeForest::Transform::kSoftmax) {
      const float wmax = *std::max_element(y, y + g);
      double sum = 0;
      for (int64_t c = 0; c < g; ++c) sum += std::exp(y[c] - wmax);
      for (int64_t c = 0; c < g; ++c) y[c] = static_cast<float>(std::exp(y[c] - wmax) / sum);
    }
  }
}

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
  if (options.native) {
    std::string why;
    auto forest = BuildNativeForest(h, m->num_features_, &why);
    // The native loop must give XGBoost's output width; anything else stays with XGBoost.
    if (forest && forest->num_groups == cols) m->native_ = std::move(forest);
  }
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
  if (native_) {
    std::vector<float> out(rows * outputs_per_row_);
    PredictNative(values, rows, out.data());
    return out;
  }
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
