// The whole process on a full disk: plantfloor's data folder on a small tmpfs, the broker down, the
// disk filled to ENOSPC by another file. Polling must continue, the store must evict in its stated
// order with ledger entries, stay consistent, and recover when space returns; once the broker is
// back, what is missing upstream must equal what the ledger says, exactly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <httplib.h>
#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>

#include "e2e_support.h"
#include "testing.h"
#include "uplink/uplink_test_support.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

uint64_t FillDisk(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::vector<char> buf(64 * 1024, 'x');
  uint64_t n = 0;
  for (;;) {
    size_t w = std::fwrite(buf.data(), 1, buf.size(), f);
    n += w;
    if (w < buf.size() || std::fflush(f) != 0) break;
  }
  std::fclose(f);
  return n;
}

TEST(FullDisk, PollingContinuesEvictionIsLedgeredAndUpstreamLossEqualsTheLedger) {
  testing::TempDir dir;
  std::string data = dir.path() + "/data";
  std::filesystem::create_directories(data);
  if (mount("tmpfs", data.c_str(), "tmpfs", 0, "size=6m") != 0) {
    std::cerr << "SKIPPED: cannot mount a tmpfs (needs root): " << std::strerror(errno) << "\n";
    std::exit(testing::kSkipReturnCode);
  }
  struct Unmount {
    std::string p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{data};

  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  int broker_port = testing::FreePort();
  testing::TempDir broker_dir;
  auto broker = std::make_unique<uplink::testing::Broker>(broker_dir.path(), broker_port, "max_queued_messages 0\n", true);
  ASSERT_TRUE(broker->Start()) << broker->Log();
  e2e::HubSubscriber sub(broker_port, "full-disk-subscriber");
  sub.Connect();
  ASSERT_TRUE(sub.WaitSubscribed(0, 5s));
  broker->Stop();  // the hub is unreachable for the whole full-disk phase; the session is kept

  int api_port = testing::FreePort();
  std::string tags;
  for (int i = 0; i < 20; ++i)
    tags += fmt::format("  {{ name = \"press7.r{0}\", address = \"hr:{0}\", type = \"uint16\", store = \"all\" }},\n", i);
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
data_dir = "{0}"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "100ms"
disk_budget = "64MB"
[[assets]]
id = "press7"
area = "pressing"
line = "line1"
[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:{2}"
poll = "10ms"
asset = "press7"
tags = [
{4}]
[[uplinks]]
name = "hub"
type = "mqtt"
broker = "tcp://127.0.0.1:{3}"
device = "edge1"
reconnect_min = "200ms"
reconnect_max = "1s"
)",
                                                           data, api_port, plc.port(), broker_port, tags);
  pid_t pf = e2e::Spawn({testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml", "--log-level", "warn"});
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  std::this_thread::sleep_for(2s);

  uint64_t filler = FillDisk(data + "/filler");  // ENOSPC: nothing left for the database to grow into
  EXPECT_GT(filler, 0u);
  std::vector<uint64_t> seqs_seen;
  for (int i = 0; i < 6; ++i) {  // 12 s on a full disk: polling goes on
    std::this_thread::sleep_for(2s);
    json t = e2e::GetJson(api_port, "/api/v1/tags/press7.r0");
    if (t.is_object() && t["seq"].is_number()) seqs_seen.push_back(t["seq"].get<uint64_t>());
  }
  ASSERT_GE(seqs_seen.size(), 5u);
  for (size_t i = 1; i < seqs_seen.size(); ++i) EXPECT_GT(seqs_seen[i], seqs_seen[i - 1]) << "polling stalled";
  json ob = e2e::GetJson(api_port, "/api/v1/outbox");
  ASSERT_TRUE(ob.is_object());
  ASSERT_FALSE(ob["ledger"].empty()) << "the full disk forced evictions: " << ob.dump().substr(0, 500);
  bool history_first = false, outbox_samples = false;
  for (const auto& l : ob["ledger"]) {
    if (l["reason"] == "history_budget") history_first = true;
    if (l["reason"] == "disk_budget" && l["type"] == "sample") outbox_samples = true;
    EXPECT_NE(l["type"], "alert");
    EXPECT_NE(l["type"], "label");
  }
  EXPECT_TRUE(history_first) << "local history samples are evicted (first in the order)";
  EXPECT_TRUE(outbox_samples) << "then outbox samples the hub never had (second in the order)";
  std::cout << "full disk: " << ob["ledger"].size() << " ledger entries; outbox samples evicted: " << outbox_samples
            << "; store " << ob["store"].dump() << "\n";

  std::filesystem::remove(data + "/filler");  // space returns
  broker = std::make_unique<uplink::testing::Broker>(broker_dir.path(), broker_port, "max_queued_messages 0\n", true);
  ASSERT_TRUE(broker->Start()) << broker->Log();
  std::this_thread::sleep_for(3s);
  plc.Stop();  // nothing new from here: the drain below is final
  std::this_thread::sleep_for(1s);
  double depth = -1;
  for (int i = 0; i < 600; ++i) {
    json o = e2e::GetJson(api_port, "/api/v1/outbox");
    if (o.is_object() && o["uplinks"].size() == 1) depth = o["uplinks"][0]["depth"].get<double>();
    if (depth == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(depth, 0) << "the store recovered and the outbox drained";
  json last = e2e::GetJson(api_port, "/api/v1/tags/press7.r19");
  kill(pf, SIGTERM);
  EXPECT_EQ(e2e::WaitExit(pf, 20s), 0);
  std::this_thread::sleep_for(500ms);
  sub.Disconnect();

  // The database is intact.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((data + "/plantfloor.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  // Every sample the source numbered (1..last) reached the hub or is in an upstream-loss ledger entry.
  uint64_t lost = 0;
  sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(count),0) FROM ledger WHERE upstream_loss=1 AND type=1", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  lost = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::set<uint64_t> got;
  std::set<std::string> ledger_ids;
  for (const json& m : sub.Messages()) {
    if (m.value("type", "") == "sample") got.insert(m.value("seq", uint64_t{0}));
    if (m.value("type", "") == "ledger") ledger_ids.insert(m["ledger"].value("id", ""));
  }
  ASSERT_FALSE(got.empty());
  uint64_t produced = *got.rbegin();
  ASSERT_TRUE(last["seq"].is_number());
  produced = std::max<uint64_t>(produced, last["seq"].get<uint64_t>());
  EXPECT_EQ(got.size() + lost, produced) << "received " << got.size() << " + lost per ledger " << lost
                                         << " != produced " << produced;
  EXPECT_FALSE(ledger_ids.empty()) << "ledger entries are forwarded like data";
  std::cout << "produced " << produced << " samples: " << got.size() << " reached the hub, " << lost
            << " evicted before the hub had them, all of them in the ledger\n";
}

}  // namespace
}  // namespace pf
