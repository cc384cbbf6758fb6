#include "alerts/threshold_rule.h"

#include <array>
#include <cmath>

namespace pf::alerts {
namespace {

constexpr std::array<std::string_view, 5> kKindNames = {"high", "low", "rate", "stale", "bad_quality"};
constexpr std::array<std::string_view, 3> kPriorityWords = {"low", "medium", "high"};
constexpr Duration kDefaultBadQualityWindow = std::chrono::seconds(10);

constexpr std::array<FieldSpec, 11> kRuleSpec = {{
    {"tag", FieldType::kString, true, "", "tag the rule watches, e.g. \"press7.temp\""},
    {"kind", FieldType::kString, true, "", "high, low, rate, stale or bad_quality"},
    {"limit", FieldType::kDouble, false, "", "high/low: limit in tag units; rate: units per second (required for these)"},
    {"deadband", FieldType::kDouble, false, "0", "high/low/rate: the value must come back past limit by this much to clear"},
    {"on_delay", FieldType::kDuration, false, "0", "the condition must hold this long before the alert is raised"},
    {"off_delay", FieldType::kDuration, false, "0", "the condition must be gone this long before it returns to normal"},
    {"priority", FieldType::kString, false, "low", "low, medium or high (target mix about 80/15/5%)"},
    {"suppress_in_states", FieldType::kStringArray, false, "[]",
     "machine states that put the alert out of service, e.g. [\"stopped\", \"changeover\", \"maintenance\"]"},
    {"cause", FieldType::kString, false, "<tag>.<kind>", "cause code; one alert per asset and cause"},
    {"window", FieldType::kDuration, false, "bad_quality: 10s",
     "rate: measuring window (required); stale: no sample for this long (required); bad_quality: bad this long"},
    {"asset", FieldType::kString, false, "tag name up to the first '.'", "asset the alert belongs to"},
}};

std::string DefaultCause(const std::string& tag, const std::string& asset, RuleKind kind) {
  std::string base = tag;
  if (!asset.empty() && tag.size() > asset.size() + 1 && tag.compare(0, asset.size(), asset) == 0 &&
      tag[asset.size()] == '.')
    base = tag.substr(asset.size() + 1);
  return fmt::format("{}.{}", base, RuleKindName(kind));
}

}  // namespace

std::string_view RuleKindName(RuleKind k) { return kKindNames[static_cast<size_t>(k)]; }

std::optional<RuleKind> ParseRuleKind(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == name) return static_cast<RuleKind>(i);
  return std::nullopt;
}

std::string ThresholdRuleConfig::Source() const {
  if (kind == RuleKind::kBadQuality) return "quality:" + tag;
  return fmt::format("threshold:{}.{}", tag, RuleKindName(kind));
}

ConditionConfig ThresholdRuleConfig::ToConditionConfig() const {
  return ConditionConfig{on_delay, off_delay, priority, suppress_in_states};
}

std::span<const FieldSpec> ThresholdRuleSpec() { return kRuleSpec; }

Result<ThresholdRuleConfig> ReadThresholdRule(const ConfigNode& table) {
  ConfigReader r(table, kRuleSpec);
  PF_RETURN_IF_ERROR(r.Check());
  ThresholdRuleConfig c;
  PF_ASSIGN_OR_RETURN(c.tag, r.String("tag"));
  if (c.tag.empty()) return r.Error("tag", "must not be empty");
  PF_ASSIGN_OR_RETURN(std::string kind, r.Enum("kind", "", kKindNames));
  c.kind = *ParseRuleKind(kind);
  PF_ASSIGN_OR_RETURN(c.asset, r.String("asset", c.tag.substr(0, c.tag.find('.'))));
  if (c.asset.empty()) return r.Error("asset", "must not be empty");
  bool needs_limit = c.kind == RuleKind::kHigh || c.kind == RuleKind::kLow || c.kind == RuleKind::kRate;
  if (needs_limit && !r.Has("limit")) return r.Error("limit", fmt::format("a {} rule needs a limit", kind));
  if (!needs_limit && r.Has("limit")) return r.Error("limit", fmt::format("a {} rule has no limit; use window", kind));
  PF_ASSIGN_OR_RETURN(c.limit, r.Double("limit", 0));
  PF_ASSIGN_OR_RETURN(c.deadband, r.Double("deadband", 0));
  if (c.deadband < 0) return r.Error("deadband", fmt::format("must not be negative, got {}", c.deadband));
  if (c.kind == RuleKind::kRate && c.limit <= 0) return r.Error("limit", "a rate limit must be above 0 (units per second)");
  if (c.kind == RuleKind::kRate && c.deadband >= c.limit)
    return r.Error("deadband", fmt::format("must be below the rate limit {}", c.limit));
  PF_ASSIGN_OR_RETURN(c.on_delay, r.Dur("on_delay", Duration(0)));
  PF_ASSIGN_OR_RETURN(c.off_delay, r.Dur("off_delay", Duration(0)));
  PF_ASSIGN_OR_RETURN(std::string priority, r.Enum("priority", "low", kPriorityWords));
  c.priority = *ParsePriority(priority);
  PF_ASSIGN_OR_RETURN(c.suppress_in_states, r.Strings("suppress_in_states"));
  PF_ASSIGN_OR_RETURN(c.cause, r.String("cause", DefaultCause(c.tag, c.asset, c.kind)));
  if (c.cause.empty()) return r.Error("cause", "must not be empty");
  bool needs_window = c.kind == RuleKind::kRate || c.kind == RuleKind::kStale;
  if (needs_window && !r.Has("window")) return r.Error("window", fmt::format("a {} rule needs a window", kind));
  PF_ASSIGN_OR_RETURN(c.window, r.Dur("window", c.kind == RuleKind::kBadQuality ? kDefaultBadQualityWindow : Duration(0)));
  if ((needs_window || c.kind == RuleKind::kBadQuality) && c.window.count() <= 0) return r.Error("window", "must be above 0");
  if (!needs_window && c.kind != RuleKind::kBadQuality && r.Has("window"))
    return r.Error("window", fmt::format("a {} rule has no window", kind));
  return c;
}

ThresholdRule::ThresholdRule(ThresholdRuleConfig config) : config_(std::move(config)) {}

ConditionUpdate ThresholdRule::Make(bool active, double value, Timestamp t, const std::string& machine_state,
                                    std::string message) {
  // The engine refuses updates that go back in time; a sample stamped before the last tick is
  // reported at the last reported time instead.
  if (t < last_reported_) t = last_reported_;
  last_reported_ = t;
  active_ = active;
  ConditionUpdate u;
  u.asset = config_.asset;
  u.cause = config_.cause;
  u.source = config_.Source();
  u.priority = config_.priority;
  u.active = active;
  u.value = value;
  u.time = t;
  u.machine_state = machine_state;
  u.message = std::move(message);
  return u;
}

std::optional<ConditionUpdate> ThresholdRule::Limit(double v, Timestamp t, const std::string& ms) {
  bool high = config_.kind == RuleKind::kHigh;
  double clear_at = high ? config_.limit - config_.deadband : config_.limit + config_.deadband;
  bool active = active_ ? (high ? v >= clear_at : v <= clear_at) : (high ? v > config_.limit : v < config_.limit);
  std::string message = active ? fmt::format("{} {} {} {}", config_.tag, v, high ? ">" : "<", config_.limit)
                               : fmt::format("{} {}: within the {} limit {}", config_.tag, v, high ? "high" : "low",
                                             config_.limit);
  return Make(active, v, t, ms, std::move(message));
}

std::optional<ConditionUpdate> ThresholdRule::Rate(double v, Timestamp t, const std::string& ms) {
  history_.emplace_back(t, v);
  while (history_.size() > 1 && history_.front().first < t - config_.window) history_.pop_front();
  const auto& [t0, v0] = history_.front();
  if (t0 >= t) return std::nullopt;
  double rate = (v - v0) / (t - t0).count() * 1e9;
  double magnitude = std::fabs(rate);
  bool active = active_ ? magnitude >= config_.limit - config_.deadband : magnitude > config_.limit;
  return Make(active, rate, t, ms, fmt::format("{} changes {:.6g}/s, limit {}/s", config_.tag, rate, config_.limit));
}

std::optional<ConditionUpdate> ThresholdRule::OnSample(const Sample& s, const std::string& ms) {
  if (bound_ && s.tag != tag_id_) return std::nullopt;
  Timestamp t = s.source_time;
  switch (config_.kind) {
    case RuleKind::kHigh:
    case RuleKind::kLow:
    case RuleKind::kRate: {
      std::optional<double> v = AsDouble(s.value);
      if (s.quality == Quality::kBad || !v || std::isnan(*v)) return std::nullopt;
      return config_.kind == RuleKind::kRate ? Rate(*v, t, ms) : Limit(*v, t, ms);
    }
    case RuleKind::kStale:
      if (s.quality == Quality::kBad) return std::nullopt;
      last_good_ = t;
      return Make(false, 0, t, ms, fmt::format("{} updated", config_.tag));
    case RuleKind::kBadQuality: {
      if (s.quality != Quality::kBad) {
        bad_since_.reset();
        return Make(false, 0, t, ms, fmt::format("{} quality {}", config_.tag, QualityName(s.quality)));
      }
      if (!bad_since_) bad_since_ = t;
      Duration bad = t - *bad_since_;
      return Make(bad >= config_.window, bad.count() * 1e-9, t, ms,
                  fmt::format("{} quality bad ({}) for {}", config_.tag, QualitySubName(s.sub), FormatDuration(bad)));
    }
  }
  return std::nullopt;
}

std::optional<ConditionUpdate> ThresholdRule::OnTick(Timestamp now, const std::string& ms) {
  std::optional<Timestamp> since;
  std::string what;
  if (config_.kind == RuleKind::kStale) since = last_good_, what = "no new sample";
  if (config_.kind == RuleKind::kBadQuality) since = bad_since_, what = "quality bad";
  if (!since) return std::nullopt;
  Timestamp onset = *since + config_.window;
  bool active = now >= onset;
  // Report the exact onset the first time, so the alert time does not depend on the tick period.
  Timestamp t = active && !active_ ? onset : now;
  Duration age = t - *since;
  return Make(active, age.count() * 1e-9, t, ms, fmt::format("{}: {} for {}", config_.tag, what, FormatDuration(age)));
}

}  // namespace pf::alerts
