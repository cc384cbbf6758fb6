#pragma once
// The alert vocabulary shared by the engine, the threshold rules and the rate metrics: priorities,
// the ISA-18.2 states, what a rule reports (ConditionUpdate), what the engine emits
// (AlertTransition, FloodRecord) and the engine's configuration. Plain data, no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf::alerts {

enum class Priority : uint8_t { kLow = 0, kMedium = 1, kHigh = 2 };
std::string_view PriorityName(Priority p);  // "low", "medium", "high"
std::optional<Priority> ParsePriority(std::string_view name);

// ISA-18.2 alarm states. kShelved and kSuppressed hide the alert from the operator whatever the
// condition does; the engine keeps tracking the condition underneath.
enum class AlertState : uint8_t {
  kNormal = 0,     // no occurrence
  kActiveUnacked,  // "unack": raised, not yet acknowledged
  kActiveAcked,    // acknowledged, condition still active
  kRtnUnacked,     // returned to normal while unacknowledged
  kShelved,        // shelved by an operator until an expiry
  kSuppressed,     // out of service by machine state (stopped, changeover, maintenance)
};
std::string_view AlertStateName(AlertState s);  // "normal", "unack", "acked", "rtn_unack", "shelved", "suppressed"
std::optional<AlertState> ParseAlertState(std::string_view name);

// What a rule says about one condition at one time. A condition is identified by (asset, cause):
// every update with the same pair is the same condition, whatever rule reports it (deduplication).
struct ConditionUpdate {
  std::string asset;          // "press7"
  std::string cause;          // "temp.high", "temp.bad_quality", "spc.rule1"
  std::string source;         // who evaluates it: "threshold:press7.temp.high", "quality:press7.temp"
  std::optional<Priority> priority;  // overrides the configured priority of the source
  bool active = false;        // the raw (not debounced) condition
  double value = 0;           // the value that was tested (units of the tag; seconds for stale/bad quality)
  Timestamp time;             // source time of the evaluation
  std::string machine_state;  // from the asset's production context ("" = unknown)
  std::string message;        // human text for the alert, e.g. "press7.temp 92.5 > 90"
};

// Per source settings (a rule's on/off delays, suppression and priority).
struct ConditionConfig {
  Duration on_delay{0};   // the condition must stay active this long before the alert is raised
  Duration off_delay{0};  // ... and stay normal this long before it returns to normal
  Priority priority = Priority::kLow;
  std::vector<std::string> suppress_in_states;  // machine states that put the alert out of service
};

struct AlertEngineConfig {
  ConditionConfig defaults;                         // for sources not in `sources`
  std::map<std::string, ConditionConfig> sources;   // key: ConditionUpdate::source
  std::map<std::string, std::string> asset_area;    // asset -> area ("unassigned" when missing)
  std::map<std::string, std::string> area_position; // area -> operator position (default: the area)
  // Chattering: more than chatter_count activations within chatter_window. A chattering
  // occurrence only returns to normal after the condition stayed normal for
  // max(off_delay, chatter_window), so it stays ONE occurrence however often the signal toggles.
  int chatter_count = 5;
  Duration chatter_window = std::chrono::seconds(60);
  // Flood: more than flood_count alerts raised within flood_window on one operator position.
  int flood_count = 10;
  Duration flood_window = std::chrono::minutes(10);

  const ConditionConfig& For(const std::string& source) const;
  std::string AreaOf(const std::string& asset) const;
  std::string PositionOf(const std::string& asset) const;
  Status Validate() const;  // chatter/flood counts >= 1, windows > 0, delays >= 0
};

// One state change of one alert; the caller persists it and forwards it (an Event of kind
// "alert"). `action` says what happened:
//   raise, ack, rtn (returned to normal, unacked), reactivate (active again before the ack),
//   clear (occurrence ended), chattering (flag set; from == to), shelve, unshelve, shelve_expired,
//   suppress, unsuppress.
struct AlertTransition {
  std::string alert_id;  // stable for one occurrence (raise .. clear), unique across restarts
  std::string asset, cause, source;
  std::string area, position;
  Priority priority = Priority::kLow;
  std::string action;
  AlertState from = AlertState::kNormal;
  AlertState to = AlertState::kNormal;
  Timestamp time;
  std::string who;     // operator for ack/shelve/unshelve, "" for the engine
  std::string reason;  // ack comment, shelve reason, "machine state 'stopped'", chatter count
  double value = 0;
  bool chattering = false;
  std::string machine_state;
  std::string message;
  bool operator==(const AlertTransition&) const = default;
};

// Count of alerts raised per (asset, cause) within a flood.
struct CauseCount {
  std::string asset, cause;
  int count = 0;
  bool operator==(const CauseCount&) const = default;
};

// A flood on one operator position: emitted once when it starts (ended == false, the alerts that
// caused it so far) and once when it ends (ended == true, the whole summary).
struct FloodRecord {
  std::string position;
  bool ended = false;
  Timestamp start;  // time of the alert that made it a flood
  Timestamp end;    // when the count in the window fell back to flood_count (== start until ended)
  int count = 0;    // alerts raised in the flood (the window that started it and all after)
  int low = 0, medium = 0, high = 0;
  Timestamp first, last;          // first and last alert raised in the flood
  std::vector<CauseCount> top;    // up to 5 most frequent, most first, ties by asset then cause
  bool operator==(const FloodRecord&) const = default;
};

// What one engine call produced, in time order.
struct EngineOutput {
  std::vector<AlertTransition> transitions;
  std::vector<FloodRecord> floods;
};

}  // namespace pf::alerts
