#include "runtime/alert_service.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "alerts/alarm_metrics.h"
#include "api/params.h"
#include "core/log.h"

namespace pf {
namespace {

using nlohmann::json;
using alerts::AlertTransition;

json TransitionJson(const AlertTransition& t) {
  return {{"alert_id", t.alert_id},
          {"asset", t.asset},
          {"cause", t.cause},
          {"source", t.source},
          {"area", t.area},
          {"position", t.position},
          {"priority", alerts::PriorityName(t.priority)},
          {"action", t.action},
          {"from", alerts::AlertStateName(t.from)},
          {"to", alerts::AlertStateName(t.to)},
          {"time", FormatRfc3339(t.time, 9)},
          {"who", t.who},
          {"reason", t.reason},
          {"value", t.value},
          {"chattering", t.chattering},
          {"machine_state", t.machine_state},
          {"message", t.message}};
}

// The transition stored in an alert event's payload; nullopt for flood records or foreign payloads.
std::optional<AlertTransition> TransitionFromJson(const json& j) {
  if (!j.is_object() || !j.contains("alert_id") || !j.contains("action")) return std::nullopt;
  AlertTransition t;
  t.alert_id = j.value("alert_id", "");
  t.asset = j.value("asset", "");
  t.cause = j.value("cause", "");
  t.source = j.value("source", "");
  t.area = j.value("area", "");
  t.position = j.value("position", "");
  t.priority = alerts::ParsePriority(j.value("priority", "low")).value_or(alerts::Priority::kLow);
  t.action = j.value("action", "");
  t.from = alerts::ParseAlertState(j.value("from", "normal")).value_or(alerts::AlertState::kNormal);
  t.to = alerts::ParseAlertState(j.value("to", "normal")).value_or(alerts::AlertState::kNormal);
  auto time = ParseRfc3339(j.value("time", ""));
  if (!time.ok()) return std::nullopt;
  t.time = *time;
  t.who = j.value("who", "");
  t.reason = j.value("reason", "");
  t.value = j.value("value", 0.0);
  t.chattering = j.value("chattering", false);
  t.machine_state = j.value("machine_state", "");
  t.message = j.value("message", "");
  return t;
}

json FloodJson(const alerts::FloodRecord& f) {
  json top = json::array();
  for (const auto& c : f.top) top.push_back({{"asset", c.asset}, {"cause", c.cause}, {"count", c.count}});
  return {{"flood",
           {{"position", f.position},
            {"ended", f.ended},
            {"start", FormatRfc3339(f.start, 9)},
            {"end", FormatRfc3339(f.end, 9)},
            {"count", f.count},
            {"low", f.low},
            {"medium", f.medium},
            {"high", f.high},
            {"first", FormatRfc3339(f.first, 9)},
            {"last", FormatRfc3339(f.last, 9)},
            {"top", top}}}};
}

json ViewJson(const alerts::AlertView& v) {
  auto time_or_null = [](Timestamp t) { return t.ns ? json(FormatRfc3339(t, 3)) : json(nullptr); };
  return {{"id", v.alert_id},
          {"asset", v.asset},
          {"cause", v.cause},
          {"source", v.source},
          {"area", v.area},
          {"position", v.position},
          {"state", alerts::AlertStateName(v.state)},
          {"priority", alerts::PriorityName(v.priority)},
          {"active", v.condition_active},
          {"chattering", v.chattering},
          {"raised", time_or_null(v.raised_at)},
          {"acked", time_or_null(v.acked_at)},
          {"acked_by", v.acked_by.empty() ? json(nullptr) : json(v.acked_by)},
          {"shelved_until", v.shelved_until ? json(FormatRfc3339(*v.shelved_until, 3)) : json(nullptr)},
          {"shelve_reason", v.shelve_reason.empty() ? json(nullptr) : json(v.shelve_reason)},
          {"value", v.value},
          {"message", v.message}};
}

// The request field an engine error is about: its messages start with "<field>: ".
std::string FieldOf(const Status& s) {
  const std::string& m = s.message();
  for (std::string_view f : {"who", "comment", "reason", "expires"})
    if (m.rfind(std::string(f) + ":", 0) == 0) return std::string(f);
  return "";
}

}  // namespace

AlertService::AlertService(const PlantConfig& pc, Store& store, alerts::AlertEngine engine)
    : store_(store),
      cause_codes_(pc.alerts.cause_codes),
      source_clock_(pc.alerts.source_clock),
      engine_(std::move(engine)) {
  engine_.set_max_shelve(pc.alerts.max_shelve);
  for (const Asset& a : pc.assets) assets_.insert(a.id);
  std::map<std::string, TagId> ids;
  for (const TagDef& t : pc.tags) {
    ids[t.name] = t.id;
    if (t.context == ContextRole::kMachineState) machine_state_key_[t.asset_id] = t.context_key;
  }
  for (const auto& rc : pc.alerts.rules) {
    alerts::ThresholdRule rule(rc);
    TagId id = ids.at(rc.tag);  // BuildPlantConfig checked that the tag exists
    rule.set_tag_id(id);
    rules_by_tag_[id].push_back(rules_.size());
    rules_.push_back(std::move(rule));
  }
}

Result<std::unique_ptr<AlertService>> AlertService::Create(const PlantConfig& pc, Store& store) {
  PF_ASSIGN_OR_RETURN(std::optional<std::string> global, store.LoadState(kSnapshotKey));
  if (global) {
    auto context = fmt::format("alerts: restoring the state from store '{}'", store.path());
    Result<alerts::AlertEngine> restored = Status::Ok();
    bool whole = global->find("\"conditions\"") != std::string::npos;  // a version 1 (whole) snapshot
    if (whole) {
      restored = alerts::AlertEngine::Restore(pc.alerts.engine, *global);
    } else {
      PF_ASSIGN_OR_RETURN(auto entries, store.LoadStatePrefix(kConditionPrefix));
      std::vector<std::string> conditions;
      for (auto& [key, value] : entries) conditions.push_back(std::move(value));
      PF_ASSIGN_OR_RETURN(std::optional<std::string> floods, store.LoadState(kFloodsKey));
      restored = alerts::AlertEngine::Restore(pc.alerts.engine, *global, floods, conditions);
    }
    if (!restored.ok()) return restored.status().WithContext(context);
    if (whole) restored->MarkAllDirty();  // written in the incremental form at the next commit
    PF_LOG_INFO("alerts: restored {} alerts from the store", restored->Current().size());
    return std::unique_ptr<AlertService>(new AlertService(pc, store, std::move(*restored)));
  }
  PF_ASSIGN_OR_RETURN(alerts::AlertEngine engine, alerts::AlertEngine::Create(pc.alerts.engine));
  return std::unique_ptr<AlertService>(new AlertService(pc, store, std::move(engine)));
}

const std::string& AlertService::MachineStateKey(const std::string& asset) const {
  static const std::string kNone;
  auto it = machine_state_key_.find(asset);
  return it == machine_state_key_.end() ? kNone : it->second;
}

std::vector<Event> AlertService::ToEvents(const alerts::EngineOutput& output) {
  std::vector<Event> out;
  for (const AlertTransition& t : output.transitions) {
    Event e;
    e.start = e.end = t.time;
    e.id = NewEventId(t.time);
    e.asset_id = t.asset;
    e.source = t.source;
    e.kind = "alert";
    e.severity = std::string(alerts::PriorityName(t.priority));
    e.message = t.message.empty() ? fmt::format("alert {} {}: {} -> {}", t.alert_id, t.action,
                                                alerts::AlertStateName(t.from), alerts::AlertStateName(t.to))
                                  : fmt::format("{}: {}", t.action, t.message);
    e.payload_json = TransitionJson(t).dump();
    e.operator_name = t.who;
    e.comment = t.reason;
    e.refers_to = t.alert_id;
    out.push_back(std::move(e));
  }
  for (const alerts::FloodRecord& f : output.floods) {
    Event e;
    e.start = f.start;
    e.end = f.ended ? f.end : f.start;
    if (e.end < e.start) e.end = e.start;
    e.id = NewEventId(f.ended ? e.end : e.start);
    e.source = "alerts:flood";
    e.kind = "alert";
    e.severity = "high";
    e.message = f.ended ? fmt::format("flood on position '{}' ended: {} alerts", f.position, f.count)
                        : fmt::format("flood on position '{}': {} alerts", f.position, f.count);
    e.payload_json = FloodJson(f).dump();
    out.push_back(std::move(e));
  }
  return out;
}

void AlertService::Apply(Result<alerts::EngineOutput> r, std::vector<Event>& out, const char* what) {
  if (!r.ok()) {
    // Logged at 1, 2, 4, 8, ... refusals: out-of-order samples must not flood the log.
    uint64_t n = errors_.fetch_add(1) + 1;
    if ((n & (n - 1)) == 0) PF_LOG_WARN("alerts: {} (refusal #{}): {}", what, n, r.status().ToString());
    return;
  }
  if (r->transitions.empty() && r->floods.empty()) return;
  for (Event& e : ToEvents(*r)) out.push_back(std::move(e));
}

std::optional<Timestamp> AlertService::AlertNow() const {
  if (!source_clock_) return Now();
  int64_t ns = clock_ns_.load(std::memory_order_relaxed);
  if (ns == 0) return std::nullopt;
  return Timestamp{ns};
}

void AlertService::OnSample(const Sample& s, const std::string& machine_state, std::vector<Event>& out) {
  auto it = rules_by_tag_.find(s.tag);
  if (it == rules_by_tag_.end()) return;
  if (source_clock_ && s.source_time.ns > clock_ns_.load(std::memory_order_relaxed))
    clock_ns_.store(s.source_time.ns, std::memory_order_relaxed);
  for (size_t i : it->second) {
    std::optional<alerts::ConditionUpdate> u = rules_[i].OnSample(s, machine_state);
    if (!u) continue;
    std::lock_guard lk(mu_);
    Apply(engine_.Evaluate(*u), out, "evaluate");
  }
}

void AlertService::Evaluate(const alerts::ConditionUpdate& update, std::vector<Event>& out) {
  if (source_clock_ && update.time.ns > clock_ns_.load(std::memory_order_relaxed))
    clock_ns_.store(update.time.ns, std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  Apply(engine_.Evaluate(update), out, "evaluate");
}

void AlertService::Tick(Timestamp now, const std::function<std::string(const std::string&)>& machine_state,
                        std::vector<Event>& out) {
  for (auto& rule : rules_) {
    std::optional<alerts::ConditionUpdate> u = rule.OnTick(now, machine_state(rule.config().asset));
    if (!u) continue;
    std::lock_guard lk(mu_);
    Apply(engine_.Evaluate(*u), out, "evaluate");
  }
  std::lock_guard lk(mu_);
  Apply(engine_.Tick(now), out, "tick");
}

size_t AlertService::CountInState(alerts::AlertState state) const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& v : engine_.Current()) n += v.state == state;
  return n;
}

std::map<std::string, std::string> AlertService::TakeStateIfChanged() {
  std::map<std::string, std::string> out;
  std::lock_guard lk(mu_);
  std::optional<alerts::AlertEngine::SnapshotDelta> d = engine_.TakeSnapshotDelta();
  if (!d) return out;
  out[kSnapshotKey] = std::move(d->global);
  if (d->floods) out[kFloodsKey] = std::move(*d->floods);
  for (auto& [key, value] : d->conditions) out[key] = std::move(value);
  return out;
}

Status AlertService::AddRoutes(ApiServer& api, DurableEmit emit) {
  emit_ = std::move(emit);
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/alerts", [this](const ApiRequest& r) { return List(r); }, false));
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/alerts/stats", [this](const ApiRequest& r) { return Stats(r); }, false));
  PF_RETURN_IF_ERROR(
      api.AddRoute("GET", "/api/v1/alerts/precision", [this](const ApiRequest& r) { return Precision(r); }, false));
  PF_RETURN_IF_ERROR(api.AddRoute(
      "GET", "/api/v1/alerts/causes", [this](const ApiRequest&) { return ApiResponse::Json({{"codes", cause_codes_}}); },
      false));
  for (const char* action : {"ack", "shelve", "unshelve"}) {
    std::string a = action;
    PF_RETURN_IF_ERROR(api.AddRoute("POST", fmt::format("/api/v1/alerts/{{id}}/{}", a),
                                    [this, a](const ApiRequest& r) { return Action(r, a); }, true));
  }
  PF_RETURN_IF_ERROR(
      api.AddRoute("POST", "/api/v1/alerts/{id}/feedback", [this](const ApiRequest& r) { return Feedback(r); }, true));
  PF_RETURN_IF_ERROR(api.AddRoute("POST", "/api/v1/assets/{id}/maintenance",
                                  [this](const ApiRequest& r) { return Maintenance(r); }, true));
  return Status::Ok();
}

ApiResponse AlertService::List(const ApiRequest& r) const {
  std::optional<std::string> state = r.Query("state"), asset = r.Query("asset");
  if (state && !alerts::ParseAlertState(*state))
    return ApiResponse::Error(
        InvalidArgument("state: unknown alert state '{}'; expected normal, unack, acked, rtn_unack, shelved or suppressed",
                        *state),
        "state");
  PF_API_ASSIGN_OR_RESPOND(size_t limit, LimitParam(r), "limit");
  PF_API_ASSIGN_OR_RESPOND(std::string after, NameCursorParam(r), "cursor");
  std::vector<alerts::AlertView> views;
  {
    std::lock_guard lk(mu_);
    views = engine_.Current();
  }
  std::sort(views.begin(), views.end(), [](const auto& a, const auto& b) { return a.alert_id < b.alert_id; });
  json items = json::array();
  std::string next;
  for (const auto& v : views) {
    if (!after.empty() && v.alert_id <= after) continue;
    if (state && alerts::AlertStateName(v.state) != *state) continue;
    if (asset && v.asset != *asset) continue;
    if (items.size() == limit) {
      next = EncodeCursor(items.back()["id"].get<std::string>());
      break;
    }
    items.push_back(ViewJson(v));
  }
  return ApiResponse::Json({{"items", items}, {"next_cursor", next.empty() ? json(nullptr) : json(next)}});
}

Result<std::vector<Event>> AlertService::EventsBetween(const std::string& kind, Timestamp from, Timestamp to) const {
  std::vector<Event> out;
  EventQuery q;
  q.kind = kind;
  q.from = from;
  q.to = to;
  q.limit = 10000;
  for (;;) {
    PF_ASSIGN_OR_RETURN(EventPage page, store_.events().Query(q));
    for (Event& e : page.events) out.push_back(std::move(e));
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  std::reverse(out.begin(), out.end());  // pages are newest first
  return out;
}

Result<alerts::AlarmMetrics> AlertService::RateMetrics(Timestamp start, Timestamp end, bool by_area) const {
  PF_ASSIGN_OR_RETURN(std::vector<Event> events, EventsBetween("alert", start, end));
  std::vector<AlertTransition> history;
  for (const Event& e : events) {
    json p = json::parse(e.payload_json, nullptr, false);
    if (auto t = TransitionFromJson(p)) history.push_back(std::move(*t));
  }
  std::stable_sort(history.begin(), history.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  alerts::MetricsOptions mo;
  mo.period_start = start;
  mo.period_end = end;
  mo.by_area = by_area;
  return alerts::ComputeAlarmMetrics(history, mo);
}

Result<alerts::PrecisionReport> AlertService::PrecisionBetween(Timestamp start, Timestamp end) const {
  PF_ASSIGN_OR_RETURN(std::vector<Event> labels, EventsBetween("label", start, end));
  std::vector<alerts::Feedback> feedback;
  std::vector<alerts::MaintenanceRecord> maintenance;
  for (const Event& e : labels) {
    if (auto f = alerts::FeedbackFromPayload(e.payload_json)) feedback.push_back(std::move(*f));
    else if (auto m = alerts::MaintenanceFromPayload(e.payload_json)) maintenance.push_back(std::move(*m));
  }
  PF_ASSIGN_OR_RETURN(std::vector<Event> alert_events, EventsBetween("alert", start, end));
  std::map<std::string, std::string> raised;  // occurrences raised in the period -> source
  for (const Event& e : alert_events) {
    json p = json::parse(e.payload_json, nullptr, false);
    if (p.is_object() && p.value("action", "") == "raise") raised[e.refers_to] = e.source;
  }
  return alerts::ComputePrecision(feedback, maintenance, raised);
}

namespace {
// ?from=&to= (RFC 3339) with a default look-back; errors name the parameter.
Result<std::pair<Timestamp, Timestamp>> Period(const ApiRequest& r, Duration default_span, Timestamp now) {
  Timestamp end = now;
  if (auto to = r.Query("to")) {
    auto t = ParseRfc3339(*to);
    if (!t.ok()) return InvalidArgument("to: {}", t.status().message());
    end = *t;
  }
  Timestamp start = end - default_span;
  if (auto from = r.Query("from")) {
    auto t = ParseRfc3339(*from);
    if (!t.ok()) return InvalidArgument("from: {}", t.status().message());
    start = *t;
  }
  if (!(start < end)) return InvalidArgument("from: must be before to");
  return std::make_pair(start, end);
}
std::string_view PeriodField(const Status& s) { return s.message().rfind("to:", 0) == 0 ? "to" : "from"; }
}  // namespace

ApiResponse AlertService::Stats(const ApiRequest& r) const {
  auto period = Period(r, std::chrono::hours(24), AlertNow().value_or(Now()));
  if (!period.ok()) return ApiResponse::Error(period.status(), PeriodField(period.status()));
  auto m = RateMetrics(period->first, period->second, r.Query("by") == std::optional<std::string>("area"));
  if (!m.ok()) return ApiResponse::Error(m.status().WithContext("alerts stats"));
  json body = json::parse(m->ToJson(), nullptr, false);
  if (body.is_discarded()) return ApiResponse::Error(Internal("alerts stats: metrics JSON did not parse"));
  return ApiResponse::Json(body);
}

ApiResponse AlertService::Precision(const ApiRequest& r) const {
  auto period = Period(r, std::chrono::hours(24 * 30), AlertNow().value_or(Now()));
  if (!period.ok()) return ApiResponse::Error(period.status(), PeriodField(period.status()));
  auto report = PrecisionBetween(period->first, period->second);
  if (!report.ok()) return ApiResponse::Error(report.status().WithContext("alerts precision"));
  json body = json::parse(report->ToJson(), nullptr, false);
  body["period"] = {{"from", FormatRfc3339(period->first, 3)}, {"to", FormatRfc3339(period->second, 3)}};
  return ApiResponse::Json(body);
}

std::optional<AlertTransition> AlertService::FindAlert(const std::string& alert_id) const {
  {
    std::lock_guard lk(mu_);
    if (auto v = engine_.Find(alert_id)) {
      AlertTransition t;
      t.alert_id = v->alert_id;
      t.asset = v->asset;
      t.cause = v->cause;
      t.source = v->source;
      return t;
    }
  }
  EventQuery q;
  q.refers_to = alert_id;
  q.kind = "alert";
  q.limit = 1;
  auto page = store_.events().Query(q);
  if (!page.ok() || page->events.empty()) return std::nullopt;
  return TransitionFromJson(json::parse(page->events.front().payload_json, nullptr, false));
}

ApiResponse AlertService::Commit(std::vector<Event> events) const {
  Status s = emit_ ? emit_(std::move(events)) : Unavailable("alerts: no commit path");
  if (!s.ok()) return ApiResponse::Error(s);
  return ApiResponse::Json(json::object());
}

ApiResponse AlertService::Feedback(const ApiRequest& r) {
  const std::string& id = r.Param("id");
  alerts::Feedback f;
  if (auto e = alerts::ParseFeedbackBody(r.body, cause_codes_, f)) return ApiResponse::Error(e->status, e->field);
  std::optional<AlertTransition> alert = FindAlert(id);
  if (!alert) return ApiResponse::Error(NotFound("id: no alert '{}' is known (current or stored)", id), "id");
  f.alert_id = id;
  f.alert_source = alert->source;
  f.alert_cause = alert->cause;
  f.asset = alert->asset;
  f.time = AlertNow().value_or(Now());
  Event e;
  e.start = e.end = f.time;
  e.id = NewEventId(f.time);
  e.asset_id = f.asset;
  e.source = "operator";
  e.kind = "label";
  e.severity = "info";
  e.message = fmt::format("feedback on alert {} ({}): {}{}", id, f.alert_source, alerts::VerdictName(f.verdict),
                          f.cause.empty() ? "" : fmt::format(", cause {}", f.cause));
  e.payload_json = alerts::FeedbackPayload(f);
  e.operator_name = f.who;
  e.comment = f.comment;
  e.refers_to = id;
  std::string label_id = e.id;
  json payload = json::parse(e.payload_json);
  if (ApiResponse c = Commit({std::move(e)}); c.status != 200) return c;
  return ApiResponse::Json({{"label_id", label_id}, {"label", payload}}, 201);
}

ApiResponse AlertService::Maintenance(const ApiRequest& r) {
  const std::string& asset = r.Param("id");
  if (!assets_.count(asset))
    return ApiResponse::Error(NotFound("id: no asset '{}' is declared", asset), "id");
  alerts::MaintenanceRecord m;
  Timestamp now = AlertNow().value_or(Now());
  if (auto e = alerts::ParseMaintenanceBody(r.body, cause_codes_, now, m)) return ApiResponse::Error(e->status, e->field);
  m.asset = asset;
  if (!m.alert_id.empty()) {
    std::optional<AlertTransition> alert = FindAlert(m.alert_id);
    if (!alert)
      return ApiResponse::Error(InvalidArgument("alert_id: no alert '{}' is known (current or stored)", m.alert_id),
                                "alert_id");
    if (alert->asset != asset)
      return ApiResponse::Error(
          InvalidArgument("alert_id: alert '{}' is on asset '{}', not '{}'", m.alert_id, alert->asset, asset), "alert_id");
  }
  Event e;
  e.start = e.end = m.time;
  e.id = NewEventId(m.time);
  e.asset_id = asset;
  e.source = "maintenance";
  e.kind = "label";
  e.severity = m.missed() ? "medium" : "info";
  e.message = fmt::format("maintenance on {} {}: {} ({}), {}{}", asset, m.component, m.failure_mode,
                          alerts::ConditionName(m.condition), m.action, m.missed() ? "; no alert caught it" : "");
  e.payload_json = alerts::MaintenancePayload(m);
  e.operator_name = m.who;
  e.comment = m.comment;
  e.refers_to = m.alert_id;
  std::string label_id = e.id;
  json payload = json::parse(e.payload_json);
  if (ApiResponse c = Commit({std::move(e)}); c.status != 200) return c;
  return ApiResponse::Json({{"label_id", label_id}, {"label", payload}}, 201);
}

void AlertService::RegisterMetrics(MetricsRegistry& metrics, const void* owner) {
  using Series = MetricsRegistry::Series;
  // One family per metric of the groups (operator positions) of the last 24 h.
  auto per_group = [this, &metrics, owner](const char* name, const char* help, auto value) {
    metrics.GaugeFamilyCallback(
        name, help,
        [this, value] {
          Series out;
          std::lock_guard lk(metrics_mu_);
          if (rate_cache_)
            for (const alerts::GroupMetrics& g : rate_cache_->groups)
              out.push_back({{{"position", g.name}}, static_cast<double>(value(g))});
          return out;
        },
        owner);
  };
  per_group("pf_alarm_rate_per_10min", "alerts raised per 10 minutes, average over the last 24 h (EEMUA 191 target: 1)",
            [](const alerts::GroupMetrics& g) { return g.per_10min_avg; });
  per_group("pf_alarm_rate_max_per_10min", "most alerts raised in one 10-minute interval of the last 24 h",
            [](const alerts::GroupMetrics& g) { return g.per_interval_max; });
  per_group("pf_alarm_flood_time_percent", "% of 10-minute intervals in flood (more than 10 alerts), last 24 h (target < 1)",
            [](const alerts::GroupMetrics& g) { return g.flood_percent; });
  per_group("pf_alarm_standing", "alerts active for more than 24 h (target < 5 per position)",
            [](const alerts::GroupMetrics& g) { return g.standing; });
  per_group("pf_alarm_chattering", "alerts flagged chattering in the last 24 h (target 0)",
            [](const alerts::GroupMetrics& g) { return g.chattering; });
  per_group("pf_alarm_raised", "alerts raised in the last 24 h", [](const alerts::GroupMetrics& g) { return g.alerts; });
  metrics.GaugeFamilyCallback(
      "pf_alarm_top", "raises of the 10 most frequent alerts (asset, cause) per position, last 24 h",
      [this] {
        Series out;
        std::lock_guard lk(metrics_mu_);
        if (rate_cache_)
          for (const alerts::GroupMetrics& g : rate_cache_->groups)
            for (size_t i = 0; i < g.top.size(); ++i)
              out.push_back({{{"position", g.name}, {"rank", std::to_string(i + 1)}, {"asset", g.top[i].asset},
                              {"cause", g.top[i].cause}},
                             static_cast<double>(g.top[i].count)});
        return out;
      },
      owner);
  metrics.GaugeFamilyCallback(
      "pf_alarm_target", "published ISA-18.2 / EEMUA 191 targets beside the measured pf_alarm_* values",
      [] {
        using T = alerts::AlarmTargets;
        return Series{{{{"metric", "rate_per_10min"}}, T::kAcceptablePer10Min},
                      {{{"metric", "rate_per_10min_manageable"}}, T::kManageablePer10Min},
                      {{{"metric", "flood_time_percent"}}, T::kFloodPercentBelow},
                      {{{"metric", "standing"}}, static_cast<double>(T::kStandingBelow)},
                      {{{"metric", "chattering"}}, static_cast<double>(T::kChatteringTarget)},
                      {{{"metric", "priority_low_percent"}}, T::kLowPercent},
                      {{{"metric", "priority_medium_percent"}}, T::kMediumPercent},
                      {{{"metric", "priority_high_percent"}}, T::kHighPercent}};
      },
      owner);
  auto per_source = [this, &metrics, owner](const char* name, const char* help, auto add) {
    metrics.GaugeFamilyCallback(
        name, help,
        [this, add] {
          Series out;
          std::lock_guard lk(metrics_mu_);
          if (precision_cache_)
            for (const alerts::SourcePrecision& sp : precision_cache_->sources) add(sp, out);
          return out;
        },
        owner);
  };
  per_source("pf_alert_precision", "confirmed / (confirmed + false alarm) of operator verdicts per alert source, last 30 days",
             [](const alerts::SourcePrecision& sp, Series& out) {
               if (sp.precision) out.push_back({{{"source", sp.source}}, *sp.precision});
             });
  per_source("pf_alert_feedback_coverage", "share of the alerts raised in the last 30 days that have an operator verdict",
             [](const alerts::SourcePrecision& sp, Series& out) {
               if (sp.coverage) out.push_back({{{"source", sp.source}}, *sp.coverage});
             });
  per_source("pf_alert_feedback", "alerts per latest operator verdict and alert source, last 30 days",
             [](const alerts::SourcePrecision& sp, Series& out) {
               out.push_back({{{"source", sp.source}, {"verdict", "confirmed"}}, static_cast<double>(sp.confirmed)});
               out.push_back({{{"source", sp.source}, {"verdict", "false_alarm"}}, static_cast<double>(sp.false_alarm)});
               out.push_back({{{"source", sp.source}, {"verdict", "unknown"}}, static_cast<double>(sp.unknown)});
             });
  metrics.GaugeFamilyCallback(
      "pf_alert_missed_failures", "maintenance records of failures no alert caught, per asset, last 30 days",
      [this] {
        Series out;
        std::lock_guard lk(metrics_mu_);
        if (precision_cache_)
          for (const auto& [asset, n] : precision_cache_->missed_by_asset)
            out.push_back({{{"asset", asset}}, static_cast<double>(n)});
        return out;
      },
      owner);
}

void AlertService::RefreshMetrics(Timestamp now) {
  auto rates = RateMetrics(now - std::chrono::hours(24), now, false);
  auto precision = PrecisionBetween(now - std::chrono::hours(24 * 30), now);
  if (!rates.ok()) PF_LOG_WARN("alerts: alarm-rate metrics: {}", rates.status().ToString());
  if (!precision.ok()) PF_LOG_WARN("alerts: precision metrics: {}", precision.status().ToString());
  std::lock_guard lk(metrics_mu_);
  if (rates.ok()) rate_cache_ = std::move(*rates);
  if (precision.ok()) precision_cache_ = std::move(*precision);
}

ApiResponse AlertService::Action(const ApiRequest& r, const std::string& action) {
  const std::string& id = r.Param("id");
  json body;
  try {
    body = r.body.empty() ? json::object() : json::parse(r.body);
  } catch (const json::parse_error& e) {
    return ApiResponse::Error(InvalidArgument("malformed JSON body at byte {}: {}", e.byte, e.what()), "body");
  } catch (const json::out_of_range& e) {  // a number too large for any type
    return ApiResponse::Error(InvalidArgument("malformed JSON body: {}", e.what()), "body");
  }
  if (!body.is_object())
    return ApiResponse::Error(InvalidArgument("the body must be a JSON object, got {}", body.type_name()), "body");
  auto str = [&](const char* key) -> Result<std::string> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::string();
    if (!it->is_string()) return InvalidArgument("{}: expected a string, got {}", key, it->type_name());
    return it->get<std::string>();
  };
  PF_API_ASSIGN_OR_RESPOND(std::string who, str("who"), "who");
  Timestamp now = AlertNow().value_or(Now());
  Result<alerts::EngineOutput> out = alerts::EngineOutput{};
  if (action == "ack") {
    PF_API_ASSIGN_OR_RESPOND(std::string comment, str("comment"), "comment");
    std::lock_guard lk(mu_);
    out = engine_.Ack(id, who, comment, now);
  } else if (action == "shelve") {
    PF_API_ASSIGN_OR_RESPOND(std::string reason, str("reason"), "reason");
    PF_API_ASSIGN_OR_RESPOND(std::string expires_text, str("expires"), "expires");
    if (expires_text.empty())
      return ApiResponse::Error(
          InvalidArgument("expires: required: shelving is time-limited; give the RFC 3339 time until which the alert stays shelved"),
          "expires");
    auto expires = ParseRfc3339(expires_text);
    if (!expires.ok())
      return ApiResponse::Error(InvalidArgument("expires: {}", expires.status().message()), "expires");
    std::lock_guard lk(mu_);
    out = engine_.Shelve(id, who, reason, *expires, now);
  } else {
    std::lock_guard lk(mu_);
    out = engine_.Unshelve(id, who, now);
  }
  if (!out.ok()) {
    std::string field = FieldOf(out.status());
    if (out.status().code() == StatusCode::kNotFound)
      return ApiResponse::Error(NotFound("id: alert '{}': {}", id, out.status().message()), "id");
    return ApiResponse::Error(out.status(), field);
  }
  if (ApiResponse c = Commit(ToEvents(*out)); c.status != 200) return c;
  std::optional<alerts::AlertView> view;
  {
    std::lock_guard lk(mu_);
    view = engine_.Find(id);
  }
  json transitions = json::array();
  for (const auto& t : out->transitions) transitions.push_back(TransitionJson(t));
  return ApiResponse::Json({{"alert", view ? ViewJson(*view) : json(nullptr)}, {"transitions", transitions}});
}

}  // namespace pf
