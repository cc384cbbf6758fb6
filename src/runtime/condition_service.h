#pragma once
// ConditionService: the [[condition.monitors]] of the running plant. Each monitor is an
// apps::ConditionMonitor fed by the processor thread with its waveform tag's blocks and its speed
// tag's samples. What a window yields goes back into the normal paths: the derived values as
// samples of the derived tags (history, SPC, threshold rules), the condition updates to the alert
// engine (with their evidence, which the runtime adds to the alert event's payload), the baseline
// events to the events table. The learned baselines live in the store's state table
// ("condition.baseline.<name>"), so a restart scores at once instead of learning again.
//
// Thread-safety: OnBlock/OnSpeed/TakeStateIfChanged on the processor thread; the API handler on
// API threads; one mutex guards the monitors.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/api_server.h"
#include "apps/condition_monitor.h"
#include "runtime/plant_config.h"
#include "store/store.h"

namespace pf {

class ConditionService {
 public:
  static constexpr const char* kStatePrefix = "condition.baseline.";

  // What one block produced, for the runtime to route.
  struct Output {
    std::vector<Sample> samples;                   // derived tags
    std::vector<apps::ConditionChange> conditions;
    std::vector<Event> events;
  };

  // Restores each monitor's baseline from the store (a saved baseline that no longer fits the
  // configuration is logged and learned again). store must outlive this.
  static Result<std::unique_ptr<ConditionService>> Create(const PlantConfig& pc, Store& store);
  ~ConditionService();
  bool empty() const { return monitors_.empty(); }
  bool WatchesSpeed(TagId tag) const { return by_speed_.count(tag) > 0; }

  // Processor thread.
  void OnBlock(const Block& block, Output& out);
  void OnSpeed(const Sample& s);
  std::map<std::string, std::string> TakeStateIfChanged();

  // GET /api/v1/condition/monitors: each monitor's settings, state and latest values.
  Status AddRoutes(ApiServer& api);

  struct Monitor;

 private:
  ConditionService() = default;

  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::map<TagId, std::vector<Monitor*>> by_tag_, by_speed_;
  mutable std::mutex mu_;
};

}  // namespace pf
