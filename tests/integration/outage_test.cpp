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

#include "store/history.h"
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

// A subscriber that reconnects and resubscribes by itself and keeps every message it got.
class Subscriber : public mqtt::callback, public mqtt::iaction_listener {
 public:
  struct Msg {
    std::string id, tag;
    uint64_t record = 0, seq = 0;
    int64_t source_ns = 0;
  };
  explicit Subscriber(int port)
      : client_(fmt::format("tcp://127.0.0.1:{}", port), "outage-test-subscriber", mqtt::create_options(MQTTVERSION_3_1_1)) {
    // A persistent session (clean_session false) on a broker with persistence: what the broker
    // acknowledged to plantfloor but had not yet handed to this subscriber survives the broker's
    // restart, as it would for a hub's ingest service.
    client_.set_callback(*this);
  }
  void Connect() {
    auto opts = mqtt::connect_options_builder().clean_session(false).automatic_reconnect(200ms, 1s).finalize();
    client_.connect(opts)->wait();
  }
  // Paho calls back on its own thread: never wait for a token here (the SUBACK arrives on it).
  void connected(const std::string&) override { client_.subscribe("plantfloor/v1/#", 1, nullptr, *this); }
  void on_success(const mqtt::token&) override { ++subscribed_; }
  void on_failure(const mqtt::token&) override {}
  void message_arrived(mqtt::const_message_ptr m) override {
    json j = json::parse(m->get_payload_str(), nullptr, false);
    if (!j.is_object() || j.value("type", "") != "sample") return;
    Msg msg;
    msg.id = j.value("id", "");
    msg.tag = j.value("tag", "");
    msg.record = j.value("record", uint64_t{0});
    msg.seq = j.value("seq", uint64_t{0});
    auto t = ParseRfc3339(j.value("source_time", ""));
    msg.source_ns = t.ok() ? t->ns : 0;
    std::lock_guard lk(mu_);
    msgs_.push_back(std::move(msg));
  }
  std::vector<Msg> Messages() {
    std::lock_guard lk(mu_);
    return msgs_;
  }
  size_t Count() {
    std::lock_guard lk(mu_);
    return msgs_.size();
  }
  int subscribed() const { return subscribed_.load(); }
  void Disconnect() {
    try {
      client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::vector<Msg> msgs_;
  std::atomic<int> subscribed_{0};
};

double OutboxDepth(int api_port) {
  httplib::Client c("127.0.0.1", api_port);
  auto r = c.Get("/metrics");
  if (!r) return -1;
  double depth = -1;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("pf_outbox_depth{", 0) == 0) depth = std::stod(line.substr(line.rfind(' ') + 1));
  return depth;
}

bool WaitHealthy(int api_port, std::chrono::seconds timeout) {
  httplib::Client c("127.0.0.1", api_port);
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (auto r = c.Get("/api/v1/health"); r && r->status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
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
  Subscriber sub(broker_port);
  sub.Connect();
  for (int i = 0; i < 50 && sub.subscribed() == 0; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GE(sub.subscribed(), 1);
  const std::vector<std::string> cmd = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml",
                                        "--log-level", "warn"};
  pid_t pf = Spawn(cmd);
  ASSERT_TRUE(WaitHealthy(api_port, 20s));
  std::this_thread::sleep_for(3s);
  size_t before_outage = sub.Count();
  EXPECT_GT(before_outage, 1000u) << "samples flow before the outage";

  int64_t outage_ns = Now().ns;
  broker->Stop();  // outage: 30 s (SIGTERM: the broker saves its sessions)
  auto outage_start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(15s);
  int64_t kill_ns = Now().ns;
  kill(pf, SIGKILL);
  EXPECT_EQ(WaitExit(pf, 10s), 128 + SIGKILL);
  std::this_thread::sleep_until(outage_start + 30s);

  broker = std::make_unique<uplink::testing::Broker>(broker_dir.path(), broker_port, "max_queued_messages 0\n", true);
  ASSERT_TRUE(broker->Start()) << broker->Log();
  int subs = sub.subscribed();
  for (int i = 0; i < 100 && sub.subscribed() == subs; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GT(sub.subscribed(), subs) << "the subscriber is back before plantfloor";
  int64_t restart_ns = Now().ns;
  pf = Spawn(cmd);
  ASSERT_TRUE(WaitHealthy(api_port, 20s));
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
    httplib::Client c("127.0.0.1", api_port);
    auto r = c.Get("/api/v1/outbox");
    ASSERT_TRUE(r);
    json ob = json::parse(r->body);
    ASSERT_EQ(ob["uplinks"].size(), 1u) << ob.dump();
    EXPECT_EQ(ob["uplinks"][0]["name"], "hub");
    EXPECT_EQ(ob["uplinks"][0]["depth"], 0) << ob.dump();
    EXPECT_EQ(ob["uplinks"][0]["connected"], true) << ob.dump();
    EXPECT_GT(ob["uplinks"][0]["acknowledged"].get<double>(), 0) << ob.dump();
    EXPECT_TRUE(ob["ledger"].empty()) << "no budget was reached, nothing evicted: " << ob.dump();
  }
  kill(pf, SIGTERM);
  EXPECT_EQ(WaitExit(pf, 20s), 0);
  std::this_thread::sleep_for(500ms);
  sub.Disconnect();

  // What the store committed: every sample of the 20 tags in the history.
  HistoryOptions ho;
  ho.path = dir.path() + "/data/plantfloor.db";
  auto store = HistoryStore::Open(ho);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto msgs = sub.Messages();
  std::map<std::string, std::set<int64_t>> received;  // tag -> source times
  std::set<std::string> seen_ids;
  std::map<std::string, uint64_t> last_record;  // per tag, of first arrivals
  size_t out_of_order = 0;
  for (const auto& m : msgs) {
    if (!seen_ids.insert(m.id).second) continue;  // duplicate after a reconnect: dropped by id
    received[m.tag].insert(m.source_ns);
    if (m.record <= last_record[m.tag] && ++out_of_order <= 5)
      std::cout << "out of order: " << m.tag << " record " << m.record << " after " << last_record[m.tag]
                << " (message " << (&m - msgs.data()) << " of " << msgs.size() << ")\n";
    last_record[m.tag] = m.record;
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
  EXPECT_LE(tail_ms, 2.0 * static_cast<double>(kWindow.count()) + 100.0)
      << "lost tail before the kill: " << tail_ms << " ms (commit window " << kWindow.count() << " ms)";
  RecordProperty("committed", static_cast<int>(committed));
  RecordProperty("lost_tail_ms", static_cast<int>(tail_ms));
  std::cout << "committed " << committed << " samples, received all of them; killed run lost its last " << tail_ms
            << " ms (commit window " << kWindow.count() << " ms)\n";
}

}  // namespace
}  // namespace pf
