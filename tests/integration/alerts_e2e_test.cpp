// Alerts end to end: a real libmodbus server whose HR0 counter rises by 1 every 100 ms, a "high"
// threshold rule on it, the plantfloor binary, its REST API and a real mosquitto as the hub. The
// alert is raised, acknowledged, refused a shelve without expiry, given operator feedback, and a
// maintenance record of a failure no alert caught is posted; plantfloor is killed with -9 right
// after the last answer. After the restart the alert has its id and state, the labels are stored,
// the stats show the ISA-18.2 / EEMUA 191 targets and the precision per source, /metrics has the
// alarm-rate and precision gauges, and the hub received every alert and label record.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "uplink/uplink_test_support.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json Get(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  EXPECT_TRUE(r) << path;
  if (!r) return json();
  EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  return json::parse(r->body, nullptr, false);
}

std::pair<int, json> Post(httplib::Client& c, const std::string& path, const std::string& body) {
  auto r = c.Post(path, body, "application/json");
  EXPECT_TRUE(r) << path;
  if (!r) return {0, json()};
  return {r->status, json::parse(r->body, nullptr, false)};
}

// Polls GET /api/v1/alerts until it lists at least one alert.
json WaitForAlert(httplib::Client& c, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  json list;
  while (std::chrono::steady_clock::now() < end) {
    if (auto r = c.Get("/api/v1/alerts"); r && r->status == 200) {
      list = json::parse(r->body, nullptr, false);
      if (list.is_object() && !list["items"].empty()) return list;
    }
    std::this_thread::sleep_for(100ms);
  }
  return list;
}

TEST(AlertsE2E, ActionsAndLabelsSurviveKill9AndReachTheHub) {
  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  testing::TempDir dir;
  testing::TempDir broker_dir;
  int broker_port = testing::FreePort();
  uplink::testing::Broker broker(broker_dir.path(), broker_port, "", true);
  ASSERT_TRUE(broker.Start()) << broker.Log();
  e2e::HubSubscriber hub(broker_port, "alerts-e2e-hub");
  hub.Connect();
  ASSERT_TRUE(hub.WaitSubscribed(0, 5s));
  int api_port = testing::FreePort();
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
name = "alerts-e2e"
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"

[[assets]]
id = "press7"
area = "pressing"
line = "line1"

[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:{2}"
poll = "100ms"
timeout = "500ms"
asset = "press7"
[[sources.tags]]
name = "press7.counter"
address = "hr:0"
type = "uint16"

[[uplinks]]
name = "hub"
type = "mqtt"
broker = "tcp://127.0.0.1:{3}"
device = "edge1"
reconnect_min = "200ms"
reconnect_max = "1s"

[alerts]
positions = {{ pressing = "console1" }}

[[alerts.rules]]
tag = "press7.counter"
kind = "high"
limit = 10
priority = "medium"
)",
                                                           dir.path(), api_port, plc.port(), broker_port);
  const std::vector<std::string> args = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml"};
  httplib::Client api("127.0.0.1", api_port);
  api.set_read_timeout(5, 0);

  std::string id, feedback_id, maintenance_id;
  {
    e2e::ChildProcess pf(args);
    ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up";
    json list = WaitForAlert(api, 15s);
    ASSERT_EQ(list["items"].size(), 1u) << list.dump();
    EXPECT_TRUE(list["next_cursor"].is_null());
    const json& a = list["items"][0];
    id = a["id"].get<std::string>();
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(a["asset"], "press7");
    EXPECT_EQ(a["cause"], "counter.high");
    EXPECT_EQ(a["source"], "threshold:press7.counter.high");
    EXPECT_EQ(a["position"], "console1");
    EXPECT_EQ(a["state"], "unack");
    EXPECT_EQ(a["priority"], "medium");
    EXPECT_EQ(a["chattering"], false);
    EXPECT_TRUE(a["raised"].is_string());
    EXPECT_TRUE(a["acked"].is_null());
    EXPECT_GT(a["value"].get<double>(), 10.0);

    // Filters.
    EXPECT_EQ(Get(api, "/api/v1/alerts?state=unack")["items"].size(), 1u);
    EXPECT_EQ(Get(api, "/api/v1/alerts?state=acked")["items"].size(), 0u);
    EXPECT_EQ(Get(api, "/api/v1/alerts?asset=meter")["items"].size(), 0u);
    auto bad_state = api.Get("/api/v1/alerts?state=open");
    ASSERT_TRUE(bad_state);
    EXPECT_EQ(bad_state->status, 400);
    EXPECT_EQ(json::parse(bad_state->body)["field"], "state");

    auto [ack_status, ack] = Post(api, "/api/v1/alerts/" + id + "/ack", R"({"who": "anna", "comment": "seen it"})");
    EXPECT_EQ(ack_status, 200) << ack.dump();
    EXPECT_EQ(ack["alert"]["state"], "acked") << ack.dump();
    EXPECT_EQ(ack["alert"]["acked_by"], "anna");
    ASSERT_EQ(ack["transitions"].size(), 1u) << ack.dump();
    EXPECT_EQ(ack["transitions"][0]["action"], "ack");

    auto [shelve_status, shelve] = Post(api, "/api/v1/alerts/" + id + "/shelve", R"({"who": "anna", "reason": "sensor swap"})");
    EXPECT_EQ(shelve_status, 400);
    EXPECT_EQ(shelve, json::parse(R"({"code": "invalid_argument", "field": "expires", "message":
      "expires: required: shelving is time-limited; give the RFC 3339 time until which the alert stays shelved"})"));

    auto [unknown_status, unknown] = Post(api, "/api/v1/alerts/nope/ack", R"({"who": "anna"})");
    EXPECT_EQ(unknown_status, 404) << unknown.dump();
    EXPECT_EQ(unknown["code"], "not_found");
    EXPECT_EQ(unknown["field"], "id");

    auto [bad_status, bad] = Post(api, "/api/v1/alerts/" + id + "/ack", R"({"who": )");
    EXPECT_EQ(bad_status, 400);
    EXPECT_EQ(bad["field"], "body");
    EXPECT_EQ(bad["message"].get<std::string>().rfind("malformed JSON body at byte 9: ", 0), 0u) << bad.dump();

    auto [fb_status, fb] = Post(api, "/api/v1/alerts/" + id + "/feedback",
                                R"({"who": "anna", "verdict": "confirmed", "cause": "process_upset", "comment": "counter ran away"})");
    EXPECT_EQ(fb_status, 201) << fb.dump();
    feedback_id = fb["label_id"].get<std::string>();
    auto [bad_cause_status, bad_cause] =
        Post(api, "/api/v1/alerts/" + id + "/feedback", R"({"who": "anna", "verdict": "confirmed", "cause": "gremlins"})");
    EXPECT_EQ(bad_cause_status, 400);
    EXPECT_EQ(bad_cause["field"], "cause");
    auto [unknown_fb_status, unknown_fb] = Post(api, "/api/v1/alerts/nope/feedback", R"({"who": "anna", "verdict": "confirmed"})");
    EXPECT_EQ(unknown_fb_status, 404);
    EXPECT_EQ(unknown_fb["field"], "id");
    auto [mr_status, mr] = Post(api, "/api/v1/assets/press7/maintenance",
                                R"({"who": "ben", "component": "main drive bearing", "failure_mode": "bearing_outer_race",
                                    "condition": "degraded", "action": "replaced bearing"})");
    EXPECT_EQ(mr_status, 201) << mr.dump();
    maintenance_id = mr["label_id"].get<std::string>();
    // No sleep: an answered action is already committed.
    pf.Kill9();
  }

  e2e::ChildProcess pf(args);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up after kill -9";
  json list = Get(api, "/api/v1/alerts");
  ASSERT_EQ(list["items"].size(), 1u) << list.dump();
  EXPECT_EQ(list["items"][0]["id"], id) << "the same occurrence survives kill -9";
  EXPECT_EQ(list["items"][0]["state"], "acked");
  EXPECT_EQ(list["items"][0]["acked_by"], "anna");

  json stats = Get(api, "/api/v1/alerts/stats");
  ASSERT_EQ(stats["groups"].size(), 1u) << stats.dump();
  const json& g = stats["groups"][0];
  EXPECT_EQ(g["name"], "console1");
  EXPECT_EQ(g["alerts"], 1);
  EXPECT_EQ(g["alerts_per_10min"]["target"], 1.0);
  EXPECT_EQ(g["alerts_per_10min"]["manageable"], 2.0);
  EXPECT_EQ(g["flood"]["target_percent_below"], 1.0);
  EXPECT_EQ(g["standing"]["target_below"], 5);
  EXPECT_EQ(g["chattering"]["target"], 0);
  EXPECT_EQ(g["priority_mix"]["medium"]["count"], 1);
  EXPECT_EQ(g["priority_mix"]["medium"]["target_percent"], 15.0);

  json precision = Get(api, "/api/v1/alerts/precision");
  ASSERT_EQ(precision["sources"].size(), 1u) << precision.dump();
  EXPECT_EQ(precision["sources"][0]["source"], "threshold:press7.counter.high");
  EXPECT_EQ(precision["sources"][0]["confirmed"], 1);
  EXPECT_EQ(precision["sources"][0]["precision"], 1.0);
  EXPECT_EQ(precision["sources"][0]["confirmed_causes"]["process_upset"], 1);
  EXPECT_EQ(precision["maintenance"]["missed"], 1);
  EXPECT_EQ(precision["maintenance"]["missed_by_asset"]["press7"], 1);

  json events = Get(api, "/api/v1/events?kind=alert&limit=100");
  std::vector<std::string> actions;
  for (const auto& e : events["items"]) {
    EXPECT_EQ(e["kind"], "alert");
    EXPECT_EQ(e["refers_to"], id) << e.dump();
    EXPECT_EQ(e["source"], "threshold:press7.counter.high");
    EXPECT_EQ(e["severity"], "medium");
    actions.push_back(e["payload"]["action"].get<std::string>());
  }
  // Newest first: the operator's ack after the raise, nothing else (the shelve was refused).
  EXPECT_EQ(actions, (std::vector<std::string>{"ack", "raise"})) << events.dump();
  EXPECT_EQ(events["items"][0]["operator"], "anna");
  EXPECT_EQ(events["items"][0]["comment"], "seen it");
  json labels = Get(api, "/api/v1/events?kind=label");
  ASSERT_EQ(labels["items"].size(), 2u) << labels.dump();
  json of_alert = Get(api, "/api/v1/events?kind=label&refers_to=" + id);
  ASSERT_EQ(of_alert["items"].size(), 1u) << of_alert.dump();
  EXPECT_EQ(of_alert["items"][0]["id"], feedback_id);
  EXPECT_EQ(of_alert["items"][0]["payload"]["verdict"], "confirmed");

  // The hub receives the alert records and both labels (QoS 1: duplicates allowed, none missing).
  std::set<std::string> want = {events["items"][0]["id"], events["items"][1]["id"], feedback_id, maintenance_id};
  std::set<std::string> got;
  std::vector<json> hub_labels;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && got != want) {
    got.clear();
    hub_labels.clear();
    for (const json& m : hub.Messages()) {
      if (!m.contains("event")) continue;
      std::string eid = m["event"].value("id", "");
      if (want.count(eid)) got.insert(eid);
      if (m["type"] == "label") hub_labels.push_back(m);
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(got, want) << "hub messages: " << hub.Count();
  ASSERT_FALSE(hub_labels.empty());
  for (const json& m : hub_labels) EXPECT_EQ(m["event"]["kind"], "label");

  // /metrics: alarm rates per position with the targets beside them, precision per source
  // (refreshed every 10 s by the housekeeping thread, first at start).
  std::string text;
  for (int i = 0; i < 50; ++i) {
    auto metrics = api.Get("/metrics");
    ASSERT_TRUE(metrics);
    text = metrics->body;
    if (text.find("pf_alert_precision{") != std::string::npos) break;
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_NE(text.find("pf_alerts_current{state=\"acked\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_alarm_raised{position=\"console1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_alarm_target{metric=\"rate_per_10min\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("pf_alert_precision{source=\"threshold:press7.counter.high\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_alert_missed_failures{asset=\"press7\"} 1\n"), std::string::npos);
  hub.Disconnect();
}

}  // namespace
}  // namespace pf
