#pragma once
// SpcService: the live control charts of [[spc.charts]] in the running plant. Each chart is a
// spc::LiveChart fed by the processor thread with its tag's samples; completed points are judged
// against the approved limits of the current production-context key (key_by), and each violated
// rule is an alert condition (source "spc:<name>", cause "<name>.<chart>.<rule>") that the alert
// engine raises, deduplicates and clears like any other.
//
// Limits are governed (spc::LimitRegistry): from the config (center/sigma), from the first
// `baseline` points (Phase I through spc::LiveChart::EstimateLimits; approved at once when
// baseline_approve, else a proposal), or proposed through the API and approved by an engineer.
// Every proposal, approval, rejection and refused baseline is an event of kind "limit_change"
// (stored, forwarded); the registries live in the store's state table ("spc.limits.<name>") and
// are written in the same commit as those events.
//
// Thread-safety: OnSample/Tick/TakeStateIfChanged on the processor thread; API handlers on API
// threads; one mutex guards the charts.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "alerts/alert_types.h"
#include "api/api_server.h"
#include "runtime/plant_config.h"
#include "spc/governance.h"
#include "spc/live_chart.h"
#include "store/store.h"

namespace pf {

class SpcService {
 public:
  static constexpr const char* kStatePrefix = "spc.limits.";
  using DurableEmit = std::function<Status(std::vector<Event>)>;

  // Restores each chart's limit registry from the store. store must outlive this.
  static Result<std::unique_ptr<SpcService>> Create(const PlantConfig& pc, Store& store);
  ~SpcService();
  bool empty() const { return charts_.empty(); }

  // Processor thread: one sample; context = the asset's production context (for key_by),
  // machine_state for alert suppression. Alert conditions and limit_change events are appended.
  void OnSample(const Sample& s, const ProductionContext& context, const std::string& machine_state,
                std::vector<alerts::ConditionUpdate>& updates, std::vector<Event>& events);
  // Processor thread: closes due time windows.
  void Tick(Timestamp now, std::vector<alerts::ConditionUpdate>& updates, std::vector<Event>& events);
  // Processor thread: state-table entries of the registries changed since the last call.
  std::map<std::string, std::string> TakeStateIfChanged();

  // GET /api/v1/spc/charts, /spc/charts/{name}, /spc/charts/{name}/limits; state-changing
  // POST /spc/charts/{name}/limits (propose), .../limits/{version}/approve, .../reject.
  Status AddRoutes(ApiServer& api, DurableEmit emit);

  struct Chart;  // one chart's state (spc_service.cpp)

 private:
  explicit SpcService(Store& store);
  Chart* FindChart(const std::string& name) const;
  ApiResponse List(const ApiRequest& r) const;
  ApiResponse Get(const ApiRequest& r) const;
  ApiResponse Limits(const ApiRequest& r) const;
  ApiResponse Propose(const ApiRequest& r);
  ApiResponse Decide(const ApiRequest& r, bool approve);

  Store& store_;
  DurableEmit emit_;
  std::vector<std::unique_ptr<Chart>> charts_;
  std::map<TagId, std::vector<Chart*>> by_tag_;
  std::vector<Chart*> windowed_;  // charts subgrouped by time (Tick closes their windows)
  bool any_changed_ = false;      // some chart's registry changed since TakeStateIfChanged
  mutable std::mutex mu_;
};

}  // namespace pf
