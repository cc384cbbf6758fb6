#pragma once
// AlertService: the runtime's side of alerts/. Owns the one AlertEngine of the process and the
// threshold rules of [[alerts.rules]]; turns samples into ConditionUpdates, engine output into
// Events of kind "alert" (stored in the events table and forwarded through the outbox in the
// processor's group commit), keeps the engine snapshot in the store's state table (key
// kSnapshotKey) so alert state survives kill -9, and serves the /api/v1/alerts routes.
//
// Thread-safety: OnSample/Tick/TakeSnapshotIfChanged are called by the processor thread only;
// the API handlers run on API threads. The engine is guarded by mu_ (never held while calling
// into the runtime or the store, except the read-only events query of /stats).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "alerts/alert_engine.h"
#include "alerts/threshold_rule.h"
#include "api/api_server.h"
#include "runtime/plant_config.h"
#include "store/store.h"

namespace pf {

class AlertService {
 public:
  static constexpr const char* kSnapshotKey = "alerts.engine";

  // Restores the engine from the store's snapshot when there is one. store must outlive this.
  static Result<std::unique_ptr<AlertService>> Create(const PlantConfig& pc, Store& store);

  bool has_rules() const { return !rules_.empty(); }
  // The context key under which the asset's machine state is stamped ("" = none configured).
  const std::string& MachineStateKey(const std::string& asset) const;

  // Processor thread: one sample; alert events are appended to `out`.
  void OnSample(const Sample& s, const std::string& machine_state, std::vector<Event>& out);
  // Processor thread: time-driven rules and the engine's delays, expiries and flood ends.
  void Tick(Timestamp now, const std::function<std::string(const std::string&)>& machine_state,
            std::vector<Event>& out);
  // Processor thread: the snapshot when the engine changed since the last call, else nullopt.
  std::optional<std::string> TakeSnapshotIfChanged();

  // Registers GET /api/v1/alerts, GET /api/v1/alerts/stats and POST .../ack, .../shelve,
  // .../unshelve (state-changing). emit: how action events reach the commit path (Runtime::Emit).
  Status AddRoutes(ApiServer& api, std::function<void(Event&&)> emit);

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

  Store& store_;
  std::function<void(Event&&)> emit_;
  std::vector<alerts::ThresholdRule> rules_;
  std::map<TagId, std::vector<size_t>> rules_by_tag_;
  std::map<std::string, std::string> machine_state_key_;  // asset -> context key
  mutable std::mutex mu_;
  alerts::AlertEngine engine_;
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> errors_{0};
  uint64_t saved_changes_ = 0;  // processor thread
};

}  // namespace pf
