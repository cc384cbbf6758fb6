#pragma once
// ConditionService: the [[condition.monitors]] of the running plant. Each monitor is an
// apps::ConditionMonitor fed by the processor thread with its waveform tag's blocks and its speed
// tag's samples. What a window yields goes back into the normal paths: the derived values as
// samples of the derived tags (history, SPC, threshold rules), the condition updates to the alert
// engine (with their evidence, which the runtime adds to the alert event's payload), the baseline
// events to the events table. The learned baselines live in the store's state table
// ("condition.baseline.<name>"), so a restart scores at once instead of learning again.
// The [[condition.overall]] monitors (apps::OverallMonitor) are fed the scalar samples of their
// overall tag by OnSample and the passing time by Tick (staleness); their baselines live under
// "condition.overall.<name>".
//
// Thread-safety: OnBlock/OnSpeed/OnSample/Tick/TakeStateIfChanged on the processor thread; the API
// handler on API threads; one mutex guards the monitors.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/api_server.h"
#include "apps/condition_monitor.h"
#include "apps/overall_monitor.h"
#include "runtime/plant_config.h"
#include "store/store.h"

namespace pf {

class ConditionService {
 public:
  static constexpr const char* kStatePrefix = "condition.baseline.";
  static constexpr const char* kOverallStatePrefix = "condition.overall.";

  // What one block produced, for the runtime to route.
  struct Output {
    std::vector<Sample> samples;                   // derived tags
    std::vector<apps::ConditionChange> conditions;
    std::vector<Event> events;
    bool empty() const { return samples.empty() && conditions.empty() && events.empty(); }
  };

  // Restores each monitor's baseline from the store (a saved baseline that no longer fits the
  // configuration is logged and learned again). store must outlive this.
  static Result<std::unique_ptr<ConditionService>> Create(const PlantConfig& pc, Store& store);
  ~ConditionService();
  bool empty() const { return monitors_.empty() && overall_.empty(); }
  bool has_overall() const { return !overall_.empty(); }
  bool WatchesSpeed(TagId tag) const { return by_speed_.count(tag) > 0; }

  // Processor thread.
  void OnBlock(const Block& block, Output& out);
  void OnSpeed(const Sample& s);
  // A sample of any tag: those of overall tags go to their monitors.
  void OnSample(const Sample& s, Output& out);
  // The clock of the alerts (staleness of the overall tags).
  void Tick(Timestamp now, Output& out);
  std::map<std::string, std::string> TakeStateIfChanged();

  // GET /api/v1/condition/monitors: each monitor's settings, state and latest values.
  Status AddRoutes(ApiServer& api);

  struct Monitor;
  struct Overall;

 private:
  ConditionService() = default;

  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::map<TagId, std::vector<Monitor*>> by_tag_, by_speed_;
  std::vector<std::unique_ptr<Overall>> overall_;
  std::map<TagId, std::vector<Overall*>> overall_by_tag_, overall_by_speed_;
  mutable std::mutex mu_;
};

}  // namespace pf
