// `plantfloor run` with an OPC UA source against the node-opcua peer, end to end through the REST API:
// the peer's values land with good quality; the server is stopped: the tags go bad (comm_failure) once,
// on the transition; it is restarted: the history holds a bad/gap point at the start of the lost range
// (also a "source_gap" event with that start) and good values after it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "e2e_process.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json WaitFor(int port, const std::string& path, const std::function<bool(const json&)>& done,
             std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  json j;
  while (std::chrono::steady_clock::now() < end) {
    j = e2e::GetJson(port, path);
    if (!j.is_discarded() && done(j)) return j;
    std::this_thread::sleep_for(100ms);
  }
  return j;
}

bool Quality(const json& tag, const std::string& quality, const std::string& sub = "") {
  return tag.is_object() && tag["quality"] == quality && (sub.empty() || tag["quality_sub"] == sub);
}

TEST(OpcuaE2E, ValuesThenCommFailureThenGapThenGoodAgain) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  testing::TempDir dir;
  int api_port = testing::FreePort();
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
name = "e2e"
site = "plant1"
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"

[[assets]]
id = "line1"
area = "assembly"
line = "line1"

[[sources]]
name = "ua1"
type = "opcua"
endpoint = "opc.tcp://127.0.0.1:{2}/UA/EdgeTestPeer"
publishing_interval = "100ms"
sampling_interval = "100ms"
timeout = "2s"
reconnect_min = "200ms"
reconnect_max = "1s"
asset = "line1"
[[sources.tags]]
name = "line1.temperature"
node = "ns=1;s=Line1.Temperature"
[[sources.tags]]
name = "line1.counter"
browse_path = "1:Line1/1:Counter"
[[sources.tags]]
name = "line1.running"
node = "ns=1;s=Line1.Running"
[[sources.tags]]
name = "line1.label"
node = "ns=1;s=Line1.Label"
)",
                                                           dir.path(), api_port, peer.port());
  const std::string from = FormatRfc3339(Now() - 1min);
  e2e::ChildProcess pf({testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml"});
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up";

  // The peer's values (server.js: Counter 42, Running true, Label "hello", Temperature 20 + 5 sin t).
  json counter = WaitFor(api_port, "/api/v1/tags/line1.counter", [](const json& j) { return Quality(j, "good"); }, 20s);
  ASSERT_TRUE(Quality(counter, "good")) << counter.dump();
  EXPECT_EQ(counter["value"], 42) << counter.dump();
  json temp = WaitFor(api_port, "/api/v1/tags/line1.temperature", [](const json& j) { return Quality(j, "good"); }, 10s);
  ASSERT_TRUE(temp["value"].is_number()) << temp.dump();
  EXPECT_GE(temp["value"].get<double>(), 15.0);
  EXPECT_LE(temp["value"].get<double>(), 25.0);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/line1.running")["value"], true);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/line1.label")["value"], "hello");
  json health = e2e::GetJson(api_port, "/api/v1/health");
  for (const auto& s : health["sources"])
    if (s["name"] == "ua1") {
      EXPECT_EQ(s["connected"], true) << s.dump();
    }

  // The server goes away: bad/comm_failure.
  peer.Stop();
  temp = WaitFor(api_port, "/api/v1/tags/line1.temperature",
                 [](const json& j) { return Quality(j, "bad", "comm_failure"); }, 20s);
  ASSERT_TRUE(Quality(temp, "bad", "comm_failure")) << temp.dump();
  EXPECT_TRUE(temp["value"].is_null()) << temp.dump();
  health = e2e::GetJson(api_port, "/api/v1/health");
  for (const auto& s : health["sources"])
    if (s["name"] == "ua1") {
      EXPECT_EQ(s["connected"], false) << s.dump();
    }
  std::this_thread::sleep_for(2s);  // reconnect attempts fail meanwhile

  // Restarted on the same port: good values again.
  testing::Peer again("opcua", peer.port());
  ASSERT_TRUE(again.ok()) << again.log();
  counter = WaitFor(api_port, "/api/v1/tags/line1.counter", [](const json& j) { return Quality(j, "good"); }, 40s);
  ASSERT_TRUE(Quality(counter, "good")) << counter.dump();
  EXPECT_EQ(counter["value"], 42);
  std::this_thread::sleep_for(1s);  // let the store commit

  // The counter never changes, so its stored history is exactly the story: good, the gap from the last
  // notification before the break, comm_failure when the loss was noticed, good after recovery.
  const std::string to = FormatRfc3339(Now() + 1min);
  json hist = e2e::GetJson(api_port, fmt::format("/api/v1/tags/line1.counter/history?from={}&to={}", from, to));
  ASSERT_TRUE(hist.contains("points")) << hist.dump();
  int comm = 0, gaps = 0;
  std::string gap_time, comm_time;
  for (const auto& p : hist["points"]) {
    if (p["quality_sub"] == "comm_failure") ++comm, comm_time = p["time"];
    if (p["quality_sub"] == "gap") {
      ++gaps, gap_time = p["time"];
      EXPECT_EQ(p["quality"], "bad");
      EXPECT_TRUE(p["value"].is_null());
    }
  }
  EXPECT_EQ(comm, 1) << "one bad sample on the transition: " << hist.dump();
  EXPECT_EQ(gaps, 1) << hist.dump();
  EXPECT_LE(gap_time, comm_time) << "the gap starts before the loss was noticed";  // RFC 3339, same format
  const json& last = hist["points"].back();
  EXPECT_EQ(last["quality"], "good") << hist.dump();
  EXPECT_EQ(last["value"], 42);
  EXPECT_GT(last["time"].get<std::string>(), gap_time);

  // Temperature: good points after the gap point.
  json th = e2e::GetJson(api_port, fmt::format("/api/v1/tags/line1.temperature/history?from={}&to={}", from, to));
  int good_after = 0;
  bool seen_gap = false;
  for (const auto& p : th["points"]) {
    if (p["quality_sub"] == "gap") seen_gap = true;
    else if (seen_gap && p["quality"] == "good" && p["time"].get<std::string>() > gap_time) ++good_after;
  }
  EXPECT_TRUE(seen_gap) << th.dump().substr(0, 3000);
  EXPECT_GE(good_after, 3) << th.dump().substr(0, 3000);

  // The lost range is an event with the same start.
  json events = e2e::GetJson(api_port, "/api/v1/events?kind=source_gap&limit=100");
  ASSERT_TRUE(events.contains("items")) << events.dump();
  ASSERT_GE(events["items"].size(), 1u) << events.dump();
  EXPECT_EQ(events["items"][0]["start"], gap_time) << events.dump();
  EXPECT_EQ(events["items"][0]["source"], "opcua:ua1");
  EXPECT_EQ(pf.SignalAndWait(SIGTERM, 15s), 0) << "clean exit on SIGTERM";
}

}  // namespace
}  // namespace pf
