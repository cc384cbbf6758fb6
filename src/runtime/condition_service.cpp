#include "runtime/condition_service.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace pf {

using nlohmann::json;

struct ConditionService::Monitor {
  ConditionMonitorEntry entry;
  std::unique_ptr<apps::ConditionMonitor> app;
  std::array<TagId, apps::kDerivedCount> derived{};
  std::array<std::optional<double>, apps::kDerivedCount> latest{};
  uint64_t blocks = 0, windows = 0, refused_blocks = 0;
  std::string last_error;
  std::string diagnosis = "none";  // the last window's envelope diagnosis (before debouncing)
  std::vector<apps::MonitorStep> steps;  // reused per block
};

struct ConditionService::Overall {
  OverallMonitorEntry entry;
  std::unique_ptr<apps::OverallMonitor> app;
  std::array<TagId, apps::kOverallDerivedCount> derived{};
  std::array<std::optional<double>, apps::kOverallDerivedCount> latest{};
  std::optional<double> last_value;
  uint64_t samples = 0, fresh = 0;

  void Route(apps::OverallStep& step, uint64_t seq, Output& out) {
    for (int d = 0; d < apps::kOverallDerivedCount; ++d) {
      const auto& v = step.values[static_cast<size_t>(d)];
      if (!v) continue;
      latest[static_cast<size_t>(d)] = v;
      Sample x;
      x.tag = derived[static_cast<size_t>(d)];
      x.value = *v;
      x.source_time = step.time;
      x.receive_time = Now();
      x.seq = seq;
      out.samples.push_back(std::move(x));
    }
    for (auto& c : step.conditions) out.conditions.push_back(std::move(c));
    for (auto& e : step.events) out.events.push_back(std::move(e));
  }
};

ConditionService::~ConditionService() = default;

Result<std::unique_ptr<ConditionService>> ConditionService::Create(const PlantConfig& pc, Store& store) {
  std::unique_ptr<ConditionService> svc(new ConditionService());
  std::map<std::string, TagId> ids;
  for (const TagDef& t : pc.tags) ids[t.name] = t.id;
  int index = 0;
  for (const ConditionMonitorEntry& e : pc.condition_monitors) {
    auto m = std::make_unique<Monitor>();
    m->entry = e;
    // Kurtograms round-robin over the monitors: eight channels configured together would otherwise
    // compute theirs on the same window and queue the processor thread behind them.
    m->entry.monitor.kurtogram_phase = index++ % e.monitor.kurtogram_blocks;
    PF_ASSIGN_OR_RETURN(m->app, apps::ConditionMonitor::Create(m->entry.monitor));
    for (int d = 0; d < apps::kDerivedCount; ++d)
      m->derived[static_cast<size_t>(d)] =
          ids.at(fmt::format("{}.{}", e.monitor.tag, apps::DerivedSuffix(static_cast<apps::Derived>(d))));  // BuildPlantConfig made them
    const std::string key = kStatePrefix + e.monitor.name;
    PF_ASSIGN_OR_RETURN(std::optional<std::string> saved, store.LoadState(key));
    if (saved) {
      if (Status s = m->app->RestoreBaseline(*saved); !s.ok())
        PF_LOG_WARN("condition monitor '{}': saved baseline not used: {}", e.monitor.name, s.ToString());
      else
        PF_LOG_INFO("condition monitor '{}': baseline restored from the state table", e.monitor.name);
    }
    svc->by_tag_[ids.at(e.monitor.tag)].push_back(m.get());
    if (!e.speed_tag.empty()) svc->by_speed_[ids.at(e.speed_tag)].push_back(m.get());
    svc->monitors_.push_back(std::move(m));
  }
  for (const OverallMonitorEntry& e : pc.condition_overall) {
    auto m = std::make_unique<Overall>();
    m->entry = e;
    PF_ASSIGN_OR_RETURN(m->app, apps::OverallMonitor::Create(e.monitor));
    for (int d = 0; d < apps::kOverallDerivedCount; ++d)
      m->derived[static_cast<size_t>(d)] = ids.at(
          fmt::format("{}.{}", e.monitor.tag, apps::OverallDerivedSuffix(static_cast<apps::OverallDerived>(d))));
    const std::string key = kOverallStatePrefix + e.monitor.name;
    PF_ASSIGN_OR_RETURN(std::optional<std::string> saved, store.LoadState(key));
    if (saved) {
      if (Status s = m->app->RestoreBaseline(*saved); !s.ok())
        PF_LOG_WARN("overall monitor '{}': saved baseline not used: {}", e.monitor.name, s.ToString());
      else
        PF_LOG_INFO("overall monitor '{}': baseline restored from the state table", e.monitor.name);
    }
    svc->overall_by_tag_[ids.at(e.monitor.tag)].push_back(m.get());
    if (!e.speed_tag.empty()) svc->overall_by_speed_[ids.at(e.speed_tag)].push_back(m.get());
    svc->overall_.push_back(std::move(m));
  }
  return svc;
}

void ConditionService::OnSpeed(const Sample& s) {
  auto it = by_speed_.find(s.tag);
  auto ot = overall_by_speed_.find(s.tag);
  if (it == by_speed_.end() && ot == overall_by_speed_.end()) return;
  std::optional<double> v = s.quality == Quality::kBad ? std::nullopt : AsDouble(s.value);
  std::lock_guard lk(mu_);
  if (it != by_speed_.end())
    for (Monitor* m : it->second) m->app->OnSpeed(v.value_or(std::nan("")), s.source_time);
  if (ot != overall_by_speed_.end())
    for (Overall* m : ot->second) m->app->OnSpeed(v.value_or(std::nan("")), s.source_time);
}

void ConditionService::OnSample(const Sample& s, Output& out) {
  auto it = overall_by_tag_.find(s.tag);
  if (it == overall_by_tag_.end()) return;
  const double v = AsDouble(s.value).value_or(std::nan(""));  // a string or an array is not a number
  std::lock_guard lk(mu_);
  for (Overall* m : it->second) {
    apps::OverallStep step = m->app->OnSample(v, s.quality, s.source_time);
    ++m->samples;
    m->fresh += step.fresh;
    m->last_value = v;
    m->Route(step, s.seq, out);
  }
}

void ConditionService::Tick(Timestamp now, Output& out) {
  std::lock_guard lk(mu_);
  for (auto& m : overall_)
    if (std::optional<apps::OverallStep> step = m->app->Tick(now)) m->Route(*step, 0, out);
}

void ConditionService::OnBlock(const Block& block, Output& out) {
  auto it = by_tag_.find(block.tag);
  if (it == by_tag_.end()) return;
  std::lock_guard lk(mu_);
  for (Monitor* m : it->second) {
    ++m->blocks;
    m->steps.clear();
    Status s = m->app->OnBlock(block.values, block.sample_rate_hz, block.start_time, block.quality, m->steps);
    if (!s.ok()) {
      // Logged at 1, 2, 4, 8, ... refusals: a misconfigured rate must not flood the log.
      const uint64_t refused = ++m->refused_blocks;
      if ((refused & (refused - 1)) == 0) PF_LOG_WARN("{} ({} blocks refused)", s.message(), refused);
      m->last_error = s.message();
    }
    for (apps::MonitorStep& step : m->steps) {
      ++m->windows;
      if (!step.suppressed) m->diagnosis = std::string(dsp::FaultLocationName(step.diagnosis));
      for (int d = 0; d < apps::kDerivedCount; ++d) {
        const auto& v = step.values[static_cast<size_t>(d)];
        if (!v) continue;
        m->latest[static_cast<size_t>(d)] = v;
        Sample x;
        x.tag = m->derived[static_cast<size_t>(d)];
        x.value = *v;
        x.source_time = step.time;
        x.receive_time = Now();
        x.seq = block.seq;
        out.samples.push_back(std::move(x));
      }
      for (auto& c : step.conditions) out.conditions.push_back(std::move(c));
      for (auto& e : step.events) out.events.push_back(std::move(e));
    }
  }
}

std::map<std::string, std::string> ConditionService::TakeStateIfChanged() {
  std::map<std::string, std::string> out;
  std::lock_guard lk(mu_);
  for (auto& m : monitors_)
    if (m->app->TakeBaselineChanged())
      if (auto j = m->app->BaselineJson()) out[kStatePrefix + m->entry.monitor.name] = std::move(*j);
  for (auto& m : overall_)
    if (m->app->TakeBaselineChanged())
      if (auto j = m->app->BaselineJson()) out[kOverallStatePrefix + m->entry.monitor.name] = std::move(*j);
  return out;
}

Status ConditionService::AddRoutes(ApiServer& api) {
  return api.AddRoute(
      "GET", "/api/v1/condition/monitors",
      [this](const ApiRequest&) {
        json items = json::array();
        std::lock_guard lk(mu_);
        for (const auto& m : monitors_) {
          const apps::ConditionMonitorConfig& c = m->entry.monitor;
          json latest = json::object();
          for (int d = 0; d < apps::kDerivedCount; ++d)
            if (const auto& v = m->latest[static_cast<size_t>(d)]) latest[std::string(apps::DerivedSuffix(static_cast<apps::Derived>(d)))] = *v;
          items.push_back({{"name", c.name},
                           {"kind", "waveform"},
                           {"asset", c.asset},
                           {"tag", c.tag},
                           {"speed_tag", m->entry.speed_tag.empty() ? json(nullptr) : json(m->entry.speed_tag)},
                           {"rpm", c.fixed_rpm ? json(*c.fixed_rpm) : json(nullptr)},
                           {"status", m->app->StatusText()},
                           {"diagnosis", m->diagnosis},
                           {"blocks", m->blocks},
                           {"windows", m->windows},
                           {"refused_blocks", m->refused_blocks},
                           {"last_error", m->last_error.empty() ? json(nullptr) : json(m->last_error)},
                           {"latest", latest}});
        }
        for (const auto& m : overall_) {
          const apps::OverallMonitorConfig& c = m->entry.monitor;
          json latest = json::object();
          for (int d = 0; d < apps::kOverallDerivedCount; ++d)
            if (const auto& v = m->latest[static_cast<size_t>(d)])
              latest[std::string(apps::OverallDerivedSuffix(static_cast<apps::OverallDerived>(d)))] = *v;
          if (m->last_value && std::isfinite(*m->last_value)) latest["velocity_rms"] = *m->last_value;
          items.push_back({{"name", c.name},
                           {"kind", "overall"},
                           {"asset", c.asset},
                           {"tag", c.tag},
                           {"speed_tag", m->entry.speed_tag.empty() ? json(nullptr) : json(m->entry.speed_tag)},
                           {"zones_mm_s", {{"ab", c.zones.ab}, {"bc", c.zones.bc}, {"cd", c.zones.cd}}},
                           {"machine_group", c.machine_group},
                           {"foundation", c.foundation},
                           {"status", m->app->StatusText()},
                           {"samples", m->samples},
                           {"fresh_samples", m->fresh},
                           {"latest", latest}});
        }
        return ApiResponse::Json({{"monitors", items}});
      },
      false);
}

}  // namespace pf
