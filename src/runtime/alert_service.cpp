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
    : store_(store), engine_(std::move(engine)) {
  engine_.set_max_shelve(pc.alerts.max_shelve);
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
  PF_ASSIGN_OR_RETURN(std::optional<std::string> snapshot, store.LoadState(kSnapshotKey));
  if (snapshot) {
    auto restored = alerts::AlertEngine::Restore(pc.alerts.engine, *snapshot);
    if (restored.ok()) {
      PF_LOG_INFO("alerts: restored {} alerts from the stored snapshot", restored->Current().size());
      return std::unique_ptr<AlertService>(new AlertService(pc, store, std::move(*restored)));
    }
    return restored.status().WithContext(fmt::format("alerts: restoring the snapshot from store '{}'", store.path()));
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
  changes_.fetch_add(1);
  for (Event& e : ToEvents(*r)) out.push_back(std::move(e));
}

void AlertService::OnSample(const Sample& s, const std::string& machine_state, std::vector<Event>& out) {
  auto it = rules_by_tag_.find(s.tag);
  if (it == rules_by_tag_.end()) return;
  for (size_t i : it->second) {
    std::optional<alerts::ConditionUpdate> u = rules_[i].OnSample(s, machine_state);
    if (!u) continue;
    std::lock_guard lk(mu_);
    Apply(engine_.Evaluate(*u), out, "evaluate");
  }
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

std::optional<std::string> AlertService::TakeSnapshotIfChanged() {
  uint64_t c = changes_.load();
  if (c == saved_changes_) return std::nullopt;
  saved_changes_ = c;
  std::lock_guard lk(mu_);
  return engine_.Snapshot();
}

Status AlertService::AddRoutes(ApiServer& api, std::function<void(Event&&)> emit) {
  emit_ = std::move(emit);
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/alerts", [this](const ApiRequest& r) { return List(r); }, false));
  PF_RETURN_IF_ERROR(api.AddRoute("GET", "/api/v1/alerts/stats", [this](const ApiRequest& r) { return Stats(r); }, false));
  for (const char* action : {"ack", "shelve", "unshelve"}) {
    std::string a = action;
    PF_RETURN_IF_ERROR(api.AddRoute("POST", fmt::format("/api/v1/alerts/{{id}}/{}", a),
                                    [this, a](const ApiRequest& r) { return Action(r, a); }, true));
  }
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

ApiResponse AlertService::Stats(const ApiRequest& r) const {
  Timestamp end = Now();
  Timestamp start = end - std::chrono::hours(24);
  std::vector<AlertTransition> history;
  EventQuery q;
  q.kind = "alert";
  q.from = start;
  q.to = end;
  q.limit = 10000;
  for (;;) {
    auto page = store_.events().Query(q);
    if (!page.ok()) return ApiResponse::Error(page.status().WithContext("alerts stats: reading alert events"));
    for (const Event& e : page->events) {
      json p = json::parse(e.payload_json, nullptr, false);
      if (auto t = TransitionFromJson(p)) history.push_back(std::move(*t));
    }
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  std::sort(history.begin(), history.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  alerts::MetricsOptions mo;
  mo.period_start = start;
  mo.period_end = end;
  mo.by_area = r.Query("by") == std::optional<std::string>("area");
  auto m = alerts::ComputeAlarmMetrics(history, mo);
  if (!m.ok()) return ApiResponse::Error(m.status());
  json body = json::parse(m->ToJson(), nullptr, false);
  if (body.is_discarded()) return ApiResponse::Error(Internal("alerts stats: metrics JSON did not parse"));
  body["transitions"] = history.size();
  return ApiResponse::Json(body);
}

ApiResponse AlertService::Action(const ApiRequest& r, const std::string& action) {
  const std::string& id = r.Param("id");
  json body;
  try {
    body = r.body.empty() ? json::object() : json::parse(r.body);
  } catch (const json::parse_error& e) {
    return ApiResponse::Error(InvalidArgument("malformed JSON body at byte {}: {}", e.byte, e.what()), "body");
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
  Timestamp now = Now();
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
      return ApiResponse::Error(NotFound("alert '{}': {}", id, out.status().message()));
    return ApiResponse::Error(out.status(), field);
  }
  if (!out->transitions.empty() || !out->floods.empty()) changes_.fetch_add(1);
  std::vector<Event> events = ToEvents(*out);
  for (Event& e : events) emit_(std::move(e));
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
