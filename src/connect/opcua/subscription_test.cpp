// Subscription tests. Unit: sequence-number gap bookkeeping (OPC 10000-4 §5.13.1.1). Peer: the Publish
// loop against node-opcua (../shared/peers/opcua/server.js: Line1.Temperature = 20 + 5 sin(t/1 s),
// recomputed every 100 ms; Line1.Counter = 42, constant).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "connect/opcua/pki.h"
#include "connect/opcua/subscription.h"
#include "testing.h"

namespace pf::opcua {
namespace {

namespace fs = std::filesystem;
using Kind = PublishResult::Kind;

std::string Url(int port) { return fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", port); }

TEST(OpcuaSubscriptionUnit, SequenceInOrderAndKeepAlive) {
  SequenceTracker t;
  // A keep-alive before any data carries 1, the number of the first data message.
  EXPECT_TRUE(t.Accept(1, true)->empty());
  EXPECT_TRUE(t.Accept(1, false)->empty());
  EXPECT_TRUE(t.Accept(2, false)->empty());
  EXPECT_TRUE(t.Accept(3, true)->empty());  // keep-alive: next expected is 3
  EXPECT_TRUE(t.Accept(3, false)->empty());
  EXPECT_EQ(t.next(), 4u);
}

TEST(OpcuaSubscriptionUnit, SequenceGapListsMissingNumbers) {
  SequenceTracker t;
  ASSERT_TRUE(t.Accept(1, false)->empty());
  auto g = t.Accept(5, false);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<uint32_t>{2, 3, 4}));
  // A keep-alive announcing 8 after data 5: 6 and 7 were sent and lost.
  auto k = t.Accept(8, true);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, (std::vector<uint32_t>{6, 7}));
  EXPECT_TRUE(t.Accept(8, false)->empty());
}

TEST(OpcuaSubscriptionUnit, SequenceWrapsSkippingZero) {
  SequenceTracker w(0xFFFFFFFEu);
  ASSERT_TRUE(w.Accept(0xFFFFFFFEu, true).ok());
  EXPECT_TRUE(w.Accept(0xFFFFFFFEu, false)->empty());
  EXPECT_TRUE(w.Accept(0xFFFFFFFFu, false)->empty());
  EXPECT_EQ(w.next(), 1u);  // 0 is never used
  auto g = w.Accept(2, false);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<uint32_t>{1}));
}

TEST(OpcuaSubscriptionUnit, SequenceRejectsZeroAndHugeJumps) {
  SequenceTracker t;
  auto z = t.Accept(0, false);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("sequence number 0"), std::string::npos) << z.status().message();
  ASSERT_TRUE(t.Accept(1, false).ok());
  auto j = t.Accept(2 + SequenceTracker::kMaxGap + 1, false);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), ::pf::StatusCode::kDataLoss);
  // Going backwards is a jump of almost 2^32: rejected too.
  auto b = t.Accept(1, false);
  ASSERT_FALSE(b.ok());
}

// ---- against node-opcua ----

Result<std::unique_ptr<Client>> ConnectTo(const testing::Peer& peer, bool secure, const std::string& pki) {
  ClientOptions o;
  o.endpoint_url = Url(peer.port());
  if (secure) {
    o.security = Security::kSignAndEncrypt;
    o.pki_dir = pki;
    PF_ASSIGN_OR_RETURN(auto eps, Client::GetEndpoints(o.endpoint_url));
    CertificateStore store(pki);
    PF_RETURN_IF_ERROR(store.Trust(AsBytes(eps.at(0).server_certificate)));
  }
  return Client::Connect(o);
}

double Seconds(int64_t ticks) { return static_cast<double>(TicksToUnixNanos(ticks)) / 1e9; }

TEST(OpcuaSubscriptionPeer, Temperature100msRateNoneAndEncrypted) {
  for (bool secure : {false, true}) {
    SCOPED_TRACE(secure ? "SignAndEncrypt" : "None");
    testing::Peer peer("opcua", 0, secure ? "secure" : "");
    ASSERT_TRUE(peer.ok()) << peer.log();
    testing::TempDir dir;
    auto c = ConnectTo(peer, secure, dir.path());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    SubscriptionOptions so;
    so.publishing_interval_ms = 100;
    auto sub = Subscription::Create(**c, so);
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    EXPECT_DOUBLE_EQ((*sub)->revised_publishing_interval_ms(), 100);
    MonitorRequest m;
    m.node = *(*c)->ResolveNodeId("ns=1;s=Line1.Temperature");
    m.sampling_interval_ms = 100;
    auto items = (*sub)->Monitor({m});
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ASSERT_EQ(items->size(), 1u);
    EXPECT_TRUE(items->at(0).status.IsGood()) << items->at(0).status.Name();
    EXPECT_DOUBLE_EQ(items->at(0).revised_sampling_interval_ms, 100);

    std::vector<DataValue> values;
    int gaps = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {
      auto r = (*sub)->Poll(std::chrono::seconds(5));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (r->kind == Kind::kGap) ++gaps;
      for (const DataChange& d : r->changes) {
        EXPECT_EQ(d.client_handle, 0u);
        EXPECT_EQ(d.node, m.node);
        values.push_back(d.value);
      }
    }
    EXPECT_EQ(gaps, 0);
    std::cout << (secure ? "SignAndEncrypt" : "None") << ": " << values.size() << " data changes in 2 s\n";
    // The value changes every 100 ms: about 20 notifications in 2 s.
    EXPECT_GE(values.size(), 15u);
    EXPECT_LE(values.size(), 25u);
    for (size_t i = 0; i < values.size(); ++i) {
      const DataValue& v = values[i];
      ASSERT_TRUE(v.value && v.value->type == BuiltinType::kDouble) << i;
      ASSERT_TRUE(v.source_timestamp.has_value()) << i;
      ASSERT_TRUE(v.server_timestamp.has_value()) << i;
      EXPECT_TRUE(v.status.value_or(StatusCode{}).IsGood());
      const double x = std::get<double>(v.value->values.at(0));
      // The server computed 20 + 5 sin(t) at most ~100 ms (one update period, plus a sampling
      // period) before the source timestamp; |d/dt| <= 5 per s, so within 5 * 0.25 s of the formula.
      // (The initial value may still be the start value 20.0 of a server started < 100 ms ago.)
      if (i > 0 || x != 20.0) EXPECT_NEAR(x, 20 + 5 * std::sin(Seconds(*v.source_timestamp)), 1.25) << i;
      if (i > 0) EXPECT_GT(*v.source_timestamp, *values[i - 1].source_timestamp) << i;
    }
    EXPECT_TRUE((*sub)->Close().ok());
    auto after = (*sub)->Poll(std::chrono::seconds(1));
    EXPECT_EQ(after.status().code(), ::pf::StatusCode::kFailedPrecondition);
    (*c)->Close();
  }
}

TEST(OpcuaSubscriptionPeer, ConstantCounterGivesKeepAlives) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  auto c = ConnectTo(peer, false, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  SubscriptionOptions so;
  so.publishing_interval_ms = 100;
  so.max_keep_alive_count = 2;
  so.lifetime_count = 6;
  auto sub = Subscription::Create(**c, so);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  EXPECT_EQ((*sub)->revised_max_keep_alive_count(), 2u);
  MonitorRequest m;
  m.node = *(*c)->ResolveNodeId("ns=1;s=Line1.Counter");
  m.sampling_interval_ms = 100;
  ASSERT_TRUE((*sub)->Monitor({m}).ok());
  int data = 0, keep_alives = 0;
  std::vector<uint32_t> keep_alive_seq;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < end) {
    auto r = (*sub)->Poll(std::chrono::seconds(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_NE(r->kind, Kind::kGap);
    if (r->kind == Kind::kKeepAlive) {
      ++keep_alives;
      keep_alive_seq.push_back(r->sequence_number);
    }
    for (const DataChange& d : r->changes) {
      ++data;
      EXPECT_EQ(std::get<int32_t>(d.value.value->values.at(0)), 42);
      EXPECT_EQ(r->sequence_number, 1u);  // the initial value is the first notification message
    }
  }
  EXPECT_EQ(data, 1);  // only the initial value: Counter never changes
  // A keep-alive every 2 x 100 ms after the initial value: ~6 in 1.3 s.
  EXPECT_GE(keep_alives, 4);
  EXPECT_LE(keep_alives, 9);
  // A keep-alive carries the next data sequence number: 2 after the one data message.
  for (uint32_t s : keep_alive_seq) EXPECT_EQ(s, 2u);
  EXPECT_EQ((*sub)->pending_acks(), 0u);  // the ack of message 1 went with the next Publish
}

TEST(OpcuaSubscriptionPeer, UnknownNodeAndChunkedCreate) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  auto c = ConnectTo(peer, false, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  OperationLimits lim = (*c)->limits();
  lim.max_monitored_items_per_call = 2;
  (*c)->set_limits(lim);
  SubscriptionOptions so;
  so.publishing_interval_ms = 100;
  auto sub = Subscription::Create(**c, so);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  std::vector<MonitorRequest> reqs;
  for (const char* n : {"Temperature", "Counter", "NoSuchNode", "Running", "Label"}) {
    MonitorRequest m;
    m.node = *(*c)->ResolveNodeId(fmt::format("ns=1;s=Line1.{}", n));
    m.sampling_interval_ms = 100;
    reqs.push_back(m);
  }
  auto items = (*sub)->Monitor(reqs);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_EQ((*sub)->create_item_calls(), 3);  // ceil(5 / 2)
  ASSERT_EQ(items->size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(items->at(i).client_handle, i);
    EXPECT_EQ(items->at(i).node, reqs[i].node);
    if (i == 2) {
      EXPECT_EQ(items->at(i).status.Name(), "BadNodeIdUnknown");
    } else {
      EXPECT_TRUE(items->at(i).status.IsGood()) << i << " " << items->at(i).status.Name();
    }
  }
  // Initial values arrive for the 4 good items only.
  std::set<uint32_t> seen;
  for (int k = 0; k < 10 && seen.size() < 4; ++k) {
    auto r = (*sub)->Poll(std::chrono::seconds(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const DataChange& d : r->changes) seen.insert(d.client_handle);
  }
  EXPECT_EQ(seen, (std::set<uint32_t>{0, 1, 3, 4}));
}

TEST(OpcuaSubscriptionPeer, AbsoluteDeadbandSuppressesSmallChanges) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  auto c = ConnectTo(peer, false, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  SubscriptionOptions so;
  so.publishing_interval_ms = 100;
  auto sub = Subscription::Create(**c, so);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  MonitorRequest m;
  m.node = *(*c)->ResolveNodeId("ns=1;s=Line1.Temperature");
  m.sampling_interval_ms = 100;
  m.deadband = DeadbandType::kAbsolute;
  m.deadband_value = 20;  // the value stays within 20 +- 5: no change ever exceeds 10
  auto items = (*sub)->Monitor({m});
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_TRUE(items->at(0).status.IsGood()) << items->at(0).status.Name();
  int data = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < end) {
    auto r = (*sub)->Poll(std::chrono::seconds(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    data += static_cast<int>(r->changes.size());
  }
  EXPECT_EQ(data, 1);  // the initial value only
}

TEST(OpcuaSubscriptionPeer, CliSubscribeJsonLines) {
  const std::string bin = testing::PlantfloorBin();
  if (!fs::exists(bin)) GTEST_SKIP() << "plantfloor binary not built: " << bin;
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  std::string out;
  ASSERT_EQ(testing::Run(fmt::format("{} opcua subscribe --endpoint {} --node 'ns=1;s=Line1.Temperature' "
                                     "--sampling-ms 100 --publishing-ms 100 --duration-s 2 --json 2>/dev/null",
                                     bin, Url(peer.port())),
                         &out),
            0)
      << out;
  std::istringstream in(out);
  std::string line;
  int n = 0;
  std::string last_source;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j.at("node"), "ns=1;s=Line1.Temperature") << line;
    EXPECT_EQ(j.at("status"), "Good") << line;
    const std::string src = j.at("source_time");
    EXPECT_GT(src, last_source) << line;  // ISO 8601 strings order like the times
    last_source = src;
    EXPECT_FALSE(j.at("server_time").get<std::string>().empty());
    const double v = j.at("value").get<double>();
    EXPECT_GE(v, 15.0);
    EXPECT_LE(v, 25.0);
    ++n;
  }
  EXPECT_GE(n, 15) << out;
  EXPECT_LE(n, 25) << out;
  // An unknown node: its Bad status, exit 1.
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua subscribe --endpoint {} --node 'ns=1;s=NoSuchNode' --duration-s 1 2>&1",
                                     bin, Url(peer.port())),
                         &out),
            1);
  EXPECT_NE(out.find("BadNodeIdUnknown"), std::string::npos) << out;
  // Plain text: "node  source-time  server-time  value  status" per line.
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua subscribe --endpoint {} --node 'ns=1;s=Line1.Counter' --duration-s 1",
                                     bin, Url(peer.port())),
                         &out),
            0);
  EXPECT_NE(out.find("ns=1;s=Line1.Counter  "), std::string::npos) << out;
  EXPECT_NE(out.find("  42  Good"), std::string::npos) << out;
  // Bad arguments: exit 2 with the option named.
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua subscribe --endpoint {} --node 'ns=1;s=Line1.Counter' --publishing-ms 0 2>&1",
                                     bin, Url(peer.port())),
                         &out),
            2);
  EXPECT_NE(out.find("--publishing-ms must be positive"), std::string::npos) << out;
}

}  // namespace
}  // namespace pf::opcua
