// `plantfloor run` end to end: a real libmodbus server and a replayed CSV in, the REST API and the
// history database out; SIGTERM stops it cleanly with everything accepted on disk; backpressure
// pauses a fast source instead of growing memory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "store/event_store.h"
#include "store/history.h"
#include "e2e_process.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json GetJson(httplib::Client& c, const std::string& path, int want_status = 200) {
  auto r = c.Get(path);
  EXPECT_TRUE(r) << path;
  if (!r) return json();
  EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
  return json::parse(r->body, nullptr, false);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(PlantfloorRun, ModbusAndReplayToApiAndHistoryThenCleanShutdown) {
  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  testing::TempDir dir;
  WriteFile(dir.path() + "/energy.csv",
            "date,kwh,load\n"
            "01/01/2018 00:15,3.17,Light_Load\n"
            "01/01/2018 00:30,4.00,Light_Load\n"
            "01/01/2018 00:45,oops,Medium_Load\n"
            "01/01/2018 01:00,3.24,Medium_Load\n");
  int api_port = testing::FreePort();
  WriteFile(dir.path() + "/plant.toml", fmt::format(R"(
[plant]
name = "e2e"
site = "plant1"
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"

[[assets]]
id = "press7"
area = "pressing"
line = "line1"
[[assets]]
id = "meter"
area = "utilities"
line = "energy"

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
[[sources.tags]]
name = "press7.uptime"
address = "40002"
type = "uint16"
unit = "s"

[[sources]]
name = "plc_dead"
type = "modbus"
endpoint = "tcp://127.0.0.1:{3}"
poll = "100ms"
timeout = "200ms"
asset = "press7"
[[sources.tags]]
name = "press7.spare"
address = "hr:5"
type = "uint16"

[[sources]]
name = "energy"
type = "replay"
file = "{0}/energy.csv"
time_format = "%d/%m/%Y %H:%M"
timezone = "Asia/Seoul"
speed = "fast"
asset = "meter"
[[sources.tags]]
name = "meter.usage_kwh"
column = "kwh"
unit = "kWh"
[[sources.tags]]
name = "meter.load_type"
column = "load"
context = "machine_state"
)",
                                                    dir.path(), api_port, plc.port(), testing::FreePort()));
  e2e::ChildProcess pf({testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml"});
  httplib::Client api("127.0.0.1", api_port);
  api.set_read_timeout(5, 0);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up";
  std::this_thread::sleep_for(1500ms);  // ~15 polls

  // One PLC answers, the other's port is closed: health is degraded and names what is wrong.
  json health = GetJson(api, "/api/v1/health");
  EXPECT_EQ(health["status"], "degraded") << health.dump();
  for (const auto& src : health["sources"]) {
    if (src["name"] == "plc1") {
      EXPECT_EQ(src["connected"], true) << src.dump();
    }
    if (src["name"] == "plc_dead") {
      EXPECT_EQ(src["connected"], false) << src.dump();
      ASSERT_TRUE(src["last_error"].is_string()) << src.dump();
      EXPECT_NE(src["last_error"].get<std::string>().find("refused"), std::string::npos) << src.dump();
    }
  }
  json spare = GetJson(api, "/api/v1/tags/press7.spare");
  EXPECT_EQ(spare["quality"], "bad") << spare.dump();
  EXPECT_EQ(spare["quality_sub"], "comm_failure") << spare.dump();

  json tag = GetJson(api, "/api/v1/tags/press7.counter");
  EXPECT_EQ(tag["quality"], "good") << tag.dump();
  EXPECT_TRUE(tag["value"].is_number()) << tag.dump();
  EXPECT_EQ(tag["asset"], "press7");

  // The replayed CSV: 3 good kWh values, the 'oops' row reported, text column as context.
  json kwh = GetJson(api, "/api/v1/tags/meter.usage_kwh/history?from=2017-12-31T00:00:00Z&to=2018-01-02T00:00:00Z");
  ASSERT_TRUE(kwh.contains("points")) << kwh.dump();
  EXPECT_EQ(kwh["mode"], "raw");
  std::vector<double> values;
  for (const auto& p : kwh["points"])
    if (p["quality"] == "good") values.push_back(p["value"].get<double>());
  EXPECT_EQ(values, (std::vector<double>{3.17, 4.00, 3.24})) << kwh.dump();
  // 01/01/2018 00:15 in Asia/Seoul (UTC+9) is 2017-12-31T15:15:00Z
  EXPECT_EQ(kwh["points"][0]["time"], "2017-12-31T15:15:00.000000000Z") << kwh.dump();
  EXPECT_EQ(kwh["points"][2]["quality_sub"], "parse_error") << "the 'oops' cell is kept as a bad sample";

  json asset = GetJson(api, "/api/v1/assets/meter");
  EXPECT_EQ(asset["context"]["machine_state"], "Medium_Load") << asset.dump();

  json counter_hist = GetJson(api, "/api/v1/tags/press7.counter/history");
  EXPECT_GE(counter_hist["points"].size(), 5u) << counter_hist.dump();

  json events = GetJson(api, "/api/v1/events?limit=1000");
  std::set<std::string> kinds;
  for (const auto& e : events["items"]) kinds.insert(e["kind"].get<std::string>());
  EXPECT_TRUE(kinds.count("runtime_started")) << events.dump();
  EXPECT_TRUE(kinds.count("source_status")) << events.dump();
  // Production context is stamped on events: the rejected 'oops' cell of the meter's third row
  // arrives after rows with Load_Type, so its event carries the meter's machine_state.
  bool stamped = false;
  for (const auto& e : events["items"]) {
    if (e["asset"] != "meter" || e["kind"] != "replay_cell_rejected") continue;
    std::string state = e["context"].value("machine_state", "");
    EXPECT_TRUE(state == "Light_Load" || state == "Medium_Load") << e.dump();
    stamped = true;
  }
  EXPECT_TRUE(stamped) << "no replay_cell_rejected event for the meter: " << events.dump();

  auto metrics = api.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("pf_bus_samples_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("pf_modbus_poll_seconds_bucket{le=\"0.01\",source=\"plc1\"}"), std::string::npos)
      << metrics->body.substr(0, 2000);
  EXPECT_NE(metrics->body.find("pf_queue_depth{queue=\"bus\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("pf_history_bytes"), std::string::npos);

  long latest_seen = static_cast<long>(GetJson(api, "/api/v1/tags/press7.counter")["seq"].get<double>());
  EXPECT_EQ(pf.SignalAndWait(SIGTERM, 10s), 0) << "clean exit on SIGTERM";

  // Everything accepted is on disk: the last polled sample is in the history after shutdown.
  HistoryOptions ho;
  ho.path = dir.path() + "/data/plantfloor.db";
  auto store = HistoryStore::Open(ho);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = (*store)->Query("press7.counter", Timestamp{0}, Now() + std::chrono::hours(1));
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_FALSE(rows->empty());
  EXPECT_GE(static_cast<long>(rows->back().seq), latest_seen);
}

TEST(PlantfloorRun, BackpressurePausesAFastSourceInsteadOfGrowingMemory) {
  testing::TempDir dir;
  const int kRows = 200000;
  {
    std::ofstream csv(dir.path() + "/big.csv");
    csv << "time,a,b,c,d\n";
    for (int i = 0; i < kRows; ++i)
      csv << 1600000000 + i << ',' << i << ',' << i * 0.5 << ',' << (i % 7) << ',' << -i << '\n';
  }
  int api_port = testing::FreePort();
  WriteFile(dir.path() + "/plant.toml", fmt::format(R"(
[plant]
data_dir = "{0}/data"
queue_capacity = 4
exit_when_sources_finish = true
[api]
listen = "127.0.0.1:{1}"
[history]
retention = "36500d"
[[assets]]
id = "a1"
area = "x"
line = "y"
[[sources]]
name = "big"
type = "replay"
file = "{0}/big.csv"
time_column = "time"
time_format = "epoch_s"
speed = "fast"
asset = "a1"
tags = [ {{ name = "a1.a", column = "a" }}, {{ name = "a1.b", column = "b" }},
         {{ name = "a1.c", column = "c", store = "all" }}, {{ name = "a1.d", column = "d" }} ]
)",
                                                    dir.path(), api_port));
  e2e::ChildProcess pf({testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml"});
  httplib::Client api("127.0.0.1", api_port);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  long peak_kb = 0;
  for (int i = 0; i < 600 && pf.Wait(std::chrono::milliseconds(1)) == -1; ++i) {  // up to 60 s
    peak_kb = std::max(peak_kb, pf.PeakRssKb());
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(pf.exit_code(), 0);
  auto events = EventStore::Open(dir.path() + "/data/plantfloor.db");
  ASSERT_TRUE(events.ok());
  EventQuery q;
  q.kind = "runtime_stopped";
  auto page = (*events)->Query(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 1u);
  json account = json::parse(page->events[0].payload_json);
  EXPECT_GT(account["bus_full_waits"].get<double>(), 0) << "the source never had to wait: " << account.dump();
  EXPECT_EQ(account["samples_dropped"].get<double>(), 0) << account.dump();
  EXPECT_LT(peak_kb, 64 * 1024) << "peak RSS " << peak_kb << " kB";
  HistoryOptions ho;
  ho.path = dir.path() + "/data/plantfloor.db";
  ho.retention = std::chrono::hours(24 * 36500);
  auto store = HistoryStore::Open(ho);
  ASSERT_TRUE(store.ok());
  auto rows = (*store)->Query("a1.c", Timestamp{0}, Now(), 1'000'000);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), static_cast<size_t>(kRows)) << "every row accepted is stored";
}

}  // namespace
}  // namespace pf
