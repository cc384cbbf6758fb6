#pragma once
// AlertEngine: the ISA-18.2 alert lifecycle for every condition of the plant, as a pure,
// deterministic state machine. Rules feed it ConditionUpdates; operators ack, shelve and
// unshelve; Tick(now) fires on/off delays and shelve expiries. Every state change comes back as
// an AlertTransition (and floods as FloodRecords) that the caller persists and forwards.
//
// Lifecycle of one condition (asset, cause):
//   normal --active for on_delay--> unack --ack--> acked --normal for off_delay--> normal (clear)
//   unack --normal for off_delay--> rtn_unack --ack--> normal (clear)
//   rtn_unack --active for on_delay--> unack (reactivate, same occurrence)
//   any occurrence --shelve(expiry, reason, who)--> shelved --unshelve / expiry--> reconciled
//   any occurrence --machine state in suppress_in_states--> suppressed --state leaves--> reconciled
// "Reconciled": the state the condition has now (active: unack/acked with the same occurrence,
// or a new raise if there was none; normal: the occurrence ends). While shelved or suppressed no
// alert is raised. Conditions without an occurrence are hidden silently (no record).
// Chattering: more than chatter_count activations of the raw condition within chatter_window flag
// the occurrence (one "chattering" record) and latch it: it returns to normal only after the
// condition stayed normal for max(off_delay, chatter_window). A signal crossing a limit 500 times
// in 10 minutes is thus ONE occurrence until it has been quiet for the chatter window.
// (Unacked, the first crossings are rtn/reactivate of that one occurrence; only an operator ack
// during the first chatter_count crossings can end an occurrence before the flag is set.)
//
// Time is passed in; updates of one condition must not go back in time (refused). For exact flood
// times across conditions, call Tick(now) before Evaluate when time has moved on.
// Not thread-safe: one owner (the runtime's alert thread) calls it.
#include <deque>
#include <tuple>
#include <set>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alert_types.h"
#include "alerts/flood.h"

namespace pf::alerts {

// What the API lists for an alert that has an occurrence (or is hidden).
struct AlertView {
  std::string alert_id;
  std::string asset, cause, source, area, position;
  Priority priority = Priority::kLow;
  AlertState state = AlertState::kNormal;
  bool condition_active = false;  // debounced condition
  bool chattering = false;
  Timestamp raised_at;
  std::string acked_by;
  Timestamp acked_at;
  std::optional<Timestamp> shelved_until;
  std::string shelve_reason, shelved_by;
  double value = 0;
  std::string message;
};

class AlertEngine {
 public:
  // Longest allowed shelve (EEMUA 191: shelving is time-limited and reviewed).
  static constexpr Duration kDefaultMaxShelve = std::chrono::hours(24 * 7);

  explicit AlertEngine(AlertEngineConfig config);
  // A config that fails Validate() is refused.
  static Result<AlertEngine> Create(AlertEngineConfig config);

  // Applies one rule evaluation. Errors: InvalidArgument (empty asset/cause/source),
  // OutOfRange (time before the condition's last update).
  Result<EngineOutput> Evaluate(const ConditionUpdate& update);
  // Fires due on/off delays, shelve expiries and flood ends up to `now`.
  EngineOutput Tick(Timestamp now);

  // Operator actions on the current occurrence `alert_id`. NotFound: no current occurrence has
  // this id (unknown or already cleared). FailedPrecondition: the state does not allow it.
  // InvalidArgument messages start with the offending field name ("who: ...", "expires: ...").
  Result<EngineOutput> Ack(const std::string& alert_id, const std::string& who, const std::string& comment, Timestamp now);
  Result<EngineOutput> Shelve(const std::string& alert_id, const std::string& who, const std::string& reason,
                              std::optional<Timestamp> expires, Timestamp now);
  Result<EngineOutput> Unshelve(const std::string& alert_id, const std::string& who, Timestamp now);

  std::vector<AlertView> Current() const;  // every condition with an occurrence, by alert id
  std::optional<AlertView> Find(const std::string& alert_id) const;
  bool InFlood(const std::string& position) const { return flood_.InFlood(position); }
  const AlertEngineConfig& config() const { return config_; }
  void set_max_shelve(Duration d) { max_shelve_ = d; }

  // The whole state as JSON (versioned). Restore(config, Snapshot()) continues exactly where this
  // engine is; the caller stores it with the transitions of the same call in one commit.
  std::string Snapshot() const;
  static Result<AlertEngine> Restore(AlertEngineConfig config, const std::string& snapshot);

  // Incremental form for large plants: the small global part (alert id sequence), the flood
  // detector (only when a flood started or ended: its windows grow with the alert rate, so a
  // restart within a flood counts that flood's alerts again from the last start), and one document
  // per condition whose lifecycle changed since the last call (value, message and last update of
  // a condition that stays as it is are refreshed by its next sample), each under its own key
  // (ConditionStateKey); nullopt when nothing changed. Restore(config, latest global, latest
  // floods, the latest document per key) continues where this engine was.
  struct SnapshotDelta {
    std::string global;
    std::optional<std::string> floods;
    std::vector<std::pair<std::string, std::string>> conditions;  // (ConditionStateKey, JSON)
  };
  std::optional<SnapshotDelta> TakeSnapshotDelta();
  void MarkAllDirty();  // the next delta holds every condition (after Restore from a whole snapshot)
  static constexpr const char* kConditionStatePrefix = "alerts.condition/";
  static std::string ConditionStateKey(const std::string& asset, const std::string& cause);  // prefix + asset + 0x1f + cause
  static Result<AlertEngine> Restore(AlertEngineConfig config, const std::string& global,
                                     const std::optional<std::string>& floods, const std::vector<std::string>& conditions);

 private:
  struct Condition {
    std::string asset, cause, source;
    Priority priority = Priority::kLow;
    bool raw = false;        // last reported condition
    Timestamp raw_since;     // when `raw` took its current value
    Timestamp last_update;
    bool debounced = false;  // raw after on/off delay
    AlertState life = AlertState::kNormal;  // normal, unack, acked or rtn_unack
    std::string alert_id;
    Timestamp raised_at;
    std::string acked_by;
    Timestamp acked_at;
    bool chattering = false;
    std::deque<Timestamp> activations;  // raw rising edges within the chatter window
    bool shelved = false;
    Timestamp shelve_expiry;
    std::string shelve_reason, shelved_by;
    bool suppressed = false;
    double value = 0;
    std::string machine_state, message;

    AlertState Reported() const;
    bool Hidden() const { return shelved || suppressed; }
    // What a restore must get right (value, message and last_update are refreshed by the next sample).
    auto Lifecycle() const {
      return std::make_tuple(raw, raw_since, debounced, life, alert_id, chattering, activations.size(), shelved,
                             suppressed, priority, source);
    }
  };
  using Key = std::pair<std::string, std::string>;  // (asset, cause)

  Duration OffDelay(const Condition& c) const;
  std::optional<Timestamp> NextDue(const Condition& c) const;
  void Advance(Condition& c, Timestamp now, std::vector<AlertTransition>& out);
  void OnDebounced(Condition& c, Timestamp t, std::vector<AlertTransition>& out);
  void Raise(Condition& c, Timestamp t, std::vector<AlertTransition>& out);
  void EndOccurrence(Condition& c);
  void CheckChatter(Condition& c, Timestamp t, std::vector<AlertTransition>& out);
  // Moves to hidden (shelved/suppressed) or back, after one of the two flags changed.
  void Reveal(Condition& c, AlertState before, const std::string& action, Timestamp t, const std::string& who,
              const std::string& reason, std::vector<AlertTransition>& out);
  void SetSuppressed(Condition& c, bool suppressed, Timestamp t, std::vector<AlertTransition>& out);
  AlertTransition Record(const Condition& c, const std::string& action, AlertState from, AlertState to,
                         Timestamp t) const;
  Condition* ByAlertId(const std::string& alert_id);
  AlertView View(const Condition& c) const;
  EngineOutput Finish(std::vector<AlertTransition> transitions, std::optional<Timestamp> now);

  friend struct SnapshotCodec;

  AlertEngineConfig config_;
  Duration max_shelve_ = kDefaultMaxShelve;
  std::set<Key> dirty_;        // conditions changed since the last TakeSnapshotDelta
  bool global_dirty_ = false;  // the alert id sequence changed
  bool floods_dirty_ = false;  // a flood started or ended
  std::map<Key, Condition> conditions_;
  FloodDetector flood_;
  uint64_t next_seq_ = 1;
};

}  // namespace pf::alerts
