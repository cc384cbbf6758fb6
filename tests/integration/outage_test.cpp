// Store and forward under a broker outage and kill -9, with a real mosquitto and a real Modbus
// server: 20 tags polled every 10 ms, each sample numbered by its source. The broker is down for
// 30 s; plantfloor is killed with SIGKILL in the middle of the outage; both are restarted. The
// subscriber must receive every sample the store committed, in order per tag once duplicates are
// dropped by id, and the only hole in the sequence numbers of the killed run is its tail: at most
// the last group-commit window before the kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <httplib.h>
#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "store/history.h"
#include "testing.h"
#include "uplink/uplink_test_support.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Outbox depth of the only uplink, from the API (-1 when unreachable).
double OutboxDepth(int api_port) {
  json o = e2e::GetJson(api_port, "/api/v1/outbox");
  if (!o.is_object() || o["uplinks"].size() != 1) return -1;
  return o["uplinks"][0]["depth"].get<double>();
}

TEST(StoreAndForward, BrokerOutageAndKillNineLoseNothingCommitted) {
  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  int broker_port = testing::FreePort();
  testing::TempDir dir;
  testing::TempDir broker_dir;
  auto broker = std::make_unique<uplink::testing::Broker>(broker_dir.path(), broker_port, "max_queued_messages 0\n", true);
  ASSERT_TRUE(broker->Start()) << broker->Log();
  const auto kWindow = 100ms;
  int api_port = testing::FreePort();
  std::string tags;
  for (int i = 0; i < 20; ++i)
    tags += fmt::format("  {{ name = \"press7.r{0}\", address = \"hr:{0}\", type = \"uint16\", store = \"all\" }},\n", i);
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "{4}ms"
[[assets]]
id = "press7"
area = "pressing"
line = "line1"
[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:{2}"
poll = "10ms"
timeout = "500ms"
asset = "press7"
tags = [
{5}]
[[uplinks]]
name = "hub"
type = "mqtt"
broker = "tcp://127.0.0.1:{3}"
device = "edge1"
reconnect_min = "200ms"
reconnect_max = "1s"
)",
                                                           dir.path(), api_port, plc.port(), broker_port,
                                                           kWindow.count(), tags);
  e2e::HubSubscriber sub(broker_port, "outage-test-subscriber");
  sub.Connect();
  ASSERT_TRUE(sub.WaitSubscribed(0, 5s));
  const std::vector<std::string> cmd = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml",
                                        "--log-level", "warn"};
  pid_t pf = e2e::Spawn(cmd);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  std::this_thread::sleep_for(3s);
  size_t before_outage = sub.Count();
  EXPECT_GT(before_outage, 1000u) << "samples flow before the outage";

  int64_t outage_ns = Now().ns;
  broker->Stop();  // outage: 30 s (SIGTERM: the broker saves its sessions)
  auto outage_start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(15s);
  int64_t kill_ns = Now().ns;
  kill(pf, SIGKILL);
  EXPECT_EQ(e2e::WaitExit(pf, 10s), 128 + SIGKILL);
  std::this_thread::sleep_until(outage_start + 30s);

  broker = std::make_unique<uplink::testing::Broker>(broker_dir.path(), broker_port, "max_queued_messages 0\n", true);
  ASSERT_TRUE(broker->Start()) << broker->Log();
  ASSERT_TRUE(sub.WaitSubscribed(sub.subscribed(), 10s)) << "the subscriber is back before plantfloor";
  int64_t restart_ns = Now().ns;
  pf = e2e::Spawn(cmd);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  std::this_thread::sleep_for(3s);
  plc.Stop();  // the PLC goes away: nothing new is read, so "drained" below is final
  std::this_thread::sleep_for(1s);
  double depth = -1;
  for (int i = 0; i < 600; ++i) {  // drain: up to 60 s
    depth = OutboxDepth(api_port);
    if (depth == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(depth, 0) << "the outbox drained after the outage";
  {
    json ob = e2e::GetJson(api_port, "/api/v1/outbox");
    ASSERT_EQ(ob["uplinks"].size(), 1u) << ob.dump();
    EXPECT_EQ(ob["uplinks"][0]["name"], "hub");
    EXPECT_EQ(ob["uplinks"][0]["depth"], 0) << ob.dump();
    EXPECT_EQ(ob["uplinks"][0]["connected"], true) << ob.dump();
    EXPECT_GT(ob["uplinks"][0]["acknowledged"].get<double>(), 0) << ob.dump();
    EXPECT_TRUE(ob["ledger"].empty()) << "no budget was reached, nothing evicted: " << ob.dump();
  }
  kill(pf, SIGTERM);
  EXPECT_EQ(e2e::WaitExit(pf, 20s), 0);
  std::this_thread::sleep_for(500ms);
  sub.Disconnect();

  // What the store committed: every sample of the 20 tags in the history.
  HistoryOptions ho;
  ho.path = dir.path() + "/data/plantfloor.db";
  auto store = HistoryStore::Open(ho);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::map<std::string, std::set<int64_t>> received;  // tag -> source times
  std::set<std::string> seen_ids;
  std::map<std::string, uint64_t> last_record;  // per tag, of first arrivals
  size_t out_of_order = 0;
  for (const json& m : sub.Messages()) {
    if (m.value("type", "") != "sample") continue;
    if (!seen_ids.insert(m.value("id", "")).second) continue;  // a resend after a reconnect: dropped by id
    std::string tag = m.value("tag", "");
    uint64_t record = m.value("record", uint64_t{0});
    auto t = ParseRfc3339(m.value("source_time", ""));
    received[tag].insert(t.ok() ? t->ns : 0);
    if (record <= last_record[tag] && ++out_of_order <= 5)
      std::cout << "out of order: " << tag << " record " << record << " after " << last_record[tag] << "\n";
    last_record[tag] = record;
  }
  EXPECT_EQ(out_of_order, 0u) << "per tag, first arrivals follow the outbox order";
  size_t committed = 0, missing = 0;
  std::set<uint64_t> run1_seqs;
  int64_t run1_last_ns = 0;
  for (int i = 0; i < 20; ++i) {
    std::string tag = fmt::format("press7.r{}", i);
    auto rows = (*store)->Query(tag, Timestamp{0}, Now() + std::chrono::hours(1), 10'000'000);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (const auto& r : *rows) {
      ++committed;
      if (!received[tag].count(r.source_time.ns) && ++missing <= 5)
        std::cout << "missing " << tag << " seq " << r.seq << " at " << FormatRfc3339(r.source_time, 3)
                  << " (kill " << FormatRfc3339(Timestamp{kill_ns}, 3) << ", restart "
                  << FormatRfc3339(Timestamp{restart_ns}, 3) << ", outage from " << FormatRfc3339(Timestamp{outage_ns}, 3)
                  << ")\n";
      if (r.source_time.ns < restart_ns) {
        run1_seqs.insert(r.seq);
        run1_last_ns = std::max(run1_last_ns, r.source_time.ns);
      }
    }
  }
  EXPECT_GT(committed, 20u * 1000u);
  EXPECT_EQ(missing, 0u) << "of " << committed << " committed samples";
  // The killed run: sequence numbers contiguous (no gap inside), its tail within one commit window
  // (plus a poll and scheduling slack) of the kill.
  ASSERT_FALSE(run1_seqs.empty());
  EXPECT_EQ(*run1_seqs.rbegin() - *run1_seqs.begin() + 1, run1_seqs.size()) << "a gap inside the killed run";
  double tail_ms = static_cast<double>(kill_ns - run1_last_ns) / 1e6;
  // At most the last group-commit window: the samples of the window whose commit had not returned
  // when the process died (the window itself plus the fsync time of its commit: 100 ms of slack).
  EXPECT_LE(tail_ms, static_cast<double>(kWindow.count()) + 100.0)
      << "lost tail before the kill: " << tail_ms << " ms (commit window " << kWindow.count() << " ms)";
  RecordProperty("committed", static_cast<int>(committed));
  RecordProperty("lost_tail_ms", static_cast<int>(tail_ms));
  std::cout << "committed " << committed << " samples, received all of them; killed run lost its last " << tail_ms
            << " ms (commit window " << kWindow.count() << " ms)\n";
}

}  // namespace
}  // namespace pf
