#pragma once
// AlertService: the runtime's side of alerts/. Owns the one AlertEngine of the process and the
// threshold rules of [[alerts.rules]]; turns samples into ConditionUpdates, engine output into
// Events of kind "alert" (stored in the events table and forwarded through the outbox in the
// processor's group commit), keeps the engine snapshot in the store's state table (key
// kSnapshotKey) so alert state survives kill -9, and serves the /api/v1/alerts routes.
//
// Thread-safety: OnSample/Tick/TakeStateIfChanged are called by the processor thread only;
// the API handlers run on API threads. The engine is guarded by mu_ (never held while calling
// into the runtime or the store, except the read-only events query of /stats).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "alerts/alarm_metrics.h"
#include "alerts/alert_engine.h"
#include "alerts/labels.h"
#include "alerts/threshold_rule.h"
#include "api/api_server.h"
#include "core/metrics.h"
#include "runtime/plant_config.h"
#include "store/store.h"

namespace pf {

class AlertService {
 public:
  static constexpr const char* kSnapshotKey = "alerts.engine";          // the engine's global part
  static constexpr const char* kFloodsKey = "alerts.floods";            // the flood detector
  static constexpr const char* kConditionPrefix = alerts::AlertEngine::kConditionStatePrefix;  // one per condition

  // Restores the engine from the store's snapshot when there is one. store must outlive this.
  static Result<std::unique_ptr<AlertService>> Create(const PlantConfig& pc, Store& store);

  bool has_rules() const { return !rules_.empty(); }
  // The alert clock: the wall clock, or with [alerts] clock = "source" the newest source time of
  // the samples the rules watch (replayed data: delays, expiries, stats periods and operator
  // actions follow the data's time). nullopt in source mode before the first such sample.
  std::optional<Timestamp> AlertNow() const;
  // The context key under which the asset's machine state is stamped ("" = none configured).
  const std::string& MachineStateKey(const std::string& asset) const;

  // Processor thread: one sample; alert events are appended to `out`.
  void OnSample(const Sample& s, const std::string& machine_state, std::vector<Event>& out);
  // Processor thread: a condition reported by another module (the SPC charts).
  void Evaluate(const alerts::ConditionUpdate& update, std::vector<Event>& out);
  // Processor thread: time-driven rules and the engine's delays, expiries and flood ends.
  void Tick(Timestamp now, const std::function<std::string(const std::string&)>& machine_state,
            std::vector<Event>& out);
  // Processor thread: the state-table entries of the engine changed since the last call (the
  // global part and each changed condition; empty when nothing changed).
  std::map<std::string, std::string> TakeStateIfChanged();

  // How operator events reach the store: committed before the call returns (Runtime::EmitDurable).
  using DurableEmit = std::function<Status(std::vector<Event>)>;
  // Registers GET /api/v1/alerts, /alerts/stats, /alerts/precision, /alerts/causes and the
  // state-changing POST /api/v1/alerts/{id}/ack, .../shelve, .../unshelve, .../feedback and
  // POST /api/v1/assets/{id}/maintenance. An action is answered after its events are committed.
  Status AddRoutes(ApiServer& api, DurableEmit emit);

  // Recomputes the alarm-rate metrics (last 24 h) and the precision per source (last 30 days)
  // from the stored events for /metrics. Called by the runtime's housekeeping thread.
  void RefreshMetrics(Timestamp now);
  // Registers the gauge families of /metrics that show the last RefreshMetrics: per operator
  // position pf_alarm_rate_per_10min, pf_alarm_rate_max_per_10min, pf_alarm_flood_time_percent,
  // pf_alarm_standing, pf_alarm_chattering, pf_alarm_raised, pf_alarm_top (rank, asset, cause),
  // the published targets pf_alarm_target{metric}, and per alert source pf_alert_precision,
  // pf_alert_feedback{verdict}, pf_alert_feedback_coverage, per asset pf_alert_missed_failures.
  void RegisterMetrics(MetricsRegistry& metrics, const void* owner);

  // Current alerts in `state` ("unack", "acked", ...), for the pf_alerts_current gauge. Any thread.
  size_t CountInState(alerts::AlertState state) const;
  // Rule verdicts the engine refused (e.g. a sample older than the condition's last update).
  uint64_t errors() const { return errors_.load(); }

  // Engine output as events (public for tests).
  static std::vector<Event> ToEvents(const alerts::EngineOutput& output);

 private:
  AlertService(const PlantConfig& pc, Store& store, alerts::AlertEngine engine);
  void Apply(Result<alerts::EngineOutput> r, std::vector<Event>& out, const char* what);
  ApiResponse List(const ApiRequest& r) const;
  ApiResponse Stats(const ApiRequest& r) const;
  ApiResponse Action(const ApiRequest& r, const std::string& action);
  ApiResponse Feedback(const ApiRequest& r);
  ApiResponse Maintenance(const ApiRequest& r);
  ApiResponse Precision(const ApiRequest& r) const;
  // The alert an operator refers to: the current occurrence, else the stored raise of an ended one.
  std::optional<alerts::AlertTransition> FindAlert(const std::string& alert_id) const;
  Result<alerts::AlarmMetrics> RateMetrics(Timestamp start, Timestamp end, bool by_area) const;
  Result<alerts::PrecisionReport> PrecisionBetween(Timestamp start, Timestamp end) const;
  // Every stored event of `kind` with start in [from, to), oldest first.
  Result<std::vector<Event>> EventsBetween(const std::string& kind, Timestamp from, Timestamp to) const;
  ApiResponse Commit(std::vector<Event> events) const;

  Store& store_;
  DurableEmit emit_;
  std::set<std::string> assets_;
  std::vector<std::string> cause_codes_;
  bool source_clock_ = false;
  std::atomic<int64_t> clock_ns_{0};  // source mode: newest source time seen by the rules
  mutable std::mutex metrics_mu_;  // guards the two caches below
  std::optional<alerts::AlarmMetrics> rate_cache_;
  std::optional<alerts::PrecisionReport> precision_cache_;
  std::vector<alerts::ThresholdRule> rules_;
  std::map<TagId, std::vector<size_t>> rules_by_tag_;
  std::map<std::string, std::string> machine_state_key_;  // asset -> context key
  mutable std::mutex mu_;
  alerts::AlertEngine engine_;
  std::atomic<uint64_t> errors_{0};
};

}  // namespace pf
