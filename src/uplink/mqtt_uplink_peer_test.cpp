// Peer tests of MqttUplink against a real mosquitto: delivery and order, broker restart, TLS with
// client certificates, drain-rate limit, prompt Stop. The outbox is the in-memory test double.
#include "uplink/mqtt_uplink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "memory_outbox.h"
#include "testing.h"
#include "uplink_test_support.h"

namespace pf::uplink {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Broker;
using testing::MemoryOutbox;
using testing::Subscriber;

constexpr char kFilter[] = "plantfloor/v1/#";

void AddSamples(MemoryOutbox& outbox, int n, size_t padding = 0) {
  for (int i = 0; i < n; ++i) {
    OutboxSample s;
    s.asset = "press7";
    s.tag = fmt::format("press7.t{}", i % 20);
    s.unit = "degC";
    s.source = "plc1";
    s.value = padding ? Value(std::string(padding, 'x')) : Value(20.0 + i % 7);
    s.source_time = s.receive_time = Timestamp::FromNs(1'700'000'000'000'000'000 + int64_t{i} * 10'000'000);
    s.seq = static_cast<uint64_t>(i + 1);
    outbox.Add(RecordType::kSample, s, 120 + padding);
  }
}

MqttUplinkConfig Config(const std::string& broker) {
  MqttUplinkConfig c;
  c.name = "hub";
  c.broker = broker;
  c.device = "edge1";
  c.client_id = fmt::format("plantfloor-edge1-{}", ::getpid());
  c.reconnect_min = 50ms;
  c.reconnect_max = 500ms;
  c.connect_timeout = 2s;
  if (const char* e = std::getenv("PF_UPLINK_TEST_INFLIGHT")) c.max_inflight = std::atoi(e);
  return c;
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::vector<uint64_t> RecordIds(const std::vector<testing::Received>& msgs) {
  std::vector<uint64_t> ids;
  for (const auto& m : msgs) {
    json j = json::parse(m.payload);
    EXPECT_EQ(j["id"], fmt::format("edge1/{}", j["record"].get<uint64_t>()));
    ids.push_back(j["record"].get<uint64_t>());
  }
  return ids;
}

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

TEST(MqttUplinkPeer, Delivers5000InOrderAndAcksAll) {
  pf::testing::Peer broker("mosquitto");
  ASSERT_TRUE(broker.ok()) << broker.log();
  std::string uri = fmt::format("tcp://127.0.0.1:{}", broker.port());
  Subscriber sub(uri, kFilter, "sub-delivery");
  ASSERT_TRUE(sub.ok()) << sub.error();

  MemoryOutbox outbox;
  AddSamples(outbox, 5000);
  MetricsRegistry metrics;
  auto uplink = MqttUplink::Create(Config(uri), outbox, metrics);
  ASSERT_TRUE(uplink.ok()) << uplink.status().ToString();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE((*uplink)->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return outbox.cursor("hub") == 5000; }, 60s)) << "cursor " << outbox.cursor("hub");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "5000 records published and acknowledged in " << secs << " s (" << 5000 / secs << " records/s)\n";
  ASSERT_EQ(sub.WaitForCount(5000, 20s), 5000u);
  (*uplink)->Stop();

  auto msgs = sub.Messages();
  EXPECT_EQ(RecordIds(msgs), Iota(5000));  // all, in order, each once
  EXPECT_EQ(msgs[0].topic, "plantfloor/v1/edge1/sample/press7/press7.t0");
  EXPECT_EQ(msgs[21].topic, "plantfloor/v1/edge1/sample/press7/press7.t1");
  auto acks = outbox.ack_log();
  std::sort(acks.begin(), acks.end());
  EXPECT_EQ(acks, Iota(5000));
  Labels l{{"uplink", "hub"}};
  EXPECT_EQ(metrics.Value("pf_uplink_published_total", l), 5000);
  EXPECT_EQ(metrics.Value("pf_uplink_acked_total", l), 5000);
  EXPECT_EQ(metrics.Value("pf_uplink_reconnects_total", l), 0);
  EXPECT_EQ(metrics.Value("pf_uplink_connected", l), 0);  // after Stop
  size_t bytes = 0;
  for (const auto& m : msgs) bytes += m.topic.size() + m.payload.size();
  EXPECT_EQ(metrics.Value("pf_uplink_bytes_total", l), static_cast<double>(bytes));
  EXPECT_NE(metrics.RenderPrometheus().find("pf_uplink_publish_latency_seconds_count{uplink=\"hub\"} 5000"),
            std::string::npos);
}

TEST(MqttUplinkPeer, BrokerRestartResendsFromCursor) {
  pf::testing::TempDir dir;
  int port = pf::testing::FreePort();
  // Persistence keeps the subscriber's session across the restart, so what the first broker
  // acknowledged but had not yet passed on is not lost on the subscriber's side.
  Broker broker(dir.path(), port, "", /*persistence=*/true);
  ASSERT_TRUE(broker.Start()) << broker.Log();
  std::string uri = fmt::format("tcp://127.0.0.1:{}", port);
  Subscriber sub(uri, kFilter, "sub-restart");
  ASSERT_TRUE(sub.ok()) << sub.error();

  constexpr int kRecords = 3000;
  MemoryOutbox outbox;
  AddSamples(outbox, kRecords);
  MetricsRegistry metrics;
  MqttUplinkConfig c = Config(uri);
  c.drain_rate_bytes_s = 200'000;  // about 4 s for the whole backlog: the restart falls mid-stream
  auto uplink = MqttUplink::Create(c, outbox, metrics);
  ASSERT_TRUE(uplink.ok()) << uplink.status().ToString();
  ASSERT_TRUE((*uplink)->Start().ok());

  ASSERT_TRUE(WaitUntil([&] { return outbox.cursor("hub") >= 500; }, 20s));
  broker.Stop();
  uint64_t at_stop = outbox.cursor("hub");
  EXPECT_LT(at_stop, static_cast<uint64_t>(kRecords));
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(broker.Start()) << broker.Log();

  ASSERT_TRUE(WaitUntil([&] { return outbox.cursor("hub") == kRecords; }, 60s)) << "cursor " << outbox.cursor("hub");
  (*uplink)->Stop();
  Labels l{{"uplink", "hub"}};
  EXPECT_GE(metrics.Value("pf_uplink_reconnects_total", l), 1);
  EXPECT_GE(outbox.rewinds(), 2);  // first connect + after the loss

  // Every id arrives; after dropping duplicates by id, in order.
  ASSERT_TRUE(WaitUntil([&] {
    auto ids = RecordIds(sub.Messages());
    return std::set<uint64_t>(ids.begin(), ids.end()).size() == kRecords;
  }, 20s)) << "subscriber has " << sub.Count() << " messages";
  std::vector<uint64_t> first;
  std::set<uint64_t> seen;
  for (uint64_t id : RecordIds(sub.Messages()))
    if (seen.insert(id).second) first.push_back(id);
  EXPECT_EQ(first, Iota(kRecords));
  EXPECT_GE(metrics.Value("pf_uplink_published_total", l), kRecords);
}

TEST(MqttUplinkPeer, TlsWithClientCertificates) {
  pf::testing::TempDir dir;
  std::string err = testing::MakeCertificates(dir.path());
  ASSERT_EQ(err, "");
  const std::string& d = dir.path();
  int tls_port = pf::testing::FreePort(), plain_port = pf::testing::FreePort();
  std::string tls_conf = fmt::format(
      "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\nrequire_certificate true\n"
      "listener {1} 127.0.0.1\n", d, plain_port);
  Broker broker(d, tls_port, tls_conf, false);
  ASSERT_TRUE(broker.Start()) << broker.Log();
  ASSERT_TRUE(testing::WaitListening(plain_port, 5000ms)) << broker.Log();
  Subscriber sub(fmt::format("tcp://127.0.0.1:{}", plain_port), kFilter, "sub-tls");
  ASSERT_TRUE(sub.ok()) << sub.error();

  MemoryOutbox outbox;
  AddSamples(outbox, 200);
  MetricsRegistry metrics;
  MqttUplinkConfig c = Config(fmt::format("ssl://127.0.0.1:{}", tls_port));
  c.tls = {true, d + "/ca.pem", d + "/client.pem", d + "/client.key", true};
  auto uplink = MqttUplink::Create(c, outbox, metrics);
  ASSERT_TRUE(uplink.ok()) << uplink.status().ToString();
  ASSERT_TRUE((*uplink)->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return outbox.cursor("hub") == 200; }, 20s)) << (*uplink)->GetState().last_error;
  ASSERT_EQ(sub.WaitForCount(200, 10s), 200u);
  EXPECT_EQ(RecordIds(sub.Messages()), Iota(200));
  (*uplink)->Stop();

  // A CA that did not sign the broker's certificate: refused, and the error says why.
  MemoryOutbox outbox2;
  AddSamples(outbox2, 10);
  MetricsRegistry metrics2;
  MqttUplinkConfig bad = c;
  bad.client_id += "-badca";
  bad.tls.ca_file = d + "/other-ca.pem";
  auto refused = MqttUplink::Create(bad, outbox2, metrics2);
  ASSERT_TRUE(refused.ok());
  ASSERT_TRUE((*refused)->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return !(*refused)->GetState().last_error.empty(); }, 10s));
  (*refused)->Stop();
  MqttUplink::State st = (*refused)->GetState();
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.published, 0u);
  EXPECT_EQ(outbox2.cursor("hub"), 0u);
  EXPECT_NE(st.last_error.find(fmt::format("mqtt uplink 'hub': connect to ssl://127.0.0.1:{} failed", tls_port)),
            std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("certificate verify failed"), std::string::npos) << st.last_error;
}

TEST(MqttUplinkPeer, DrainRateWithinTenPercent) {
  pf::testing::Peer broker("mosquitto");
  ASSERT_TRUE(broker.ok()) << broker.log();
  std::string uri = fmt::format("tcp://127.0.0.1:{}", broker.port());
  Subscriber sub(uri, kFilter, "sub-rate");
  ASSERT_TRUE(sub.ok()) << sub.error();

  constexpr int kRecords = 400;  // about 500 bytes each: a backlog of about 200 KB
  MemoryOutbox outbox;
  AddSamples(outbox, kRecords, 200);
  MetricsRegistry metrics;
  MqttUplinkConfig c = Config(uri);
  c.drain_rate_bytes_s = 20'000;
  auto uplink = MqttUplink::Create(c, outbox, metrics);
  ASSERT_TRUE(uplink.ok());
  ASSERT_TRUE((*uplink)->Start().ok());
  ASSERT_EQ(sub.WaitForCount(kRecords, 30s), static_cast<size_t>(kRecords));
  (*uplink)->Stop();

  auto msgs = sub.Messages();
  size_t total = 0;
  for (const auto& m : msgs) total += m.topic.size() + m.payload.size();
  EXPECT_GT(total, 190'000u);
  size_t first = msgs.front().topic.size() + msgs.front().payload.size();
  double seconds = std::chrono::duration<double>(msgs.back().at - msgs.front().at).count();
  double rate = static_cast<double>(total - first) / seconds;
  std::cerr << "drain rate: " << total << " bytes in " << seconds << " s = " << rate << " B/s (configured 20000)\n";
  EXPECT_NEAR(rate, 20'000, 2'000);
}

TEST(MqttUplinkPeer, UnreachableBrokerRetriesAndStopIsPrompt) {
  int port = pf::testing::FreePort();  // nothing listens there
  MemoryOutbox outbox;
  AddSamples(outbox, 5);
  MetricsRegistry metrics;
  auto uplink = MqttUplink::Create(Config(fmt::format("tcp://127.0.0.1:{}", port)), outbox, metrics);
  ASSERT_TRUE(uplink.ok());
  ASSERT_TRUE((*uplink)->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return metrics.Value("pf_uplink_errors_total", {{"uplink", "hub"}}) >= 3; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  (*uplink)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  MqttUplink::State st = (*uplink)->GetState();
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.last_error.rfind(fmt::format("mqtt uplink 'hub': connect to tcp://127.0.0.1:{} failed: ", port), 0), 0u)
      << st.last_error;
  EXPECT_EQ(outbox.cursor("hub"), 0u);
}

}  // namespace
}  // namespace pf::uplink
