// Baseline persistence as JSON text, so the runtime can store a learned baseline and load it at
// start-up without relearning. Format (version 1), one object:
//   format "plantfloor.detect.baseline", version 1, asset, features [names],
//   false_alarm_rate, threshold_method ("empirical" | "f_law"), calibration_folds,
//   mcd {coverage, reweight_quantile, shrinkage, max_csteps}, min_samples, constant_rel_tol,
//   effective_sample_fraction (optional, default 1),
//   regimes {variables [{name, edges}], transient {speed_variable, nominal_speed,
//            min_speed_fraction, max_speed_rate (null = no limit)}},
//   training_counts {steady, low_speed, fast_change, out_of_range, not_finite, time_not_increasing},
//   models [{regime, name, samples, inliers, kept [feature indices], dropped [{feature, reason}],
//            median, scale, mean [p], cov [p rows of p], threshold, calibration_exceedance}]
// Numbers are written with the shortest text that reads back to the same double, so a loaded
// baseline scores bit for bit like the one that was saved. The whitening factor is derived on load.
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "detect/baseline.h"

namespace pf::detect {
namespace {

using nlohmann::json;
constexpr std::string_view kFormat = "plantfloor.detect.baseline";
constexpr int kVersion = 1;

json Vec(const Eigen::VectorXd& v) { return json(std::vector<double>(v.data(), v.data() + v.size())); }

// Typed access with the JSON path in every error: "baseline JSON: models[0].cov[2]: expected 5 numbers, got 4".
class Reader {
 public:
  static Status Err(const std::string& path, std::string_view what) {
    return InvalidArgument("baseline JSON: {}: {}", path, what);
  }
  static Result<const json*> Field(const json& obj, const std::string& path, const char* key) {
    if (!obj.is_object()) return Err(path.empty() ? "top level" : path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) return Err(path.empty() ? key : path + "." + key, "missing");
    return &*it;
  }
  static Result<double> Number(const json& obj, const std::string& path, const char* key) {
    PF_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_number()) return Err(Join(path, key), fmt::format("expected a number, got {}", v->type_name()));
    return v->get<double>();
  }
  static Result<int64_t> Integer(const json& obj, const std::string& path, const char* key) {
    PF_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_number_integer()) return Err(Join(path, key), fmt::format("expected an integer, got {}", v->dump()));
    return v->get<int64_t>();
  }
  static Result<std::string> String(const json& obj, const std::string& path, const char* key) {
    PF_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_string()) return Err(Join(path, key), fmt::format("expected a string, got {}", v->type_name()));
    return v->get<std::string>();
  }
  static Result<const json*> Array(const json& obj, const std::string& path, const char* key) {
    PF_ASSIGN_OR_RETURN(const json* v, Field(obj, path, key));
    if (!v->is_array()) return Err(Join(path, key), fmt::format("expected an array, got {}", v->type_name()));
    return v;
  }
  // An array of exactly `size` finite numbers (size < 0: any length).
  static Result<std::vector<double>> Numbers(const json& arr, const std::string& path, long size) {
    if (!arr.is_array()) return Err(path, fmt::format("expected an array, got {}", arr.type_name()));
    if (size >= 0 && static_cast<long>(arr.size()) != size) {
      return Err(path, fmt::format("expected {} numbers, got {}", size, arr.size()));
    }
    std::vector<double> out;
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_number() || !std::isfinite(arr[i].get<double>())) {
        return Err(fmt::format("{}[{}]", path, i), fmt::format("expected a finite number, got {}", arr[i].dump()));
      }
      out.push_back(arr[i].get<double>());
    }
    return out;
  }
  static std::string Join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
};

Result<Eigen::VectorXd> EigenVec(const json& obj, const std::string& path, const char* key, long p) {
  PF_ASSIGN_OR_RETURN(const json* a, Reader::Field(obj, path, key));
  PF_ASSIGN_OR_RETURN(std::vector<double> v, Reader::Numbers(*a, Reader::Join(path, key), p));
  return Eigen::VectorXd(Eigen::Map<Eigen::VectorXd>(v.data(), p));
}

Result<RegimeConfig> ReadRegimes(const json& root) {
  RegimeConfig rc;
  PF_ASSIGN_OR_RETURN(const json* r, Reader::Field(root, "", "regimes"));
  PF_ASSIGN_OR_RETURN(const json* vars, Reader::Array(*r, "regimes", "variables"));
  for (size_t k = 0; k < vars->size(); ++k) {
    const std::string path = fmt::format("regimes.variables[{}]", k);
    RegimeVariable v;
    PF_ASSIGN_OR_RETURN(v.name, Reader::String((*vars)[k], path, "name"));
    PF_ASSIGN_OR_RETURN(const json* e, Reader::Field((*vars)[k], path, "edges"));
    PF_ASSIGN_OR_RETURN(v.edges, Reader::Numbers(*e, path + ".edges", -1));
    rc.variables.push_back(std::move(v));
  }
  PF_ASSIGN_OR_RETURN(const json* t, Reader::Field(*r, "regimes", "transient"));
  const std::string tp = "regimes.transient";
  PF_ASSIGN_OR_RETURN(int64_t sv, Reader::Integer(*t, tp, "speed_variable"));
  rc.transient.speed_variable = static_cast<int>(sv);
  PF_ASSIGN_OR_RETURN(rc.transient.nominal_speed, Reader::Number(*t, tp, "nominal_speed"));
  PF_ASSIGN_OR_RETURN(rc.transient.min_speed_fraction, Reader::Number(*t, tp, "min_speed_fraction"));
  PF_ASSIGN_OR_RETURN(const json* rate, Reader::Field(*t, tp, "max_speed_rate"));
  if (rate->is_null()) {
    rc.transient.max_speed_rate = std::numeric_limits<double>::infinity();
  } else {
    PF_ASSIGN_OR_RETURN(rc.transient.max_speed_rate, Reader::Number(*t, tp, "max_speed_rate"));
  }
  return rc;
}

Result<BaselineConfig> ReadConfig(const json& root) {
  BaselineConfig c;
  PF_ASSIGN_OR_RETURN(c.asset, Reader::String(root, "", "asset"));
  PF_ASSIGN_OR_RETURN(const json* f, Reader::Array(root, "", "features"));
  for (size_t i = 0; i < f->size(); ++i) {
    if (!(*f)[i].is_string()) return Reader::Err(fmt::format("features[{}]", i), "expected a string");
    c.features.push_back((*f)[i].get<std::string>());
  }
  PF_ASSIGN_OR_RETURN(c.false_alarm_rate, Reader::Number(root, "", "false_alarm_rate"));
  PF_ASSIGN_OR_RETURN(std::string method, Reader::String(root, "", "threshold_method"));
  if (method == "empirical") c.threshold = ThresholdMethod::kEmpirical;
  else if (method == "f_law") c.threshold = ThresholdMethod::kFLaw;
  else return Reader::Err("threshold_method", fmt::format("expected \"empirical\" or \"f_law\", got \"{}\"", method));
  PF_ASSIGN_OR_RETURN(int64_t folds, Reader::Integer(root, "", "calibration_folds"));
  c.calibration_folds = static_cast<int>(folds);
  PF_ASSIGN_OR_RETURN(const json* mcd, Reader::Field(root, "", "mcd"));
  PF_ASSIGN_OR_RETURN(c.mcd.coverage, Reader::Number(*mcd, "mcd", "coverage"));
  PF_ASSIGN_OR_RETURN(c.mcd.reweight_quantile, Reader::Number(*mcd, "mcd", "reweight_quantile"));
  PF_ASSIGN_OR_RETURN(c.mcd.shrinkage, Reader::Number(*mcd, "mcd", "shrinkage"));
  PF_ASSIGN_OR_RETURN(int64_t steps, Reader::Integer(*mcd, "mcd", "max_csteps"));
  c.mcd.max_csteps = static_cast<int>(steps);
  PF_ASSIGN_OR_RETURN(int64_t min_samples, Reader::Integer(root, "", "min_samples"));
  if (min_samples < 0) return Reader::Err("min_samples", "must be >= 0");
  c.min_samples = static_cast<size_t>(min_samples);
  PF_ASSIGN_OR_RETURN(c.constant_rel_tol, Reader::Number(root, "", "constant_rel_tol"));
  // Optional: baselines saved before it existed counted every sample as independent.
  if (root.contains("effective_sample_fraction")) {
    PF_ASSIGN_OR_RETURN(c.effective_sample_fraction, Reader::Number(root, "", "effective_sample_fraction"));
  }
  PF_ASSIGN_OR_RETURN(c.regimes, ReadRegimes(root));
  PF_RETURN_IF_ERROR_CTX(c.Validate(), "baseline JSON");
  return c;
}

Result<RegimeModel> ReadModel(const json& j, const std::string& path, const BaselineConfig& c) {
  RegimeModel m;
  PF_ASSIGN_OR_RETURN(int64_t regime, Reader::Integer(j, path, "regime"));
  if (regime < 0 || regime >= static_cast<int64_t>(c.regimes.RegimeCount())) {
    return Reader::Err(path + ".regime", fmt::format("{} is outside [0, {})", regime, c.regimes.RegimeCount()));
  }
  m.regime = static_cast<int>(regime);
  m.name = c.regimes.RegimeName(m.regime);
  PF_ASSIGN_OR_RETURN(int64_t samples, Reader::Integer(j, path, "samples"));
  PF_ASSIGN_OR_RETURN(int64_t inliers, Reader::Integer(j, path, "inliers"));
  if (samples < 0 || inliers < 0) return Reader::Err(path, "samples and inliers must be >= 0");
  m.samples = static_cast<size_t>(samples);
  m.inliers = static_cast<size_t>(inliers);
  PF_ASSIGN_OR_RETURN(const json* kept, Reader::Array(j, path, "kept"));
  for (size_t i = 0; i < kept->size(); ++i) {
    const json& k = (*kept)[i];
    if (!k.is_number_integer() || k.get<int64_t>() < 0 || k.get<int64_t>() >= static_cast<int64_t>(c.features.size())) {
      return Reader::Err(fmt::format("{}.kept[{}]", path, i), fmt::format("expected a feature index in [0, {}), got {}",
                                                                          c.features.size(), k.dump()));
    }
    m.kept.push_back(static_cast<int>(k.get<int64_t>()));
  }
  if (m.kept.empty()) return Reader::Err(path + ".kept", "no kept features");
  PF_ASSIGN_OR_RETURN(const json* dropped, Reader::Array(j, path, "dropped"));
  for (size_t i = 0; i < dropped->size(); ++i) {
    const std::string dp = fmt::format("{}.dropped[{}]", path, i);
    DroppedFeature d;
    PF_ASSIGN_OR_RETURN(d.feature, Reader::String((*dropped)[i], dp, "feature"));
    PF_ASSIGN_OR_RETURN(d.reason, Reader::String((*dropped)[i], dp, "reason"));
    m.dropped.push_back(std::move(d));
  }
  const long p = static_cast<long>(m.kept.size());
  PF_ASSIGN_OR_RETURN(m.median, EigenVec(j, path, "median", p));
  PF_ASSIGN_OR_RETURN(m.scale, EigenVec(j, path, "scale", p));
  for (long i = 0; i < p; ++i) {
    if (!(m.scale[i] > 0)) return Reader::Err(fmt::format("{}.scale[{}]", path, i), "must be > 0");
  }
  PF_ASSIGN_OR_RETURN(m.mean, EigenVec(j, path, "mean", p));
  PF_ASSIGN_OR_RETURN(const json* cov, Reader::Array(j, path, "cov"));
  if (static_cast<long>(cov->size()) != p) return Reader::Err(path + ".cov", fmt::format("expected {} rows, got {}", p, cov->size()));
  m.cov.resize(p, p);
  for (long r = 0; r < p; ++r) {
    PF_ASSIGN_OR_RETURN(std::vector<double> row, Reader::Numbers((*cov)[r], fmt::format("{}.cov[{}]", path, r), p));
    for (long k = 0; k < p; ++k) m.cov(r, k) = row[k];
  }
  PF_ASSIGN_OR_RETURN(m.threshold, Reader::Number(j, path, "threshold"));
  if (!(m.threshold > 0) || !std::isfinite(m.threshold)) return Reader::Err(path + ".threshold", "must be finite and > 0");
  PF_ASSIGN_OR_RETURN(m.calibration_exceedance, Reader::Number(j, path, "calibration_exceedance"));
  PF_RETURN_IF_ERROR_CTX(m.Prepare(), "baseline JSON: {}", path);
  return m;
}

}  // namespace

std::string Baseline::ToJson() const {
  const BaselineConfig& c = config_;
  json vars = json::array();
  for (const auto& v : c.regimes.variables) vars.push_back({{"name", v.name}, {"edges", v.edges}});
  const TransientRule& t = c.regimes.transient;
  json counts = json::object();
  for (int i = 0; i < kRegimeStateCount; ++i) counts[std::string(RegimeStateName(static_cast<RegimeState>(i)))] = counts_.by_state[i];
  json models = json::array();
  for (const RegimeModel& m : models_) {
    json dropped = json::array();
    for (const auto& d : m.dropped) dropped.push_back({{"feature", d.feature}, {"reason", d.reason}});
    json cov = json::array();
    for (Eigen::Index r = 0; r < m.cov.rows(); ++r) cov.push_back(Vec(m.cov.row(r).transpose()));
    models.push_back({{"regime", m.regime}, {"name", m.name}, {"samples", m.samples}, {"inliers", m.inliers},
                      {"kept", m.kept}, {"dropped", dropped}, {"median", Vec(m.median)}, {"scale", Vec(m.scale)},
                      {"mean", Vec(m.mean)}, {"cov", cov}, {"threshold", m.threshold},
                      {"calibration_exceedance", m.calibration_exceedance}});
  }
  json root = {
      {"format", kFormat},
      {"version", kVersion},
      {"asset", c.asset},
      {"features", c.features},
      {"false_alarm_rate", c.false_alarm_rate},
      {"threshold_method", ThresholdMethodName(c.threshold)},
      {"calibration_folds", c.calibration_folds},
      {"mcd", {{"coverage", c.mcd.coverage}, {"reweight_quantile", c.mcd.reweight_quantile},
               {"shrinkage", c.mcd.shrinkage}, {"max_csteps", c.mcd.max_csteps}}},
      {"min_samples", c.min_samples},
      {"constant_rel_tol", c.constant_rel_tol},
      {"effective_sample_fraction", c.effective_sample_fraction},
      {"regimes", {{"variables", vars},
                   {"transient", {{"speed_variable", t.speed_variable}, {"nominal_speed", t.nominal_speed},
                                  {"min_speed_fraction", t.min_speed_fraction},
                                  {"max_speed_rate", std::isfinite(t.max_speed_rate) ? json(t.max_speed_rate) : json(nullptr)}}}}},
      {"training_counts", counts},
      {"models", models},
  };
  return root.dump(1);
}

Result<Baseline> Baseline::FromJson(std::string_view text) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return InvalidArgument("baseline JSON: not valid JSON at byte {}: {}", e.byte, e.what());
  } catch (const json::out_of_range& e) {  // a number too large for any type
    return InvalidArgument("baseline JSON: not valid JSON: {}", e.what());
  }
  PF_ASSIGN_OR_RETURN(std::string format, Reader::String(root, "", "format"));
  if (format != kFormat) return Reader::Err("format", fmt::format("expected \"{}\", got \"{}\"", kFormat, format));
  PF_ASSIGN_OR_RETURN(int64_t version, Reader::Integer(root, "", "version"));
  if (version != kVersion) return Reader::Err("version", fmt::format("version {} is not supported (this build reads {})", version, kVersion));
  Baseline b;
  PF_ASSIGN_OR_RETURN(b.config_, ReadConfig(root));
  PF_ASSIGN_OR_RETURN(const json* counts, Reader::Field(root, "", "training_counts"));
  for (int i = 0; i < kRegimeStateCount; ++i) {
    const std::string key(RegimeStateName(static_cast<RegimeState>(i)));
    PF_ASSIGN_OR_RETURN(int64_t n, Reader::Integer(*counts, "training_counts", key.c_str()));
    if (n < 0) return Reader::Err("training_counts." + key, "must be >= 0");
    b.counts_.by_state[i] = static_cast<uint64_t>(n);
  }
  b.model_of_.assign(b.config_.regimes.RegimeCount(), -1);
  PF_ASSIGN_OR_RETURN(const json* models, Reader::Array(root, "", "models"));
  for (size_t i = 0; i < models->size(); ++i) {
    PF_ASSIGN_OR_RETURN(RegimeModel m, ReadModel((*models)[i], fmt::format("models[{}]", i), b.config_));
    if (b.model_of_[m.regime] >= 0) return Reader::Err(fmt::format("models[{}].regime", i), fmt::format("regime {} appears twice", m.regime));
    b.model_of_[m.regime] = static_cast<int>(b.models_.size());
    b.models_.push_back(std::move(m));
  }
  return b;
}

}  // namespace pf::detect
