#include "engine/distill.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "engine/tree_model.h"

namespace pf::engine {
namespace {

Status XgbFailed(const char* call) { return Internal("XGBoost {} failed: {}", call, XGBGetLastError()); }

// Frees the XGBoost handles on every path.
struct Handles {
  DMatrixHandle dm = nullptr;
  BoosterHandle booster = nullptr;
  ~Handles() {
    if (booster) XGBoosterFree(booster);
    if (dm) XGDMatrixFree(dm);
  }
};

}  // namespace

Result<std::string> DistillTrees(Model& teacher, const std::vector<std::vector<float>>& rows, const DistillOptions& o,
                                 DistillReport* report) {
  if (rows.empty()) return InvalidArgument("distill: no rows to distil on");
  if (teacher.inputs().size() != 1 || teacher.inputs()[0].dtype != DType::kFloat || teacher.inputs()[0].shape.empty())
    return InvalidArgument("distill: the teacher must take one float input of shape [.., features]");
  if (o.rounds < 1 || o.max_depth < 1 || !(o.eta > 0) || o.threads < 1 || o.augment < 0 || !(o.mix >= 0 && o.mix <= 1) ||
      !(o.noise >= 0))
    return InvalidArgument("distill: options out of range (rounds {}, depth {}, eta {}, threads {}, augment {}, mix {}, noise {})",
                           o.rounds, o.max_depth, o.eta, o.threads, o.augment, o.mix, o.noise);
  if (o.format != "json" && o.format != "ubj") return InvalidArgument("distill: format '{}' (json or ubj)", o.format);
  const ValueInfo& in = teacher.inputs()[0];
  const int64_t features = in.shape.back();
  if (features <= 0) return InvalidArgument("distill: the teacher's input {} has no fixed feature count", ShapeToString(in.shape));
  for (size_t r = 0; r < rows.size(); ++r) {
    if (static_cast<int64_t>(rows[r].size()) != features)
      return InvalidArgument("distill: row {} has {} values, the teacher takes {}", r, rows[r].size(), features);
    for (size_t k = 0; k < rows[r].size(); ++k) {
      if (!std::isfinite(rows[r][k])) return InvalidArgument("distill: row {} value {} is not finite", r, k);
    }
  }
  Shape one_row(in.shape.size(), 1);
  one_row.back() = features;

  // The transfer set: real rows, then synthetic ones.
  std::vector<float> x;
  x.reserve(rows.size() * (1 + o.augment) * features);
  for (const auto& r : rows) x.insert(x.end(), r.begin(), r.end());
  std::vector<double> sd(features, 0.0);
  {
    std::vector<double> mean(features, 0.0);
    for (const auto& r : rows)
      for (int64_t k = 0; k < features; ++k) mean[k] += r[k];
    for (auto& m : mean) m /= static_cast<double>(rows.size());
    for (const auto& r : rows)
      for (int64_t k = 0; k < features; ++k) sd[k] += (r[k] - mean[k]) * (r[k] - mean[k]);
    for (auto& s : sd) s = std::sqrt(s / static_cast<double>(rows.size()));
  }
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<size_t> pick(0, rows.size() - 1);
  std::uniform_real_distribution<double> frac(0.0, o.mix);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const int64_t synthetic = static_cast<int64_t>(rows.size()) * o.augment;
  for (int64_t s = 0; s < synthetic; ++s) {
    const auto& a = rows[pick(rng)];
    const auto& b = rows[pick(rng)];
    const double t = frac(rng);
    for (int64_t k = 0; k < features; ++k)
      x.push_back(static_cast<float>(a[k] + t * (b[k] - a[k]) + o.noise * sd[k] * gauss(rng)));
  }
  const int64_t n = static_cast<int64_t>(x.size()) / features;

  // The teacher's answers.
  std::vector<float> teacher_out;
  int64_t outputs = 0;
  for (int64_t r = 0; r < n; ++r) {
    TensorMap m;
    m.emplace(in.name, Tensor::Float(one_row, std::vector<float>(x.begin() + r * features, x.begin() + (r + 1) * features)));
    auto res = teacher.Run(m);
    if (!res.ok()) return res.status().WithContext(fmt::format("distill: teacher on row {}", r));
    const Tensor& y = res->outputs.at(teacher.outputs()[0].name);
    if (!y.is_float() || y.f.empty()) return InvalidArgument("distill: the teacher's first output is not float values");
    if (outputs == 0) outputs = static_cast<int64_t>(y.f.size());
    if (static_cast<int64_t>(y.f.size()) != outputs)
      return InvalidArgument("distill: the teacher gave {} values on row {}, {} before", y.f.size(), r, outputs);
    teacher_out.insert(teacher_out.end(), y.f.begin(), y.f.end());
  }
  std::vector<float> label(n), weight(n, 1.0f);
  for (int64_t r = 0; r < n; ++r) {
    const float* y = &teacher_out[r * outputs];
    if (outputs == 1) {
      label[r] = y[0];
    } else {
      const auto best = std::max_element(y, y + outputs) - y;
      label[r] = static_cast<float>(best);
      weight[r] = std::clamp(y[best], 0.05f, 1.0f);
    }
  }

  Handles h;
  if (XGDMatrixCreateFromMat(x.data(), n, features, std::nanf(""), &h.dm) != 0) return XgbFailed("DMatrix");
  if (XGDMatrixSetFloatInfo(h.dm, "label", label.data(), n) != 0) return XgbFailed("set label");
  if (XGDMatrixSetFloatInfo(h.dm, "weight", weight.data(), n) != 0) return XgbFailed("set weight");
  if (XGBoosterCreate(&h.dm, 1, &h.booster) != 0) return XgbFailed("BoosterCreate");
  const std::string objective = outputs == 1 ? "reg:squarederror" : "multi:softprob";
  const std::vector<std::pair<std::string, std::string>> params{
      {"objective", objective},
      {"max_depth", std::to_string(o.max_depth)},
      {"eta", fmt::format("{}", o.eta)},
      {"nthread", std::to_string(o.threads)},
      {"seed", std::to_string(o.seed % 2147483647)},
      {"tree_method", "hist"},
  };
  for (const auto& [k, v] : params)
    if (XGBoosterSetParam(h.booster, k.c_str(), v.c_str()) != 0) return XgbFailed("SetParam");
  if (outputs > 1 && XGBoosterSetParam(h.booster, "num_class", std::to_string(outputs).c_str()) != 0)
    return XgbFailed("SetParam(num_class)");
  for (int i = 0; i < o.rounds; ++i)
    if (XGBoosterUpdateOneIter(h.booster, i, h.dm) != 0) return XgbFailed("UpdateOneIter");
  bst_ulong len = 0;
  const char* buf = nullptr;
  const std::string cfg = fmt::format(R"({{"format": "{}"}})", o.format);
  if (XGBoosterSaveModelToBuffer(h.booster, cfg.c_str(), &len, &buf) != 0) return XgbFailed("SaveModelToBuffer");
  std::string bytes(buf, len);

  // How closely the student follows the teacher on the real rows.
  PF_ASSIGN_OR_RETURN(auto student, TreeModel::LoadFromBytes(bytes, {}, "the distilled student"));
  const int64_t real = static_cast<int64_t>(rows.size());
  PF_ASSIGN_OR_RETURN(std::vector<float> ys, student->Predict(x.data(), real));
  int64_t agree = 0;
  double max_diff = 0;
  for (int64_t r = 0; r < real; ++r) {
    const float* t = &teacher_out[r * outputs];
    const float* s = &ys[r * outputs];
    for (int64_t c = 0; c < outputs; ++c) max_diff = std::max<double>(max_diff, std::abs(t[c] - s[c]));
    if (outputs > 1) agree += (std::max_element(t, t + outputs) - t) == (std::max_element(s, s + outputs) - s);
  }
  if (report) {
    report->rows = real;
    report->synthetic = synthetic;
    report->features = features;
    report->outputs = outputs;
    report->objective = objective;
    report->agreement = outputs > 1 ? static_cast<double>(agree) / static_cast<double>(real) : 0.0;
    report->max_abs_difference = max_diff;
  }
  return bytes;
}

}  // namespace pf::engine
