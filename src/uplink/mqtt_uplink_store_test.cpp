// The uplink draining the real outbox (store/store.h) in a temporary SQLite file, to a real
// mosquitto: a backlog plus live commits, samples of 20 tags and alerts, every record delivered in
// order, acknowledged, and deleted from the outbox.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "testing.h"
#include "uplink/mqtt_uplink.h"
#include "uplink_test_support.h"

namespace pf::uplink {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;
constexpr int kTags = 20;

TagDef Tag(int i) {
  TagDef t;
  t.id = static_cast<TagId>(i + 1);
  t.name = fmt::format("press7.t{}", i);
  t.asset_id = "press7";
  t.unit = "degC";
  t.source = "plc1";
  t.store = StoreMode::kAll;
  return t;
}

// One commit window: one sample of every tag (seq = n, numbered by the source), and every 10th
// window an alert.
CommitBatch Window(int n) {
  CommitBatch b;
  for (int i = 0; i < kTags; ++i) {
    Sample s;
    s.tag = static_cast<TagId>(i + 1);
    s.value = static_cast<double>(n);
    s.source_time = Timestamp::FromNs(kT0 + int64_t{n} * 10'000'000);
    s.receive_time = s.source_time + Duration(1000);
    s.seq = static_cast<uint64_t>(n);
    b.history.push_back(s);
    b.forward.push_back(s);
  }
  if (n % 10 == 0) {
    Event e;
    e.id = fmt::format("alert-{:06}", n);
    e.asset_id = "press7";
    e.source = "spc:press7.t0";
    e.kind = "alert";
    e.severity = "high";
    e.message = "rule 1";
    e.start = e.end = Timestamp::FromNs(kT0 + int64_t{n} * 10'000'000);
    b.events.push_back(e);
  }
  return b;
}

TEST(MqttUplinkStore, DrainsRealOutboxInOrder) {
  pf::testing::Peer broker("mosquitto");
  ASSERT_TRUE(broker.ok()) << broker.log();
  std::string uri = fmt::format("tcp://127.0.0.1:{}", broker.port());
  testing::Subscriber sub(uri, "plantfloor/v1/#", "sub-store");
  ASSERT_TRUE(sub.ok()) << sub.error();

  pf::testing::TempDir dir;
  MetricsRegistry metrics;
  StoreOptions o;
  o.path = dir.path() + "/plant.db";
  o.metrics = &metrics;
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < kTags; ++i) ASSERT_TRUE((*store)->RegisterTag(Tag(i)).ok());
  ASSERT_TRUE((*store)->outbox().RegisterUplink("hub").ok());  // the backlog is forwarded too

  constexpr int kBacklog = 150, kLive = 100;  // windows: 5000 records in all
  for (int n = 1; n <= kBacklog; ++n) ASSERT_TRUE((*store)->Commit(Window(n)).ok());

  MqttUplinkConfig c;
  c.name = "hub";
  c.broker = uri;
  c.device = "edge1";
  c.client_id = fmt::format("plantfloor-store-{}", ::getpid());
  auto uplink = MqttUplink::Create(c, (*store)->outbox(), metrics);
  ASSERT_TRUE(uplink.ok()) << uplink.status().ToString();
  ASSERT_TRUE((*uplink)->Start().ok());
  for (int n = kBacklog + 1; n <= kBacklog + kLive; ++n) {
    ASSERT_TRUE((*store)->Commit(Window(n)).ok());
    (*uplink)->Wake();
    std::this_thread::sleep_for(2ms);
  }
  constexpr size_t kRecords = (kBacklog + kLive) * kTags + (kBacklog + kLive) / 10;
  ASSERT_EQ(sub.WaitForCount(kRecords, 60s), kRecords);
  auto drained = [&] { return (*store)->outbox().Stats("hub").depth == 0; };
  for (int i = 0; i < 500 && !drained(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(drained());
  (*uplink)->Stop();
  ASSERT_TRUE((*store)->FlushAcks().ok());

  // Record ids strictly increasing (one connection, no loss: no duplicates); per tag the source
  // numbers 1..250 without a gap; every alert once.
  uint64_t last = 0;
  std::map<std::string, std::vector<uint64_t>> seqs;
  std::set<std::string> alerts;
  for (const auto& m : sub.Messages()) {
    json j = json::parse(m.payload);
    uint64_t rec = j["record"].get<uint64_t>();
    EXPECT_GT(rec, last);
    last = rec;
    EXPECT_EQ(j["id"], fmt::format("edge1/{}", rec));
    if (j["type"] == "sample") {
      EXPECT_EQ(m.topic, fmt::format("plantfloor/v1/edge1/sample/press7/{}", j["tag"].get<std::string>()));
      seqs[j["tag"]].push_back(j["seq"].get<uint64_t>());
    } else {
      EXPECT_EQ(j["type"], "alert");
      EXPECT_EQ(m.topic, "plantfloor/v1/edge1/alert/press7");
      EXPECT_TRUE(alerts.insert(j["event"]["id"].get<std::string>()).second);
    }
  }
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kTags));
  std::vector<uint64_t> expected(kBacklog + kLive);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  for (const auto& [tag, s] : seqs) EXPECT_EQ(s, expected) << tag;
  EXPECT_EQ(alerts.size(), static_cast<size_t>((kBacklog + kLive) / 10));
  OutboxStats st = (*store)->outbox().Stats("hub");
  EXPECT_EQ(st.depth, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(metrics.Value("pf_uplink_acked_total", {{"uplink", "hub"}}), static_cast<double>(kRecords));
}

}  // namespace
}  // namespace pf::uplink
