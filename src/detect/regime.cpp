#include "detect/regime.h"

#include <algorithm>
#include <cmath>

namespace pf::detect {
namespace {

// Bin of v in ascending edges: [e_i, e_{i+1}); -1 outside [first, last).
int Bin(const std::vector<double>& edges, double v) {
  if (!(v >= edges.front()) || !(v < edges.back())) return -1;
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin()) - 1;
}

}  // namespace

size_t RegimeConfig::RegimeCount() const {
  size_t n = 1;
  for (const auto& v : variables) n *= v.edges.size() - 1;
  return n;
}

std::string RegimeConfig::RegimeName(int regime) const {
  if (variables.empty()) return "all";
  std::string out;
  int rest = regime;
  std::vector<int> bins(variables.size());
  for (size_t k = variables.size(); k-- > 0;) {
    const int nb = static_cast<int>(variables[k].edges.size()) - 1;
    bins[k] = rest % nb;
    rest /= nb;
  }
  for (size_t k = 0; k < variables.size(); ++k) {
    const auto& e = variables[k].edges;
    out += fmt::format("{}{}[{:g}, {:g})", k ? " " : "", variables[k].name, e[bins[k]], e[bins[k] + 1]);
  }
  return out;
}

Status RegimeConfig::Validate() const {
  if (variables.size() > 2) return InvalidArgument("regimes: {} variables, at most 2 are supported", variables.size());
  for (size_t k = 0; k < variables.size(); ++k) {
    const auto& v = variables[k];
    const std::string who = v.name.empty() ? fmt::format("regime variable #{}", k) : fmt::format("regime variable '{}'", v.name);
    if (v.name.empty()) return InvalidArgument("{}: needs a name", who);
    if (v.edges.size() < 2) return InvalidArgument("{}: {} edges, at least 2 are needed", who, v.edges.size());
    for (size_t i = 0; i < v.edges.size(); ++i) {
      if (!std::isfinite(v.edges[i])) return InvalidArgument("{}: edge {} is not finite", who, i);
      if (i > 0 && !(v.edges[i] > v.edges[i - 1])) {
        return InvalidArgument("{}: edges must be strictly ascending, but edge {} ({:g}) <= edge {} ({:g})", who, i,
                               v.edges[i], i - 1, v.edges[i - 1]);
      }
    }
  }
  const TransientRule& t = transient;
  if (t.speed_variable == -1) return Status::Ok();
  if (t.speed_variable < 0 || t.speed_variable >= static_cast<int>(variables.size())) {
    return InvalidArgument("transient rule: speed variable index {} but {} regime variables", t.speed_variable,
                           variables.size());
  }
  if (!(t.nominal_speed > 0) || !std::isfinite(t.nominal_speed)) {
    return InvalidArgument("transient rule: nominal speed must be > 0, got {:g}", t.nominal_speed);
  }
  if (!(t.min_speed_fraction >= 0 && t.min_speed_fraction < 1)) {
    return InvalidArgument("transient rule: min speed fraction must be in [0, 1), got {:g}", t.min_speed_fraction);
  }
  if (!(t.max_speed_rate > 0)) {
    return InvalidArgument("transient rule: max speed rate must be > 0 per second, got {:g}", t.max_speed_rate);
  }
  return Status::Ok();
}

std::string_view RegimeStateName(RegimeState s) {
  switch (s) {
    case RegimeState::kSteady: return "steady";
    case RegimeState::kLowSpeed: return "low_speed";
    case RegimeState::kFastChange: return "fast_change";
    case RegimeState::kOutOfRange: return "out_of_range";
    case RegimeState::kNotFinite: return "not_finite";
    case RegimeState::kTimeNotIncreasing: return "time_not_increasing";
  }
  return "unknown";
}

uint64_t RegimeCounts::excluded() const {
  uint64_t n = 0;
  for (int i = 1; i < kRegimeStateCount; ++i) n += by_state[i];
  return n;
}

std::string RegimeCounts::Summary() const {
  std::string out = fmt::format("{} steady", by_state[0]);
  for (int i = 1; i < kRegimeStateCount; ++i) {
    if (by_state[i]) out += fmt::format(", {} {}", by_state[i], RegimeStateName(static_cast<RegimeState>(i)));
  }
  return out;
}

RegimeClassifier::RegimeClassifier(RegimeConfig config) : config_(std::move(config)) {}

RegimeVerdict RegimeClassifier::Classify(std::span<const double> values, double t_seconds) {
  if (values.size() != config_.variables.size()) return {RegimeState::kOutOfRange, -1};
  for (double v : values) if (!std::isfinite(v)) return {RegimeState::kNotFinite, -1};
  const TransientRule& t = config_.transient;
  if (t.speed_variable >= 0) {
    if (!std::isfinite(t_seconds)) return {RegimeState::kNotFinite, -1};
    const double speed = values[t.speed_variable];
    const bool had_previous = has_previous_;
    const double dt = t_seconds - previous_t_, dv = speed - previous_speed_;
    if (had_previous && !(dt > 0)) return {RegimeState::kTimeNotIncreasing, -1};
    has_previous_ = true;
    previous_speed_ = speed;
    previous_t_ = t_seconds;
    if (speed < t.min_speed_fraction * t.nominal_speed) return {RegimeState::kLowSpeed, -1};
    if (had_previous && std::fabs(dv) > t.max_speed_rate * dt) return {RegimeState::kFastChange, -1};
  }
  int regime = 0;
  for (size_t k = 0; k < values.size(); ++k) {
    const auto& edges = config_.variables[k].edges;
    const int b = Bin(edges, values[k]);
    if (b < 0) return {RegimeState::kOutOfRange, -1};
    regime = regime * (static_cast<int>(edges.size()) - 1) + b;
  }
  return {RegimeState::kSteady, regime};
}

}  // namespace pf::detect
