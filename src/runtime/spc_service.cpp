#include "runtime/spc_service.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "api/params.h"
#include "core/log.h"
#include "spc/autocorr.h"
#include "spc/capability.h"

namespace pf {

using nlohmann::json;

namespace {
constexpr size_t kRecentPoints = 100;     // per chart, for the API (about 9 KB)
constexpr size_t kRecentViolations = 50;  // per chart, for the API
constexpr const char* kSystem = "plantfloor";
}  // namespace

struct SpcService::Chart {
  SpcChartConfig cfg;
  TagId tag = 0;
  spc::LiveChartConfig live_cfg;
  std::optional<spc::LiveChart> live;
  spc::LimitRegistry registry;
  std::string key;             // current production-context value of key_by ("" without key_by)
  int active_version = 0;      // applied to `live`; 0 = baseline phase
  int64_t key_points = 0;      // points since the key (and so the process) last changed
  int64_t next_baseline = 0;   // key_points at which the next baseline attempt is made
  std::string baseline_status;
  std::set<std::string> active_causes;  // alert conditions currently reported active
  std::map<std::string, int64_t> violations_by_rule;
  std::deque<spc::LivePoint> recent;
  std::deque<spc::Violation> recent_violations;
  bool changed = false;  // registry changed since the last TakeStateIfChanged

};

namespace {

spc::ChartType TypeOf(const std::string& chart) {
  return chart == "xbar_r" ? spc::ChartType::kXbarR : chart == "xbar_s" ? spc::ChartType::kXbarS : spc::ChartType::kIMR;
}

spc::LiveLimits ToLive(const SpcService::Chart& c, const spc::LimitValues& v) {
  spc::LiveLimits l;
  l.type = c.live_cfg.type;
  l.n = v.n;
  l.center = v.center;
  l.sigma = v.sigma;
  return l;
}

// The main chart's limits for display: center ± 3 σ/√n.
std::pair<double, double> MainLimits(const spc::LimitValues& v) {
  double se = v.sigma / std::sqrt(static_cast<double>(std::max(1, v.n)));
  return {v.center + 3 * se, v.center - 3 * se};
}

json VersionJson(const spc::LimitVersion& v) {
  auto [ucl, lcl] = MainLimits(v.values);
  auto time = [](Timestamp t) { return t.ns ? json(FormatRfc3339(t, 3)) : json(nullptr); };
  return {{"version", v.version},
          {"key", v.key},
          {"status", spc::LimitStatusName(v.status)},
          {"center", v.values.center},
          {"sigma", v.values.sigma},
          {"n", v.values.n},
          {"ucl", ucl},
          {"lcl", lcl},
          {"proposed_by", v.proposed_by},
          {"proposal_reason", v.proposal_reason},
          {"basis", v.basis},
          {"proposed_at", time(v.proposed_at)},
          {"decided_by", v.decided_by.empty() ? json(nullptr) : json(v.decided_by)},
          {"decision_reason", v.decision_reason.empty() ? json(nullptr) : json(v.decision_reason)},
          {"decided_at", time(v.decided_at)}};
}

json PointJson(const spc::LivePoint& p) {
  json j = {{"index", p.index}, {"time", FormatRfc3339(p.time, 3)}, {"chart", std::string(p.chart)},
            {"value", p.value}, {"n", p.n}};
  if (p.has_limits) {
    j["center"] = p.center;
    j["ucl"] = p.ucl;
    j["lcl"] = p.lcl;
  }
  return j;
}

json ViolationJson(const spc::Violation& v) {
  return {{"rule", v.rule}, {"chart", v.chart}, {"points", v.points}, {"zone", v.zone}, {"message", v.message}};
}

// A limit_change event of one chart.
Event LimitEvent(const SpcService::Chart& c, const std::string& action, const spc::LimitVersion* v, Timestamp t,
                 const std::string& who, const std::string& why, const std::string& message) {
  Event e;
  e.start = e.end = t;
  e.id = NewEventId(t);
  e.asset_id = c.cfg.asset;
  e.source = "spc:" + c.cfg.name;
  e.kind = "limit_change";
  e.severity = action == "baseline_refused" ? "medium" : "info";
  e.message = message;
  json p = {{"chart", c.cfg.name}, {"action", action}, {"tag", c.cfg.tag}};
  if (v) p["limits"] = VersionJson(*v);
  e.payload_json = p.dump();
  e.model_version = v ? fmt::format("{}@v{}", c.cfg.name, v->version) : "";
  e.operator_name = who;
  e.comment = why;
  return e;
}

// Applies the approved limits of the current key to the live chart (when they changed).
void ApplyActive(SpcService::Chart& c) {
  const spc::LimitVersion* v = c.registry.Active(c.key);
  int version = v ? v->version : 0;
  if (version == c.active_version) return;
  c.active_version = version;
  if (v) {
    Status s = c.live->SetLimits(ToLive(c, v->values));
    if (!s.ok()) PF_LOG_ERROR("spc chart '{}': limits v{} refused: {}", c.cfg.name, version, s.ToString());
  } else {
    c.live->ClearLimits();
  }
}

// Baseline: the first `baseline` points of a key without approved limits (and without an open
// proposal) become a Phase I study.
void MaybeBaseline(SpcService::Chart& c, Timestamp now, std::vector<Event>& events) {
  if (c.active_version != 0 || c.key_points < c.next_baseline) return;
  for (const auto& v : c.registry.versions())
    if (v.key == c.key && v.status == spc::LimitStatus::kProposed) return;  // waits for the engineer
  std::vector<spc::Subgroup> recent = c.live->RecentSubgroups();
  size_t n = static_cast<size_t>(c.cfg.baseline);
  if (recent.size() < n) return;
  std::vector<spc::Subgroup> baseline(recent.end() - static_cast<ptrdiff_t>(n), recent.end());
  spc::ChartOptions options;
  options.allow_autocorrelation = c.cfg.allow_autocorrelation;
  auto proposal = spc::LiveChart::EstimateLimits(c.live_cfg, baseline, options);
  c.next_baseline = c.key_points + c.cfg.baseline;  // the next attempt, if this one fails
  std::string basis = fmt::format("baseline of {} points from {} to {}", n, baseline.front().label, baseline.back().label);
  if (!proposal.ok()) {
    c.baseline_status = fmt::format("baseline refused: {}", proposal.status().message());
    events.push_back(LimitEvent(c, "baseline_refused", nullptr, now, kSystem, basis,
                                fmt::format("spc chart '{}': {}", c.cfg.name, c.baseline_status)));
    PF_LOG_WARN("spc chart '{}': {}", c.cfg.name, c.baseline_status);
    return;
  }
  spc::LimitValues values{proposal->limits.center, proposal->limits.sigma, proposal->limits.n};
  auto version = c.registry.Propose(c.key, values, kSystem, "baseline Phase I study", basis, now);
  if (!version.ok()) {
    c.baseline_status = fmt::format("baseline refused: {}", version.status().message());
    return;
  }
  c.changed = true;
  const spc::LimitVersion* v = c.registry.Find(*version);
  events.push_back(LimitEvent(c, "proposed", v, now, kSystem, "baseline Phase I study",
                              fmt::format("spc chart '{}': limits v{} proposed from the {}", c.cfg.name, *version, basis)));
  if (!c.cfg.baseline_approve) {
    c.baseline_status = fmt::format("limits v{} proposed from the baseline: waiting for approval", *version);
    return;
  }
  std::string why = fmt::format("baseline_approve = true in [[spc.charts]] '{}'", c.cfg.name);
  if (Status s = c.registry.Approve(*version, "config", why, now); !s.ok()) return;
  c.baseline_status = fmt::format("limits v{} from the baseline approved by the configuration", *version);
  events.push_back(LimitEvent(c, "approved", c.registry.Find(*version), now, "config", why,
                              fmt::format("spc chart '{}': limits v{} approved (baseline_approve)", c.cfg.name, *version)));
  ApplyActive(c);
}

// Turns one LiveChart result into alert conditions: each violated rule active, every rule that was
// active and is not violated by this point back to normal.
void Judge(SpcService::Chart& c, const spc::LiveResult& res, const std::string& machine_state,
           std::vector<alerts::ConditionUpdate>& updates) {
  for (const spc::LivePoint& p : res.points) {
    c.recent.push_back(p);
    if (c.recent.size() > kRecentPoints) c.recent.pop_front();
  }
  if (res.points.empty()) return;
  const spc::LivePoint& last = res.points.front();  // the main chart's point (i, xbar)
  auto point_of = [&](std::string_view chart) -> const spc::LivePoint& {
    for (const spc::LivePoint& p : res.points)
      if (p.chart == chart) return p;
    return last;
  };
  std::map<std::string, const spc::Violation*> now_active;  // cause -> violation
  for (const spc::Violation& v : res.violations) {
    now_active[fmt::format("{}.{}.{}", c.cfg.name, v.chart, v.rule)] = &v;
    ++c.violations_by_rule[v.rule];
    c.recent_violations.push_back(v);
    if (c.recent_violations.size() > kRecentViolations) c.recent_violations.pop_front();
  }
  auto update = [&](const std::string& cause, bool active, const std::string& message, const spc::LivePoint& p) {
    alerts::ConditionUpdate u;
    u.asset = c.cfg.asset;
    u.cause = cause;
    u.source = "spc:" + c.cfg.name;
    u.active = active;
    u.value = p.value;
    u.time = p.time;
    u.machine_state = machine_state;
    u.message = message;
    updates.push_back(std::move(u));
  };
  for (const auto& [cause, v] : now_active) {
    update(cause, true, fmt::format("{} {}: {}", c.cfg.name, v->rule, v->message), point_of(v->chart));
    c.active_causes.insert(cause);
  }
  for (auto it = c.active_causes.begin(); it != c.active_causes.end();) {
    if (now_active.count(*it)) {
      ++it;
      continue;
    }
    update(*it, false, fmt::format("{}: point {} back within the rules", c.cfg.name, last.index), last);
    it = c.active_causes.erase(it);
  }
}

}  // namespace

SpcService::SpcService(Store& store) : store_(store) {}
SpcService::~SpcService() = default;

Result<std::unique_ptr<SpcService>> SpcService::Create(const PlantConfig& pc, Store& store) {
  std::unique_ptr<SpcService> svc(new SpcService(store));
  std::map<std::string, TagId> ids;
  for (const TagDef& t : pc.tags) ids[t.name] = t.id;
  for (const SpcChartConfig& cfg : pc.spc_charts) {
    auto c = std::make_unique<Chart>();
    c->cfg = cfg;
    c->tag = ids.at(cfg.tag);  // BuildPlantConfig checked it
    c->live_cfg.type = TypeOf(cfg.chart);
    c->live_cfg.subgroup_size = cfg.subgroup_window ? 1 : cfg.subgroup_size;
    c->live_cfg.subgroup_window = cfg.subgroup_window;
    c->live_cfg.rules = cfg.rules;
    c->live_cfg.keep = static_cast<size_t>(std::max(100, cfg.baseline));
    auto live = spc::LiveChart::Create(c->live_cfg);
    if (!live.ok()) return live.status().WithContext(fmt::format("spc chart '{}'", cfg.name));
    c->live.emplace(std::move(*live));
    c->next_baseline = cfg.baseline;
    PF_ASSIGN_OR_RETURN(std::optional<std::string> saved, store.LoadState(kStatePrefix + cfg.name));
    if (saved) {
      auto reg = spc::LimitRegistry::FromJson(*saved);
      if (!reg.ok()) return reg.status().WithContext(fmt::format("spc chart '{}': restoring its limits", cfg.name));
      c->registry = std::move(*reg);
    }
    if (cfg.center) {
      // Limits in the configuration are approved by whoever approved the configuration; a
      // changed configuration makes a new version.
      spc::LimitValues values{*cfg.center, *cfg.sigma, cfg.subgroup_window ? 1 : cfg.subgroup_size};
      const spc::LimitVersion* active = c->registry.Active("");
      if (!active || active->values != values) {
        Timestamp now = Now();
        auto v = c->registry.Propose("", values, "config", "center and sigma in [[spc.charts]]", "configuration", now);
        if (!v.ok()) return v.status().WithContext(fmt::format("spc chart '{}'", cfg.name));
        PF_RETURN_IF_ERROR(c->registry.Approve(*v, "config", "center and sigma in [[spc.charts]]", now));
        c->changed = true;
      }
    }
    ApplyActive(*c);
    c->baseline_status = c->active_version ? fmt::format("limits v{} approved", c->active_version)
                                           : fmt::format("collecting a baseline of {} points", cfg.baseline);
    svc->by_tag_[c->tag].push_back(c.get());
    if (cfg.subgroup_window) svc->windowed_.push_back(c.get());
    if (c->changed) svc->any_changed_ = true;
    svc->charts_.push_back(std::move(c));
  }
  return svc;
}

void SpcService::OnSample(const Sample& s, const ProductionContext& context, const std::string& machine_state,
                          std::vector<alerts::ConditionUpdate>& updates, std::vector<Event>& events) {
  auto it = by_tag_.find(s.tag);
  if (it == by_tag_.end() || s.quality == Quality::kBad) return;
  std::optional<double> value = AsDouble(s.value);
  if (!value) return;
  std::lock_guard lk(mu_);
  for (Chart* c : it->second) {
    if (!c->cfg.key_by.empty()) {
      auto k = context.find(c->cfg.key_by);
      std::string key = k == context.end() ? "" : k->second;
      if (key != c->key) {
        c->key = key;
        c->live->BreakSeries();  // no moving range across products
        c->key_points = 0;
        c->next_baseline = c->cfg.baseline;
        ApplyActive(*c);
      }
    }
    // Reused across samples (processor thread only): no allocation per sample for the result.
    thread_local spc::LiveResult res;
    res.clear();
    if (!c->live->Add(*value, s.source_time, &res).ok()) continue;  // counted by the chart (late / not finite)
    c->key_points += static_cast<int64_t>(std::count_if(res.points.begin(), res.points.end(), [](const spc::LivePoint& p) {
      return p.chart == "i" || p.chart == "xbar";
    }));
    Judge(*c, res, machine_state, updates);
    MaybeBaseline(*c, s.source_time, events);
    if (c->changed) any_changed_ = true;
  }
}

void SpcService::Tick(Timestamp now, std::vector<alerts::ConditionUpdate>& updates, std::vector<Event>& events) {
  std::lock_guard lk(mu_);
  for (Chart* c : windowed_) {
    thread_local spc::LiveResult res;
    res.clear();
    c->live->Tick(now, &res);
    if (res.points.empty()) continue;
    c->key_points += static_cast<int64_t>(std::count_if(res.points.begin(), res.points.end(), [](const spc::LivePoint& p) {
      return p.chart == "i" || p.chart == "xbar";
    }));
    Judge(*c, res, "", updates);
    MaybeBaseline(*c, now, events);
    if (c->changed) any_changed_ = true;
  }
}

std::map<std::string, std::string> SpcService::TakeStateIfChanged() {
  std::map<std::string, std::string> out;
  std::lock_guard lk(mu_);
  if (!any_changed_) return out;
  any_changed_ = false;
  for (auto& c : charts_) {
    if (!c->changed) continue;
    c->changed = false;
    out[kStatePrefix + c->cfg.name] = c->registry.ToJson();
  }
  return out;
}

SpcService::Chart* SpcService::FindChart(const std::string& name) const {
  for (const auto& c : charts_)
    if (c->cfg.name == name) return c.get();
  return nullptr;
}

Status SpcService::AddRoutes(ApiServer& api, DurableEmit emit) {
  emit_ = std::move(emit);
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/spc/charts", [this](const ApiRequest& r) { return List(r); }, false));
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/spc/charts/{name}", [this](const ApiRequest& r) { return Get(r); }, false));
  PF_RETURN_IF_ERROR(
      api.AddRoute("GET", "/api/v1/spc/charts/{name}/limits", [this](const ApiRequest& r) { return Limits(r); }, false));
  PF_RETURN_IF_ERROR(
      api.AddRoute("POST", "/api/v1/spc/charts/{name}/limits", [this](const ApiRequest& r) { return Propose(r); }, true));
  PF_RETURN_IF_ERROR(api.AddRoute("POST", "/api/v1/spc/charts/{name}/limits/{version}/approve",
                                  [this](const ApiRequest& r) { return Decide(r, true); }, true));
  PF_RETURN_IF_ERROR(api.AddRoute("POST", "/api/v1/spc/charts/{name}/limits/{version}/reject",
                                  [this](const ApiRequest& r) { return Decide(r, false); }, true));
  return Status::Ok();
}

namespace {

json Summary(const SpcService::Chart& c) {
  const spc::LimitVersion* active = c.registry.Active(c.key);
  const spc::LiveCounters& k = c.live->counters();
  return {{"name", c.cfg.name},
          {"tag", c.cfg.tag},
          {"asset", c.cfg.asset},
          {"chart", c.cfg.chart},
          {"subgroup_size", c.cfg.subgroup_window ? json(nullptr) : json(c.cfg.subgroup_size)},
          {"subgroup_window_ms",
           c.cfg.subgroup_window ? json(std::chrono::duration_cast<std::chrono::milliseconds>(*c.cfg.subgroup_window).count())
                                 : json(nullptr)},
          {"rules", c.cfg.rules.ToString()},
          {"key_by", c.cfg.key_by.empty() ? json(nullptr) : json(c.cfg.key_by)},
          {"key", c.key},
          {"limits", active ? VersionJson(*active) : json(nullptr)},
          {"status", c.baseline_status},
          {"points", k.points},
          {"values", k.values},
          {"late_values", k.late_values},
          {"skipped_subgroups", k.skipped_subgroups},
          {"violations", c.violations_by_rule},
          {"last_point", c.recent.empty() ? json(nullptr) : PointJson(c.recent.back())}};
}

}  // namespace

ApiResponse SpcService::List(const ApiRequest&) const {
  json items = json::array();
  std::lock_guard lk(mu_);
  for (const auto& c : charts_) items.push_back(Summary(*c));
  return ApiResponse::Json({{"items", items}});
}

ApiResponse SpcService::Get(const ApiRequest& r) const {
  const std::string& name = r.Param("name");
  std::lock_guard lk(mu_);
  Chart* c = FindChart(name);
  if (!c) return ApiResponse::Error(NotFound("name: no spc chart '{}'", name), "name");
  json j = Summary(*c);
  json points = json::array();
  for (const auto& p : c->recent) points.push_back(PointJson(p));
  j["recent_points"] = points;
  json violations = json::array();
  for (const auto& v : c->recent_violations) violations.push_back(ViolationJson(v));
  j["recent_violations"] = violations;
  // Lag-1 autocorrelation and capability over the kept subgroups.
  std::vector<double> values, means;
  for (const spc::Subgroup& g : c->live->RecentSubgroups()) {
    double sum = 0;
    for (double v : g.values) values.push_back(v), sum += v;
    if (!g.values.empty()) means.push_back(sum / static_cast<double>(g.values.size()));
  }
  j["lag1_autocorrelation"] = means.size() >= 3 ? json(spc::Lag1Autocorrelation(means)) : json(nullptr);
  j["capability"] = nullptr;
  const spc::LimitVersion* active = c->registry.Active(c->key);
  if ((c->cfg.usl || c->cfg.lsl) && active && values.size() >= 2) {
    spc::CapabilityOptions co;
    co.lsl = c->cfg.lsl;
    co.usl = c->cfg.usl;
    co.target = c->cfg.target;
    auto cap = spc::ComputeCapability(values, active->values.sigma, co);
    if (cap.ok()) j["capability"] = json::parse(spc::CapabilityJson(*cap));
    else j["capability_error"] = cap.status().message();
  }
  return ApiResponse::Json(j);
}

ApiResponse SpcService::Limits(const ApiRequest& r) const {
  const std::string& name = r.Param("name");
  std::lock_guard lk(mu_);
  Chart* c = FindChart(name);
  if (!c) return ApiResponse::Error(NotFound("name: no spc chart '{}'", name), "name");
  json items = json::array();
  for (const auto& v : c->registry.versions()) items.push_back(VersionJson(v));
  const spc::LimitVersion* active = c->registry.Active(c->key);
  return ApiResponse::Json({{"chart", name}, {"key", c->key}, {"active", active ? json(active->version) : json(nullptr)},
                            {"versions", items}});
}

namespace {

// The request body as an object; the error names the field.
Result<json> Body(const ApiRequest& r, std::initializer_list<std::string_view> keys) {
  json body;
  try {
    body = r.body.empty() ? json::object() : json::parse(r.body);
  } catch (const json::parse_error& e) {
    return InvalidArgument("body: malformed JSON at byte {}: {}", e.byte, e.what());
  } catch (const json::out_of_range& e) {  // a number too large for any type
    return InvalidArgument("body: malformed JSON: {}", e.what());
  }
  if (!body.is_object()) return InvalidArgument("body: must be a JSON object, got {}", body.type_name());
  for (const auto& [k, _] : body.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      return InvalidArgument("{}: unknown field; expected: {}", k, fmt::join(keys, ", "));
  return body;
}

std::string FieldOf(const Status& s) {
  const std::string& m = s.message();
  size_t colon = m.find(':');
  if (colon == std::string::npos || colon > 32 || m.find(' ') < colon) return "";
  return m.substr(0, colon);
}

ApiResponse Error(const Status& s) { return ApiResponse::Error(s, FieldOf(s)); }

Result<std::string> StringField(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return InvalidArgument("{}: expected a string, got {}", key, it->type_name());
  return it->get<std::string>();
}

}  // namespace

ApiResponse SpcService::Propose(const ApiRequest& r) {
  const std::string& name = r.Param("name");
  auto body = Body(r, {"who", "why", "key", "last", "exclude_ooc", "allow_autocorrelation", "center", "sigma"});
  if (!body.ok()) return Error(body.status());
  auto who = StringField(*body, "who");
  auto why = StringField(*body, "why");
  auto key_field = StringField(*body, "key");
  for (const auto* f : {&who, &why, &key_field})
    if (!f->ok()) return Error(f->status());
  auto number = [&](const char* key) -> Result<std::optional<double>> {
    auto it = body->find(key);
    if (it == body->end() || it->is_null()) return std::optional<double>();
    if (!it->is_number()) return InvalidArgument("{}: expected a number, got {}", key, it->type_name());
    double v = it->get<double>();
    if (!std::isfinite(v)) return InvalidArgument("{}: must be finite", key);
    return std::optional<double>(v);
  };
  auto flag = [&](const char* key) -> Result<bool> {
    auto it = body->find(key);
    if (it == body->end() || it->is_null()) return false;
    if (!it->is_boolean()) return InvalidArgument("{}: expected true or false, got {}", key, it->type_name());
    return it->get<bool>();
  };
  auto center = number("center");
  auto sigma = number("sigma");
  auto last = number("last");
  auto exclude = flag("exclude_ooc");
  auto allow_ac = flag("allow_autocorrelation");
  for (const Status* s : {&center.status(), &sigma.status(), &last.status(), &exclude.status(), &allow_ac.status()})
    if (!s->ok()) return Error(*s);
  if (center->has_value() != sigma->has_value())
    return Error(InvalidArgument("{}: center and sigma are given together", center->has_value() ? "sigma" : "center"));

  std::vector<Event> events;
  json response;
  {
    std::lock_guard lk(mu_);
    Chart* c = FindChart(name);
    if (!c) return ApiResponse::Error(NotFound("name: no spc chart '{}'", name), "name");
    std::string key = body->contains("key") ? *key_field : c->key;
    if (!key.empty() && c->cfg.key_by.empty())
      return Error(InvalidArgument("key: chart '{}' has no key_by: its limits are not keyed", name));
    spc::LimitValues values;
    std::string basis;
    json phase1 = nullptr;
    Timestamp now = Now();
    if (center->has_value()) {
      values = {**center, **sigma, c->cfg.subgroup_window ? 1 : c->cfg.subgroup_size};
      basis = "given by the engineer";
    } else {
      std::vector<spc::Subgroup> recent = c->live->RecentSubgroups();
      size_t n = last->has_value() ? static_cast<size_t>(std::max(0.0, **last)) : recent.size();
      if (last->has_value() && (**last < 2 || **last != std::floor(**last)))
        return Error(InvalidArgument("last: a whole number of points of at least 2, got {}", **last));
      if (n > recent.size())
        return Error(InvalidArgument("last: only {} points are kept, asked for {}", recent.size(), n));
      if (n < 2) return Error(FailedPrecondition("chart '{}' has {} points: too few to estimate limits", name, n));
      std::vector<spc::Subgroup> window(recent.end() - static_cast<ptrdiff_t>(n), recent.end());
      spc::ChartOptions options;
      options.exclude_ooc = *exclude;
      options.allow_autocorrelation = *allow_ac || c->cfg.allow_autocorrelation;
      auto proposal = spc::LiveChart::EstimateLimits(c->live_cfg, window, options);
      if (!proposal.ok()) return ApiResponse::Error(proposal.status().WithContext(fmt::format("chart '{}'", name)));
      values = {proposal->limits.center, proposal->limits.sigma, proposal->limits.n};
      basis = fmt::format("Phase I over {} points from {} to {}", n, window.front().label, window.back().label);
      json exclusions = json::array();
      for (const auto& e : proposal->phase1.exclusions)
        exclusions.push_back({{"index", e.index}, {"chart", e.chart}, {"iteration", e.iteration}, {"reason", e.reason}});
      phase1 = {{"exclusions", exclusions},
                {"warnings", proposal->phase1.warnings},
                {"lag1_autocorrelation", proposal->phase1.lag1_autocorrelation
                                             ? json(*proposal->phase1.lag1_autocorrelation)
                                             : json(nullptr)}};
    }
    auto version = c->registry.Propose(key, values, *who, *why, basis, now);
    if (!version.ok()) return Error(version.status());
    c->changed = true;
    any_changed_ = true;
    const spc::LimitVersion* v = c->registry.Find(*version);
    events.push_back(LimitEvent(*c, "proposed", v, now, *who, *why,
                                fmt::format("spc chart '{}': limits v{} proposed by {} ({})", name, *version, *who, basis)));
    response = {{"proposal", VersionJson(*v)}, {"phase1", phase1}};
  }
  Status s = emit_ ? emit_(std::move(events)) : Unavailable("spc: no commit path");
  if (!s.ok()) return ApiResponse::Error(s);
  return ApiResponse::Json(response, 201);
}

ApiResponse SpcService::Decide(const ApiRequest& r, bool approve) {
  const std::string& name = r.Param("name");
  const std::string& version_text = r.Param("version");
  int version = 0;
  auto [end, ec] = std::from_chars(version_text.data(), version_text.data() + version_text.size(), version);
  if (ec != std::errc() || end != version_text.data() + version_text.size())
    return ApiResponse::Error(InvalidArgument("version: '{}' is not a version number", version_text), "version");
  auto body = Body(r, {"who", "why"});
  if (!body.ok()) return Error(body.status());
  auto who = StringField(*body, "who");
  auto why = StringField(*body, "why");
  if (!who.ok()) return Error(who.status());
  if (!why.ok()) return Error(why.status());
  std::vector<Event> events;
  json response;
  {
    std::lock_guard lk(mu_);
    Chart* c = FindChart(name);
    if (!c) return ApiResponse::Error(NotFound("name: no spc chart '{}'", name), "name");
    Timestamp now = Now();
    Status s = approve ? c->registry.Approve(version, *who, *why, now) : c->registry.Reject(version, *who, *why, now);
    if (!s.ok()) return ApiResponse::Error(s, s.code() == StatusCode::kInvalidArgument ? FieldOf(s) : "version");
    c->changed = true;
    any_changed_ = true;
    const spc::LimitVersion* v = c->registry.Find(version);
    const char* action = approve ? "approved" : "rejected";
    events.push_back(LimitEvent(*c, action, v, now, *who, *why,
                                fmt::format("spc chart '{}': limits v{} {} by {}: {}", name, version, action, *who, *why)));
    if (approve) {
      ApplyActive(*c);
      c->baseline_status = fmt::format("limits v{} approved by {}", version, *who);
    }
    response = {{"limits", VersionJson(*v)}, {"active", c->active_version ? json(c->active_version) : json(nullptr)}};
  }
  Status s = emit_ ? emit_(std::move(events)) : Unavailable("spc: no commit path");
  if (!s.ok()) return ApiResponse::Error(s);
  return ApiResponse::Json(response);
}

}  // namespace pf
