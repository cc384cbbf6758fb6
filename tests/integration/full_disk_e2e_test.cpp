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

#include "testing.h"
#include "uplink/uplink_test_support.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

pid_t Spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

class Subscriber : public mqtt::callback, public mqtt::iaction_listener {
 public:
  explicit Subscriber(int port)
      : client_(fmt::format("tcp://127.0.0.1:{}", port), "full-disk-subscriber", mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.set_callback(*this);
  }
  void Connect() {
    client_.connect(mqtt::connect_options_builder().clean_session(false).automatic_reconnect(200ms, 1s).finalize())->wait();
  }
  void connected(const std::string&) override { client_.subscribe("plantfloor/v1/#", 1, nullptr, *this); }
  void on_success(const mqtt::token&) override { ++subscribed_; }
  void on_failure(const mqtt::token&) override {}
  void message_arrived(mqtt::const_message_ptr m) override {
    json j = json::parse(m->get_payload_str(), nullptr, false);
    if (!j.is_object()) return;
    std::lock_guard lk(mu_);
    if (j.value("type", "") == "sample") seqs_.insert(j.value("seq", uint64_t{0}));
    if (j.value("type", "") == "ledger") ledger_ids_.insert(j["ledger"].value("id", ""));
  }
  std::set<uint64_t> seqs() {
    std::lock_guard lk(mu_);
    return seqs_;
  }
  std::set<std::string> ledger_ids() {
    std::lock_guard lk(mu_);
    return ledger_ids_;
  }
  int subscribed() const { return subscribed_; }
  void Disconnect() {
    try {
      client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::set<uint64_t> seqs_;
  std::set<std::string> ledger_ids_;
  std::atomic<int> subscribed_{0};
};

json GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto r = c.Get(path);
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

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
  Subscriber sub(broker_port);
  sub.Connect();
  for (int i = 0; i < 50 && sub.subscribed() == 0; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GE(sub.subscribed(), 1);
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
  pid_t pf = Spawn({testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml", "--log-level", "warn"});
  httplib::Client api("127.0.0.1", api_port);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    auto r = api.Get("/api/v1/health");
    up = r && r->status == 200;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up);
  std::this_thread::sleep_for(2s);

  uint64_t filler = FillDisk(data + "/filler");  // ENOSPC: nothing left for the database to grow into
  EXPECT_GT(filler, 0u);
  std::vector<uint64_t> seqs_seen;
  for (int i = 0; i < 6; ++i) {  // 12 s on a full disk: polling goes on
    std::this_thread::sleep_for(2s);
    json t = GetJson(api_port, "/api/v1/tags/press7.r0");
    if (t.is_object() && t["seq"].is_number()) seqs_seen.push_back(t["seq"].get<uint64_t>());
  }
  ASSERT_GE(seqs_seen.size(), 5u);
  for (size_t i = 1; i < seqs_seen.size(); ++i) EXPECT_GT(seqs_seen[i], seqs_seen[i - 1]) << "polling stalled";
  json ob = GetJson(api_port, "/api/v1/outbox");
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
    json o = GetJson(api_port, "/api/v1/outbox");
    if (o.is_object() && o["uplinks"].size() == 1) depth = o["uplinks"][0]["depth"].get<double>();
    if (depth == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(depth, 0) << "the store recovered and the outbox drained";
  json last = GetJson(api_port, "/api/v1/tags/press7.r19");
  kill(pf, SIGTERM);
  EXPECT_EQ(WaitExit(pf, 20s), 0);
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
  std::set<uint64_t> got = sub.seqs();
  ASSERT_FALSE(got.empty());
  uint64_t produced = *got.rbegin();
  ASSERT_TRUE(last["seq"].is_number());
  produced = std::max<uint64_t>(produced, last["seq"].get<uint64_t>());
  EXPECT_EQ(got.size() + lost, produced) << "received " << got.size() << " + lost per ledger " << lost
                                         << " != produced " << produced;
  EXPECT_FALSE(sub.ledger_ids().empty()) << "ledger entries are forwarded like data";
  std::cout << "produced " << produced << " samples: " << got.size() << " reached the hub, " << lost
            << " evicted before the hub had them, all of them in the ledger\n";
}

}  // namespace
}  // namespace pf
