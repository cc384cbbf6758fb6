#pragma once
// The generic limit rule on any tag, configured as [[alerts.rules]] tables:
//   high / low       value above / below `limit`; clears only past `limit -/+ deadband`
//   rate             |rate of change| above `limit` units per second, measured over `window`
//                    (newest sample against the oldest one within the window); clears below
//                    `limit - deadband`
//   stale            no good or uncertain sample for longer than `window`
//   bad_quality      quality bad for longer than `window` (the sensor-quality alerts of sources)
// A rule turns samples (and Tick for stale / bad quality) into ConditionUpdates for AlertEngine;
// on/off delays, suppression and priority go to the engine through ToConditionConfig().
// Pure and deterministic; not thread-safe (one owner).
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerts/alert_types.h"
#include "core/config.h"
#include "core/sample.h"

namespace pf::alerts {

enum class RuleKind : uint8_t { kHigh, kLow, kRate, kStale, kBadQuality };
std::string_view RuleKindName(RuleKind k);  // "high", "low", "rate", "stale", "bad_quality"
std::optional<RuleKind> ParseRuleKind(std::string_view name);

struct ThresholdRuleConfig {
  std::string tag;    // "press7.temp"
  std::string asset;  // default: the tag name up to its first '.'
  RuleKind kind = RuleKind::kHigh;
  double limit = 0;     // tag units (rate: units per second); unused for stale / bad_quality
  double deadband = 0;  // tag units, >= 0
  Duration on_delay{0}, off_delay{0};
  Priority priority = Priority::kLow;
  std::vector<std::string> suppress_in_states;
  std::string cause;   // default: "<tag without asset prefix>.<kind>", e.g. "temp.high"
  Duration window{0};  // rate: measuring window; stale / bad_quality: how long before active

  // "threshold:press7.temp.high"; bad_quality rules: "quality:press7.temp".
  std::string Source() const;
  ConditionConfig ToConditionConfig() const;
};

std::span<const FieldSpec> ThresholdRuleSpec();
// One [[alerts.rules]] table; every error names file:line:key.
Result<ThresholdRuleConfig> ReadThresholdRule(const ConfigNode& table);

class ThresholdRule {
 public:
  explicit ThresholdRule(ThresholdRuleConfig config);

  // One sample of the rule's tag (samples of other tags are ignored: nullopt). Returns the
  // rule's current verdict, or nullopt when the sample says nothing (a bad sample for a limit
  // rule, the first sample of a rate rule).
  std::optional<ConditionUpdate> OnSample(const Sample& sample, const std::string& machine_state);
  // Time-driven verdicts of stale and bad_quality rules; nullopt for other kinds or before the
  // first sample.
  std::optional<ConditionUpdate> OnTick(Timestamp now, const std::string& machine_state);

  const ThresholdRuleConfig& config() const { return config_; }
  TagId tag_id() const { return tag_id_; }
  void set_tag_id(TagId id) { tag_id_ = id; bound_ = true; }

 private:
  ConditionUpdate Make(bool active, double value, Timestamp t, const std::string& machine_state,
                       std::string message);
  std::optional<ConditionUpdate> Limit(double v, Timestamp t, const std::string& machine_state);
  std::optional<ConditionUpdate> Rate(double v, Timestamp t, const std::string& machine_state);

  ThresholdRuleConfig config_;
  TagId tag_id_ = 0;
  bool bound_ = false;  // when false, every sample is taken as the rule's tag
  bool active_ = false;
  std::deque<std::pair<Timestamp, double>> history_;  // rate: samples within the window
  std::optional<Timestamp> last_good_;   // stale: last good/uncertain sample
  std::optional<Timestamp> bad_since_;   // bad_quality: start of the current bad run
  Timestamp last_reported_{INT64_MIN};  // updates never go back in time (the engine refuses that)
};

}  // namespace pf::alerts
