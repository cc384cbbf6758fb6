// [alerts] and [[alerts.rules]] validation by BuildPlantConfig, and the alert events the runtime
// stores for engine output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/alert_service.h"
#include "runtime/config_loader.h"
#include "runtime/plant_config.h"
#include "testing.h"

namespace pf {
namespace {

constexpr const char* kBase = R"(
[[assets]]
id = "press7"
area = "pressing"
line = "line1"

[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:5020"
asset = "press7"

[[sources.tags]]
name = "press7.temp"
address = "40001"
type = "uint16"

[[sources.tags]]
name = "press7.state"
address = "40002"
type = "uint16"
context = "machine_state"
)";

Result<PlantConfig> Build(const std::string& extra) {
  auto env = [](const std::string&, std::string*) { return false; };
  PF_ASSIGN_OR_RETURN(ConfigNode root, ParseConfigText(std::string(kBase) + extra, "plant.toml", env));
  return BuildPlantConfig(std::move(root));
}

TEST(AlertsConfig, DefaultsWithoutAlertsTable) {
  auto pc = Build("");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  EXPECT_TRUE(pc->alerts.rules.empty());
  EXPECT_EQ(pc->alerts.engine.chatter_count, 5);
  EXPECT_EQ(pc->alerts.engine.flood_count, 10);
  EXPECT_EQ(pc->alerts.engine.flood_window, std::chrono::minutes(10));
  EXPECT_EQ(pc->alerts.engine.PositionOf("press7"), "pressing");
}

TEST(AlertsConfig, RulesPositionsAndSettings) {
  auto pc = Build(R"(
[alerts]
chatter_count = 3
chatter_window = "30s"
flood_count = 4
flood_window = "5m"
max_shelve = "8h"
positions = { pressing = "console1" }

[[alerts.rules]]
tag = "press7.temp"
kind = "high"
limit = 90
deadband = 2
on_delay = "1s"
priority = "high"
suppress_in_states = ["stopped"]
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  const AlertsConfig& ac = pc->alerts;
  EXPECT_EQ(ac.engine.chatter_count, 3);
  EXPECT_EQ(ac.engine.chatter_window, std::chrono::seconds(30));
  EXPECT_EQ(ac.engine.flood_count, 4);
  EXPECT_EQ(ac.engine.flood_window, std::chrono::minutes(5));
  EXPECT_EQ(ac.max_shelve, std::chrono::hours(8));
  EXPECT_EQ(ac.engine.PositionOf("press7"), "console1");
  ASSERT_EQ(ac.rules.size(), 1u);
  EXPECT_EQ(ac.rules[0].tag, "press7.temp");
  EXPECT_EQ(ac.rules[0].asset, "press7");
  EXPECT_EQ(ac.rules[0].cause, "temp.high");
  EXPECT_EQ(ac.rules[0].limit, 90);
  const alerts::ConditionConfig& cc = ac.engine.For("threshold:press7.temp.high");
  EXPECT_EQ(cc.priority, alerts::Priority::kHigh);
  EXPECT_EQ(cc.on_delay, std::chrono::seconds(1));
  EXPECT_EQ(cc.suppress_in_states, std::vector<std::string>{"stopped"});
}

TEST(AlertsConfig, UnknownTagNamesFileLineAndKey) {
  auto pc = Build(R"(
[[alerts.rules]]
tag = "press7.tmep"
kind = "high"
limit = 90
)");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(),
            "plant.toml:25: alerts.rules[0].tag: unknown tag 'press7.tmep'; a rule watches a tag declared under "
            "[[sources.tags]] or a template (did you mean 'press7.temp'?)");
}

TEST(AlertsConfig, RuleErrorsFromTheRuleSpec) {
  auto missing_limit = Build(R"(
[[alerts.rules]]
tag = "press7.temp"
kind = "high"
)");
  ASSERT_FALSE(missing_limit.ok());
  EXPECT_EQ(missing_limit.status().message(), "plant.toml:24: alerts.rules[0].limit: a high rule needs a limit");

  auto unknown_key = Build(R"(
[[alerts.rules]]
tag = "press7.temp"
kind = "high"
limit = 1
priorty = "high"
)");
  ASSERT_FALSE(unknown_key.ok());
  EXPECT_NE(unknown_key.status().message().find("plant.toml:28: alerts.rules[0].priorty"), std::string::npos)
      << unknown_key.status().message();
}

TEST(AlertsConfig, DuplicateRuleAndUnknownArea) {
  auto dup = Build(R"(
[[alerts.rules]]
tag = "press7.temp"
kind = "high"
limit = 1

[[alerts.rules]]
tag = "press7.temp"
kind = "high"
limit = 2
)");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(),
            "plant.toml:29: alerts.rules[1]: duplicate rule 'threshold:press7.temp.high' (first defined at plant.toml:24)");

  auto area = Build(R"(
[alerts]
positions = { welding = "console2" }
)");
  ASSERT_FALSE(area.ok());
  EXPECT_EQ(area.status().message(),
            "plant.toml:25: alerts.positions.welding: unknown area 'welding'; areas of the declared assets: pressing");
}

TEST(AlertsConfig, BadSettings) {
  auto pc = Build(R"(
[alerts]
flood_count = 0
)");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(), "plant.toml:25: alerts.flood_count: expected an integer from 1 to 1000000, got 0");
  pc = Build("[alerts]\nclock = \"plc\"\n");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(), "plant.toml:24: alerts.clock: unknown clock 'plc'; expected wall or source");
  pc = Build("[alerts]\ncause_codes = [\"bearing\", \"Bad Code\"]\n");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(), "plant.toml:24: alerts.cause_codes: 'Bad Code' is not a code: use 1-64 of a-z, 0-9 and _");
  pc = Build("[alerts]\ncause_codes = [\"wear\", \"wear\"]\nclock = \"source\"\n");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(), "plant.toml:24: alerts.cause_codes: duplicate code 'wear'");
  pc = Build("[alerts]\ncause_codes = [\"wear\", \"leak\"]\nclock = \"source\"\n");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  EXPECT_EQ(pc->alerts.cause_codes, (std::vector<std::string>{"wear", "leak"}));
  EXPECT_TRUE(pc->alerts.source_clock);
}

TEST(AlertService, TransitionsBecomeAlertEvents) {
  alerts::AlertTransition t;
  t.alert_id = "A1";
  t.asset = "press7";
  t.cause = "temp.high";
  t.source = "threshold:press7.temp.high";
  t.priority = alerts::Priority::kMedium;
  t.action = "ack";
  t.from = alerts::AlertState::kActiveUnacked;
  t.to = alerts::AlertState::kActiveAcked;
  t.time = Timestamp::FromNs(1'700'000'000'000'000'000);
  t.who = "anna";
  t.reason = "checking";
  alerts::EngineOutput out;
  out.transitions.push_back(t);
  std::vector<Event> events = AlertService::ToEvents(out);
  ASSERT_EQ(events.size(), 1u);
  const Event& e = events[0];
  EXPECT_EQ(e.kind, "alert");
  EXPECT_EQ(e.severity, "medium");
  EXPECT_EQ(e.refers_to, "A1");
  EXPECT_EQ(e.asset_id, "press7");
  EXPECT_EQ(e.source, "threshold:press7.temp.high");
  EXPECT_EQ(e.operator_name, "anna");
  EXPECT_EQ(e.comment, "checking");
  EXPECT_EQ(e.start, t.time);
  auto p = nlohmann::json::parse(e.payload_json);
  EXPECT_EQ(p["action"], "ack");
  EXPECT_EQ(p["from"], "unack");
  EXPECT_EQ(p["to"], "acked");
  EXPECT_EQ(p["time"], "2023-11-14T22:13:20.000000000Z");
}

// An AlertService over a real store with one raised alert (press7.temp 95 > 90), and an
// ApiServer (no sockets: Handle) with the alert routes behind an auth hook.
class AlertApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pc = Build(R"(
[[alerts.rules]]
tag = "press7.temp"
kind = "high"
limit = 90
priority = "high"
)");
    ASSERT_TRUE(pc.ok()) << pc.status().ToString();
    pc_ = std::move(*pc);
    StoreOptions so;
    so.path = dir_.path() + "/plant.db";
    so.fsync = false;
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    for (const TagDef& t : pc_.tags) ASSERT_TRUE(store_->RegisterTag(t).ok());
    auto svc = AlertService::Create(pc_, *store_);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    svc_ = std::move(*svc);
    ApiServerOptions ao;
    ao.port = 0;
    ao.auth = [this](const AuthRequest& r) {
      routes_checked_.push_back(r.route);
      return refuse_ ? PermissionDenied("operator role required for {}", r.route) : Status::Ok();
    };
    api_ = std::make_unique<ApiServer>(ao, nullptr);
    // Like Runtime::EmitDurable: the events are committed before the route answers.
    ASSERT_TRUE(svc_->AddRoutes(*api_, [this](std::vector<Event> events) {
                      if (fail_commit_) return Unavailable("the store refused the commit (disk full)");
                      CommitBatch batch;
                      batch.events = events;
                      for (Event& e : events) emitted_.push_back(std::move(e));
                      return store_->Commit(batch);
                    }).ok());

    Sample s;
    s.tag = 0;  // press7.temp
    s.value = 95.0;
    s.source_time = s.receive_time = Now();
    std::vector<Event> events;
    svc_->OnSample(s, "", events);
    ASSERT_EQ(events.size(), 1u);
    id_ = events[0].refers_to;
    CommitBatch batch;
    batch.events = events;
    batch.state = svc_->TakeStateIfChanged();
    ASSERT_EQ(batch.state.size(), 2u) << "the global part and the one condition";
    ASSERT_TRUE(store_->Commit(batch).ok());
    EXPECT_TRUE(svc_->TakeStateIfChanged().empty()) << "unchanged engine: nothing to write";
  }

  ApiResponse Call(const std::string& method, const std::string& path, const std::string& body = "") {
    ApiRequest r;
    r.method = method;
    r.body = body;
    std::string raw = path;
    if (size_t q = path.find('?'); q != std::string::npos) {
      raw = path.substr(0, q);
      std::string query = path.substr(q + 1);
      size_t eq = query.find('=');
      r.query.emplace(query.substr(0, eq), query.substr(eq + 1));
    }
    return api_->Handle(std::move(r), raw);
  }

  testing::TempDir dir_;
  PlantConfig pc_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AlertService> svc_;
  std::unique_ptr<ApiServer> api_;
  std::vector<Event> emitted_;
  std::vector<std::string> routes_checked_;
  bool refuse_ = false;
  bool fail_commit_ = false;
  std::string id_;
};

TEST_F(AlertApi, EveryActionGoesThroughTheAuthHook) {
  refuse_ = true;
  for (const char* action : {"ack", "shelve", "unshelve", "feedback"}) {
    ApiResponse r = Call("POST", "/api/v1/alerts/" + id_ + "/" + action, R"({"who": "anna", "verdict": "confirmed"})");
    EXPECT_EQ(r.status, 403) << action;
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["code"], "permission_denied");
    EXPECT_EQ(body["message"], fmt::format("operator role required for /api/v1/alerts/{{id}}/{}", action));
  }
  ApiResponse m = Call("POST", "/api/v1/assets/press7/maintenance", R"({"who": "ben"})");
  EXPECT_EQ(m.status, 403);
  EXPECT_EQ(routes_checked_, (std::vector<std::string>{"/api/v1/alerts/{id}/ack", "/api/v1/alerts/{id}/shelve",
                                                       "/api/v1/alerts/{id}/unshelve", "/api/v1/alerts/{id}/feedback",
                                                       "/api/v1/assets/{id}/maintenance"}));
  EXPECT_TRUE(emitted_.empty()) << "a refused action changes nothing";
  ApiResponse list = Call("GET", "/api/v1/alerts");
  EXPECT_EQ(list.status, 200) << "reads are not checked";
  EXPECT_EQ(nlohmann::json::parse(list.body)["items"][0]["state"], "unack");
  EXPECT_EQ(routes_checked_.size(), 5u);
}

TEST_F(AlertApi, ShelveWithExpiryThenUnshelveEmitEventsAndSnapshot) {
  ApiResponse bad_time = Call("POST", "/api/v1/alerts/" + id_ + "/shelve",
                              R"({"who": "anna", "reason": "r", "expires": "tomorrow"})");
  EXPECT_EQ(bad_time.status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_time.body)["field"], "expires");

  std::string expires = FormatRfc3339(Now() + std::chrono::hours(2), 3);
  ApiResponse shelve = Call("POST", "/api/v1/alerts/" + id_ + "/shelve",
                            fmt::format(R"({{"who": "anna", "reason": "sensor swap", "expires": "{}"}})", expires));
  ASSERT_EQ(shelve.status, 200) << shelve.body;
  auto sj = nlohmann::json::parse(shelve.body);
  EXPECT_EQ(sj["alert"]["state"], "shelved");
  EXPECT_EQ(sj["alert"]["shelved_until"], expires);
  EXPECT_EQ(sj["alert"]["shelve_reason"], "sensor swap");
  ASSERT_EQ(emitted_.size(), 1u);
  EXPECT_EQ(emitted_[0].kind, "alert");
  EXPECT_EQ(emitted_[0].refers_to, id_);
  EXPECT_EQ(nlohmann::json::parse(emitted_[0].payload_json)["action"], "shelve");
  EXPECT_FALSE(svc_->TakeStateIfChanged().empty()) << "an action marks the engine changed";

  EXPECT_EQ(nlohmann::json::parse(Call("GET", "/api/v1/alerts?state=shelved").body)["items"].size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(Call("GET", "/api/v1/alerts?state=unack").body)["items"].size(), 0u);

  ApiResponse unshelve = Call("POST", "/api/v1/alerts/" + id_ + "/unshelve", R"({"who": "anna"})");
  ASSERT_EQ(unshelve.status, 200) << unshelve.body;
  EXPECT_EQ(nlohmann::json::parse(unshelve.body)["alert"]["state"], "unack");
  ASSERT_EQ(emitted_.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(emitted_[1].payload_json)["action"], "unshelve");
}

TEST_F(AlertApi, ErrorsUnknownAlertMissingExpiryMalformedBody) {
  ApiResponse unknown = Call("POST", "/api/v1/alerts/A404/ack", R"({"who": "anna"})");
  EXPECT_EQ(unknown.status, 404);
  auto uj = nlohmann::json::parse(unknown.body);
  EXPECT_EQ(uj["code"], "not_found");
  EXPECT_EQ(uj["field"], "id");
  EXPECT_EQ(uj["message"].get<std::string>().rfind("id: alert 'A404': ", 0), 0u) << uj.dump();

  ApiResponse no_expiry = Call("POST", "/api/v1/alerts/" + id_ + "/shelve", R"({"who": "anna", "reason": "r"})");
  EXPECT_EQ(no_expiry.status, 400);
  EXPECT_EQ(nlohmann::json::parse(no_expiry.body),
            nlohmann::json::parse(R"({"code": "invalid_argument", "field": "expires", "message":
      "expires: required: shelving is time-limited; give the RFC 3339 time until which the alert stays shelved"})"));

  ApiResponse malformed = Call("POST", "/api/v1/alerts/" + id_ + "/ack", "{\"who\": \"anna\",");
  EXPECT_EQ(malformed.status, 400);
  auto mj = nlohmann::json::parse(malformed.body);
  EXPECT_EQ(mj["field"], "body");
  EXPECT_EQ(mj["message"].get<std::string>().rfind("malformed JSON body at byte 16: ", 0), 0u) << mj.dump();

  ApiResponse wrong_type = Call("POST", "/api/v1/alerts/" + id_ + "/ack", R"({"who": 7})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(nlohmann::json::parse(wrong_type.body)["message"], "who: expected a string, got number");
  EXPECT_TRUE(emitted_.empty());
}

TEST_F(AlertApi, SnapshotInTheStoreRestoresTheSameAlert) {
  ASSERT_EQ(Call("POST", "/api/v1/alerts/" + id_ + "/ack", R"({"who": "anna"})").status, 200);
  CommitBatch batch;
  batch.state = svc_->TakeStateIfChanged();
  ASSERT_TRUE(store_->Commit(batch).ok());
  auto restored = AlertService::Create(pc_, *store_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  ApiServer api2(ApiServerOptions{}, nullptr);
  ASSERT_TRUE((*restored)->AddRoutes(api2, [](std::vector<Event>) { return Status::Ok(); }).ok());
  ApiRequest r;
  r.method = "GET";
  auto list = nlohmann::json::parse(api2.Handle(r, "/api/v1/alerts").body);
  ASSERT_EQ(list["items"].size(), 1u) << list.dump();
  EXPECT_EQ(list["items"][0]["id"], id_);
  EXPECT_EQ(list["items"][0]["state"], "acked");
  EXPECT_EQ(list["items"][0]["acked_by"], "anna");
}

TEST_F(AlertApi, StatsOverTheStoredAlertEvents) {
  ApiResponse stats = Call("GET", "/api/v1/alerts/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  auto j = nlohmann::json::parse(stats.body);
  ASSERT_EQ(j["groups"].size(), 1u) << j.dump();
  EXPECT_EQ(j["groups"][0]["name"], "pressing");
  EXPECT_EQ(j["groups"][0]["alerts"], 1);
  EXPECT_EQ(j["groups"][0]["priority_mix"]["high"]["count"], 1);
  EXPECT_EQ(j["groups"][0]["alerts_per_10min"]["target"], 1.0);
}

TEST_F(AlertApi, FeedbackBecomesACommittedLabelOfTheAlert) {
  ApiResponse r = Call("POST", "/api/v1/alerts/" + id_ + "/feedback",
                       R"({"who": "anna", "verdict": "confirmed", "cause": "misalignment", "comment": "coupling worn"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["label"]["verdict"], "confirmed");
  EXPECT_EQ(j["label"]["alert_source"], "threshold:press7.temp.high");
  ASSERT_EQ(emitted_.size(), 1u);
  const Event& e = emitted_[0];
  EXPECT_EQ(e.kind, "label");
  EXPECT_EQ(e.source, "operator");
  EXPECT_EQ(e.refers_to, id_);
  EXPECT_EQ(e.asset_id, "press7");
  EXPECT_EQ(e.operator_name, "anna");
  EXPECT_EQ(e.comment, "coupling worn");
  EXPECT_EQ(e.id, j["label_id"]);
  // It is in the store (committed before the answer), found by the alert it refers to.
  EventQuery q;
  q.refers_to = id_;
  q.kind = "label";
  auto page = store_->events().Query(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(page->events[0].payload_json)["cause"], "misalignment");

  ApiResponse precision = Call("GET", "/api/v1/alerts/precision");
  ASSERT_EQ(precision.status, 200) << precision.body;
  auto p = nlohmann::json::parse(precision.body);
  ASSERT_EQ(p["sources"].size(), 1u) << p.dump();
  EXPECT_EQ(p["sources"][0]["source"], "threshold:press7.temp.high");
  EXPECT_EQ(p["sources"][0]["alerts"], 1);
  EXPECT_EQ(p["sources"][0]["confirmed"], 1);
  EXPECT_EQ(p["sources"][0]["precision"], 1.0);
  EXPECT_EQ(p["sources"][0]["feedback_coverage"], 1.0);

  // The operator changes their mind: the latest verdict counts.
  ASSERT_EQ(Call("POST", "/api/v1/alerts/" + id_ + "/feedback", R"({"who": "anna", "verdict": "false_alarm"})").status, 201);
  p = nlohmann::json::parse(Call("GET", "/api/v1/alerts/precision").body);
  EXPECT_EQ(p["sources"][0]["precision"], 0.0);
  EXPECT_EQ(p["sources"][0]["false_alarm"], 1);
}

TEST_F(AlertApi, FeedbackErrorsNameTheField) {
  auto err = [&](const std::string& path, const std::string& body) {
    ApiResponse r = Call("POST", path, body);
    return std::make_pair(r.status, nlohmann::json::parse(r.body));
  };
  auto [s1, unknown] = err("/api/v1/alerts/A404/feedback", R"({"who": "anna", "verdict": "confirmed"})");
  EXPECT_EQ(s1, 404);
  EXPECT_EQ(unknown, nlohmann::json::parse(
                         R"j({"code": "not_found", "field": "id", "message": "id: no alert 'A404' is known (current or stored)"})j"));
  auto [s2, cause] = err("/api/v1/alerts/" + id_ + "/feedback", R"({"who": "anna", "verdict": "confirmed", "cause": "gremlins"})");
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(cause["code"], "invalid_argument");
  EXPECT_EQ(cause["field"], "cause");
  EXPECT_EQ(cause["message"].get<std::string>().rfind("cause: unknown code 'gremlins'; expected one of: ", 0), 0u);
  auto [s3, verdict] = err("/api/v1/alerts/" + id_ + "/feedback", R"({"who": "anna"})");
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(verdict["field"], "verdict");
  EXPECT_TRUE(emitted_.empty());

  fail_commit_ = true;
  auto [s4, refused] = err("/api/v1/alerts/" + id_ + "/feedback", R"({"who": "anna", "verdict": "unknown"})");
  EXPECT_EQ(s4, 503);
  EXPECT_EQ(refused["code"], "unavailable");
  EXPECT_EQ(refused["message"], "the store refused the commit (disk full)");
}

TEST_F(AlertApi, MaintenanceRecordsMissedAndFollowUpFailures) {
  ApiResponse missed = Call("POST", "/api/v1/assets/press7/maintenance",
                            R"({"who": "ben", "component": "DE bearing", "failure_mode": "bearing_outer_race",
                                "condition": "degraded", "action": "replaced bearing", "time": "2026-01-05T07:30:00Z"})");
  ASSERT_EQ(missed.status, 201) << missed.body;
  auto mj = nlohmann::json::parse(missed.body);
  EXPECT_EQ(mj["label"]["missed"], true);
  EXPECT_EQ(mj["label"]["time"], "2026-01-05T07:30:00.000000000Z");
  ASSERT_EQ(emitted_.size(), 1u);
  EXPECT_EQ(emitted_[0].kind, "label");
  EXPECT_EQ(emitted_[0].source, "maintenance");
  EXPECT_EQ(emitted_[0].start, *ParseRfc3339("2026-01-05T07:30:00Z")) << "the time the failure was found";
  EXPECT_TRUE(emitted_[0].refers_to.empty());

  ApiResponse follow = Call("POST", "/api/v1/assets/press7/maintenance",
                            fmt::format(R"({{"who": "ben", "component": "heater", "failure_mode": "overheating",
                                "condition": "failed", "action": "replaced", "alert_id": "{}"}})", id_));
  ASSERT_EQ(follow.status, 201) << follow.body;
  EXPECT_EQ(emitted_.back().refers_to, id_);

  auto [unknown_asset_status, unknown_asset] = std::make_pair(
      Call("POST", "/api/v1/assets/press9/maintenance", R"({"who": "ben"})").status,
      nlohmann::json::parse(Call("POST", "/api/v1/assets/press9/maintenance", R"({"who": "ben"})").body));
  EXPECT_EQ(unknown_asset_status, 404);
  EXPECT_EQ(unknown_asset["field"], "id");
  ApiResponse bad_alert = Call("POST", "/api/v1/assets/press7/maintenance",
                               R"({"who": "ben", "component": "x", "failure_mode": "wear", "condition": "failed",
                                   "action": "y", "alert_id": "A404"})");
  EXPECT_EQ(bad_alert.status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_alert.body)["field"], "alert_id");

  // The missed failure shows in the precision report (it was found in January: ask for that period).
  auto p = nlohmann::json::parse(
      Call("GET", "/api/v1/alerts/precision?from=2026-01-01T00:00:00Z").body);
  EXPECT_EQ(p["maintenance"]["records"], 2);
  EXPECT_EQ(p["maintenance"]["missed"], 1);
  EXPECT_EQ(p["maintenance"]["missed_by_asset"]["press7"], 1);
  ApiResponse bad_period = Call("GET", "/api/v1/alerts/precision?from=yesterday");
  EXPECT_EQ(bad_period.status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_period.body)["field"], "from");
}

TEST_F(AlertApi, MetricsShowRatesTargetsAndPrecisionPerPosition) {
  ASSERT_EQ(Call("POST", "/api/v1/alerts/" + id_ + "/feedback", R"({"who": "anna", "verdict": "confirmed"})").status, 201);
  MetricsRegistry metrics;
  int owner = 0;
  svc_->RegisterMetrics(metrics, &owner);
  EXPECT_EQ(metrics.RenderPrometheus().find("pf_alarm_raised{"), std::string::npos) << "nothing before the first refresh";
  svc_->RefreshMetrics(Now() + std::chrono::seconds(1));
  std::string text = metrics.RenderPrometheus();
  for (const char* line : {
           "pf_alarm_raised{position=\"pressing\"} 1\n",
           "pf_alarm_rate_per_10min{position=\"pressing\"} 0.006944444444444444\n",  // 1 alert / 144 intervals
           "pf_alarm_rate_max_per_10min{position=\"pressing\"} 1\n",
           "pf_alarm_flood_time_percent{position=\"pressing\"} 0\n",
           "pf_alarm_chattering{position=\"pressing\"} 0\n",
           "pf_alarm_top{asset=\"press7\",cause=\"temp.high\",position=\"pressing\",rank=\"1\"} 1\n",
           "pf_alarm_target{metric=\"rate_per_10min\"} 1\n",
           "pf_alarm_target{metric=\"flood_time_percent\"} 1\n",
           "pf_alert_precision{source=\"threshold:press7.temp.high\"} 1\n",
           "pf_alert_feedback{source=\"threshold:press7.temp.high\",verdict=\"confirmed\"} 1\n",
       })
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  metrics.RemoveCallbacks(&owner);
}

}  // namespace
}  // namespace pf
