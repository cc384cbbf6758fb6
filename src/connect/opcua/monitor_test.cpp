// Monitor tests. Unit: option validation, malformed bytes from a fake server, Stop() while the server is
// unreachable. Peer (node-opcua, ../shared/peers/opcua: Line1.Temperature gets a new value every 100 ms):
// a 5 s network cut through a TCP proxy is bridged by session reactivation with no lost or repeated
// value; a server restart recreates the subscription and reports exactly one gap over the downtime; a
// 10 s security token is renewed over a 60 s run without a break; bytes injected mid-stream close the
// channel with a logged reason and the Monitor recovers.
#include "connect/opcua/monitor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "connect/opcua/pki.h"
#include "tcp_proxy.h"
#include "testing.h"

namespace pf::opcua {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string Url(int port) { return fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", port); }

// Everything the callbacks saw, thread-safe.
struct Recorder {
  std::mutex mu;
  std::vector<int64_t> source_ns;  // item 0, in delivery order
  std::vector<Timestamp> received;
  std::vector<MonitorGap> gaps;
  std::vector<std::pair<MonitorState, std::string>> states;
  std::vector<std::string> item_errors;
  std::vector<std::pair<uint32_t, double>> others;  // (item, value) of items other than 0

  MonitorCallbacks Callbacks() {
    MonitorCallbacks cb;
    cb.on_data = [this](std::vector<DataChange>&& changes) {
      std::lock_guard<std::mutex> l(mu);
      for (const DataChange& d : changes) {
        if (d.client_handle != 0 && d.value.value && !d.value.value->values.empty()) {
          const Scalar& x = d.value.value->values[0];
          others.emplace_back(d.client_handle, std::holds_alternative<int32_t>(x) ? std::get<int32_t>(x) : -1.0);
        }
        if (d.client_handle != 0 || !d.value.source_timestamp) continue;
        source_ns.push_back(TicksToUnixNanos(*d.value.source_timestamp));
        received.push_back(Now());
      }
    };
    cb.on_gap = [this](const MonitorGap& g) {
      std::lock_guard<std::mutex> l(mu);
      gaps.push_back(g);
    };
    cb.on_state = [this](MonitorState s, const std::string& m) {
      std::lock_guard<std::mutex> l(mu);
      states.emplace_back(s, m);
    };
    cb.on_item_error = [this](uint32_t h, StatusCode st, const std::string& m) {
      std::lock_guard<std::mutex> l(mu);
      item_errors.push_back(fmt::format("{} {} {}", h, st.Name(), m));
    };
    return cb;
  }
  size_t values() {
    std::lock_guard<std::mutex> l(mu);
    return source_ns.size();
  }
  // Waits until at least n values arrived; false on timeout.
  bool WaitValues(size_t n, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (values() >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return values() >= n;
  }
  bool SawState(MonitorState s, std::string_view text) {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& [st, m] : states) {
      if (st == s && m.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string StateLog() {
    std::lock_guard<std::mutex> l(mu);
    std::string out;
    for (const auto& [st, m] : states) out += fmt::format("  {}: {}\n", MonitorStateName(st), m);
    return out;
  }
};

// Captures the process logger's output (the channel logs why it closed).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& s = spdlog::default_logger()->sinks();
    s.erase(std::remove(s.begin(), s.end(), sink_), s.end());
  }
  std::string text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

MonitorOptions TemperatureOptions(const std::string& url) {
  MonitorOptions o;
  o.client.endpoint_url = url;
  o.client.timeout = 3000ms;
  o.subscription.publishing_interval_ms = 100;
  o.subscription.max_keep_alive_count = 10;
  o.subscription.lifetime_count = 600;  // 60 s without Publish before the server drops it
  MonitorItemSpec it;
  it.node = "ns=1;s=Line1.Temperature";
  it.sampling_interval_ms = 100;
  it.queue_size = 100;  // 10 s of values: bridges a 5 s cut
  o.items.push_back(it);
  o.reconnect_min = 200ms;
  o.reconnect_max = 1000ms;
  return o;
}

// ---- unit ----

TEST(OpcuaMonitorUnit, OptionValidationNamesTheItem) {
  auto base = TemperatureOptions("opc.tcp://127.0.0.1:4840/x");
  auto expect = [&](MonitorOptions o, std::string_view text) {
    auto m = Monitor::Start(std::move(o), {});
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.status().code(), ::pf::StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find(text), std::string::npos) << m.status().message();
  };
  {
    auto o = base;
    o.items.push_back(MonitorItemSpec{"ns=1;s=A", "1:Line1/1:A"});
    expect(o, "item 1: give exactly one of node and browse_path (both are set)");
  }
  {
    auto o = base;
    o.items.push_back(MonitorItemSpec{});
    expect(o, "item 1: give exactly one of node and browse_path (neither is set)");
  }
  {
    auto o = base;
    o.items[0].node = "ns=x;s=T";
    expect(o, "item 0: node 'ns=x;s=T'");
  }
  {
    auto o = base;
    o.items[0].node.clear();
    o.items[0].browse_path = "1:Line1/1:";
    expect(o, "item 0: browse path '1:Line1/1:': segment 2 has no browse name");
  }
  {
    auto o = base;
    o.items[0].deadband = DeadbandType::kPercent;
    o.items[0].deadband_value = 150;
    expect(o, "item 0: percent deadband must be 0..100, got 150");
  }
  {
    auto o = base;
    o.client.endpoint_url = "http://127.0.0.1:4840";
    expect(o, "must start with opc.tcp://");
  }
  {
    auto o = base;
    o.subscription.lifetime_count = 20;
    expect(o, "lifetime count 20 must be at least 3 x the keep-alive count 10");
  }
  {
    auto o = base;
    o.reconnect_min = 2000ms;
    expect(o, "0 < min (2000 ms) <= max (1000 ms)");
  }
  {
    auto o = base;
    o.items.clear();
    expect(o, "no items");
  }
  // A browse path by namespace URI and a plain one are accepted (resolved after connecting).
  auto o = base;
  o.items[0].node.clear();
  o.items[0].browse_path = "urn:x:Line1/1:Temperature";
  o.client.endpoint_url = Url(testing::FreePort());
  auto m = Monitor::Start(std::move(o), {});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  (*m)->Stop();
  EXPECT_EQ((*m)->state(), MonitorState::kStopped);
  EXPECT_EQ(MonitorStateName(MonitorState::kDisconnected), "disconnected");
}

// A listening socket run by the test: answers each connection with `reply` (or nothing) and counts.
class FakeServer {
 public:
  explicit FakeServer(std::string reply, bool silent = false) : reply_(std::move(reply)), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++connections_;
        char buf[4096];
        (void)!::recv(c, buf, sizeof buf, 0);  // the Hello
        if (silent_) {
          held_.push_back(c);  // never answers: the client waits for its timeout
          continue;
        }
        (void)!::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        ::usleep(20000);
        ::close(c);
      }
    });
  }
  ~FakeServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : held_) ::close(c);
  }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  std::string reply_;
  bool silent_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::vector<int> held_;
  std::thread thread_;
};

TEST(OpcuaMonitorUnit, MalformedServerBytesAreLoggedAndRetried) {
  // "ACK" with a size field of 12 (less than an Acknowledge body): a malformed message.
  const std::string garbage("ACKF\x0c\x00\x00\x00\x01\x02\x03\x04", 12);
  FakeServer server(garbage);
  LogCapture log;
  Recorder rec;
  auto o = TemperatureOptions(Url(server.port()));
  o.reconnect_min = 50ms;
  o.reconnect_max = 100ms;
  auto m = Monitor::Start(o, rec.Callbacks());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const auto end = Clock::now() + 5s;
  while (server.connections() < 3 && Clock::now() < end) std::this_thread::sleep_for(20ms);
  (*m)->Stop();
  EXPECT_GE(server.connections(), 3);  // retried after each malformed answer
  EXPECT_EQ((*m)->state(), MonitorState::kStopped);
  EXPECT_TRUE(rec.SawState(MonitorState::kDisconnected, "Acknowledge")) << rec.StateLog();
  const std::string text = log.text();
  EXPECT_NE(text.find("closed: Hello answered with a bad Acknowledge"), std::string::npos) << text;
  EXPECT_EQ((*m)->stats().notifications, 0u);
  EXPECT_EQ((*m)->stats().reconnects, 0u);  // never connected: nothing was reopened
}

TEST(OpcuaMonitorUnit, StopIsPromptWhileTheServerIsUnreachable) {
  {  // nothing listens: connect refused, the thread sits in its backoff
    Recorder rec;
    auto o = TemperatureOptions(Url(testing::FreePort()));
    o.reconnect_min = 5000ms;
    o.reconnect_max = 10000ms;
    auto m = Monitor::Start(o, rec.Callbacks());
    ASSERT_TRUE(m.ok());
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ((*m)->state(), MonitorState::kDisconnected);
    EXPECT_TRUE(rec.SawState(MonitorState::kDisconnected, "cannot connect")) << rec.StateLog();
    const auto t0 = Clock::now();
    (*m)->Stop();
    EXPECT_LT(Clock::now() - t0, 200ms);
    (*m)->Stop();  // idempotent
  }
  {  // accepts but never answers: the thread is blocked in a receive that lasts one timeout
    FakeServer silent("", true);
    Recorder rec;
    auto o = TemperatureOptions(Url(silent.port()));
    o.client.timeout = 1000ms;
    auto m = Monitor::Start(o, rec.Callbacks());
    ASSERT_TRUE(m.ok());
    std::this_thread::sleep_for(200ms);
    const auto t0 = Clock::now();
    (*m)->Stop();
    const auto took = Clock::now() - t0;
    EXPECT_LT(took, 1300ms);
    std::cout << "Stop() while blocked on a silent server took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms (timeout 1000 ms)\n";
    EXPECT_EQ((*m)->state(), MonitorState::kStopped);
  }
}

// ---- against node-opcua ----

// Largest step between consecutive source timestamps (ms) and the number of repeated or backward ones.
struct Continuity {
  double max_step_ms = 0;
  int not_increasing = 0;
  std::string detail;  // the first repeated or backward pair
};
// The largest step allowed between consecutive source timestamps. The server recomputes the value on its
// own 100 ms timer, which slips under load (about 570 instead of 600 values a minute on a busy 2-core VM,
// single steps up to ~350 ms); values lost by the client show up as sequence-number gaps (gaps == 0 is
// asserted separately) and a lost 5 s cut as a step of seconds.
constexpr double kMaxStepMs = 450;

Continuity Check(const std::vector<int64_t>& ns) {
  Continuity c;
  for (size_t i = 1; i < ns.size(); ++i) {
    if (ns[i] <= ns[i - 1] && c.not_increasing++ == 0) {
      c.detail = fmt::format("value {} at {} after value {} at {}", i, FormatRfc3339(Timestamp{ns[i]}, 6), i - 1,
                             FormatRfc3339(Timestamp{ns[i - 1]}, 6));
    }
    c.max_step_ms = std::max(c.max_step_ms, static_cast<double>(ns[i] - ns[i - 1]) / 1e6);
  }
  return c;
}

void ProxyCut(bool secure) {
  testing::Peer peer("opcua", 0, secure ? "secure" : "");
  ASSERT_TRUE(peer.ok()) << peer.log();
  testing::TempDir pki;
  testing::TcpProxy proxy("127.0.0.1", peer.port());
  ASSERT_TRUE(proxy.ok());
  auto o = TemperatureOptions(Url(proxy.port()));
  if (secure) {
    o.client.security = Security::kSignAndEncrypt;
    o.client.pki_dir = pki.path();
    auto eps = Client::GetEndpoints(Url(peer.port()));
    ASSERT_TRUE(eps.ok()) << eps.status().ToString();
    CertificateStore store(pki.path());
    ASSERT_TRUE(store.Trust(AsBytes(eps->at(0).server_certificate)).ok());
  }
  Recorder rec;
  auto m = Monitor::Start(o, rec.Callbacks());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(rec.WaitValues(20, 15s)) << rec.StateLog();
  const size_t before = rec.values();
  const Timestamp cut_at = Now();
  proxy.Cut(5000ms);
  std::this_thread::sleep_for(5000ms);
  const Timestamp cut_end = Now();
  // 30 more values after the cut ended (3 s at 10/s, plus the queued ones from the cut).
  ASSERT_TRUE(rec.WaitValues(before + 50 + 30, 20s)) << rec.StateLog();
  (*m)->Stop();
  const MonitorStats s = (*m)->stats();
  const std::string states = rec.StateLog();
  std::lock_guard<std::mutex> l(rec.mu);
  Timestamp first_after{};
  for (size_t i = before; i < rec.received.size(); ++i) {
    if (rec.received[i] > cut_end) {
      first_after = rec.received[i];
      break;
    }
  }
  const Continuity c = Check(rec.source_ns);
  std::cout << (secure ? "SignAndEncrypt" : "None") << ": cut 5 s; " << rec.source_ns.size() << " values; recovered "
            << (first_after - cut_end).count() / 1e6 << " ms after the cut ended; max source step " << c.max_step_ms
            << " ms; reconnects " << s.reconnects << ", reactivations " << s.session_reactivations << ", transfers "
            << s.transfers << ", republished " << s.republished << ", repeats dropped " << s.repeats_dropped << ", gaps " << s.gaps << ", proxy cut "
            << proxy.cut_connections() << " / dropped " << proxy.dropped() << "\n"
            << states;
  EXPECT_GE(proxy.cut_connections(), 1);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_GE(s.session_reactivations + s.transfers, 1u);
  EXPECT_EQ(s.recreations, 0u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_TRUE(rec.gaps.empty());
  EXPECT_EQ(c.not_increasing, 0) << c.detail;  // every value exactly once, in order
  EXPECT_LE(c.max_step_ms, kMaxStepMs);  // no hole of more than a few sampling intervals across the cut
  EXPECT_EQ(s.notifications, rec.source_ns.size());
  // Values sampled during the cut were delivered (from the server's queue) after it.
  int during = 0;
  for (int64_t ns : rec.source_ns) during += ns > cut_at.ns + 500'000'000 && ns < cut_end.ns - 500'000'000;
  EXPECT_GE(during, 30);
}

TEST(OpcuaMonitorPeer, ProxyCutIsBridgedWithoutGap) { ProxyCut(false); }
TEST(OpcuaMonitorPeer, ProxyCutIsBridgedWithoutGapSignAndEncrypt) { ProxyCut(true); }

TEST(OpcuaMonitorPeer, ServerRestartRecreatesAndMarksOneGap) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string script = testing::PeersScript();
  Recorder rec;
  auto m = Monitor::Start(TemperatureOptions(Url(peer.port())), rec.Callbacks());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(rec.WaitValues(20, 15s)) << rec.StateLog();
  const Timestamp stop_at = Now();
  std::string out;
  ASSERT_EQ(testing::Run(fmt::format("bash {} stop opcua {}", script, peer.port()), &out), 0) << out;
  const Timestamp stopped = Now();
  const size_t before = rec.values();
  std::this_thread::sleep_for(3s);
  const Timestamp restart_at = Now();
  ASSERT_EQ(testing::Run(fmt::format("bash {} start opcua {}", script, peer.port()), &out), 0) << out;
  const Timestamp restarted = Now();
  ASSERT_TRUE(rec.WaitValues(before + 20, 20s)) << rec.StateLog();
  (*m)->Stop();
  const MonitorStats s = (*m)->stats();
  const std::string states = rec.StateLog();
  std::lock_guard<std::mutex> l(rec.mu);
  ASSERT_EQ(rec.gaps.size(), 1u) << states;
  const MonitorGap& g = rec.gaps[0];
  std::cout << "restart: stop " << FormatRfc3339(stop_at) << " .. " << FormatRfc3339(stopped) << ", start "
            << FormatRfc3339(restart_at) << " .. " << FormatRfc3339(restarted) << "; gap " << FormatRfc3339(g.from)
            << " .. " << FormatRfc3339(g.to) << " (" << g.reason << "); reconnects " << s.reconnects << ", recreations "
            << s.recreations << "\n"
            << states;
  EXPECT_EQ(g.handles, std::vector<uint32_t>{0});
  EXPECT_LE(g.from, stopped);
  EXPECT_GE(g.from, stop_at - 1s);
  EXPECT_GE(g.to, restart_at);
  EXPECT_LE(g.to, restarted + 3s);
  EXPECT_NE(g.reason.find("recreated"), std::string::npos) << g.reason;
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_GE(s.recreations, 1u);
  EXPECT_GE(s.reconnects, 1u);
  // Values flow again after the gap; none was sampled inside it.
  EXPECT_GE(rec.source_ns.back(), g.to.ns + 1'000'000'000);
  for (size_t i = 0; i < rec.source_ns.size(); ++i) {
    EXPECT_FALSE(rec.source_ns[i] > g.from.ns && rec.source_ns[i] < g.to.ns) << i;
  }
}

TEST(OpcuaMonitorPeer, InjectedGarbageClosesTheChannelAndRecovers) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  testing::TcpProxy proxy("127.0.0.1", peer.port());
  LogCapture log;
  Recorder rec;
  auto o = TemperatureOptions(Url(proxy.port()));
  // Line1.Counter (constant 42) by browse path: delivered once, although node-opcua sends every item's
  // value again after the ActivateSession on the new channel; and a path that does not resolve.
  MonitorItemSpec counter;
  counter.browse_path = "1:Line1/1:Counter";
  o.items.push_back(counter);
  MonitorItemSpec nope;
  nope.browse_path = "1:Line1/1:NoSuchVariable";
  o.items.push_back(nope);
  auto m = Monitor::Start(o, rec.Callbacks());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(rec.WaitValues(10, 15s)) << rec.StateLog();
  proxy.Inject(std::string("MSGF\x09\x00\x00\x00\x00", 9));  // a chunk shorter than its own header
  std::this_thread::sleep_for(500ms);
  const size_t before = rec.values();
  ASSERT_TRUE(rec.WaitValues(before + 20, 15s)) << rec.StateLog();
  (*m)->Stop();
  const MonitorStats s = (*m)->stats();
  const std::string text = log.text();
  std::cout << rec.StateLog();
  EXPECT_NE(text.find("closed: malformed chunk"), std::string::npos) << text;
  EXPECT_TRUE(rec.SawState(MonitorState::kDisconnected, "malformed chunk")) << rec.StateLog();
  EXPECT_TRUE(rec.SawState(MonitorState::kConnected, "session reactivated")) << rec.StateLog();
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.gaps, 0u);
  std::lock_guard<std::mutex> l(rec.mu);
  const Continuity c = Check(rec.source_ns);
  std::cout << "garbage: reconnects " << s.reconnects << ", reactivations " << s.session_reactivations << ", republished "
            << s.republished << ", repeats dropped " << s.repeats_dropped << ", max source step " << c.max_step_ms << " ms\n";
  EXPECT_EQ(c.not_increasing, 0) << c.detail;
  EXPECT_LE(c.max_step_ms, kMaxStepMs);
  ASSERT_EQ(rec.others.size(), 1u);  // the counter, once
  EXPECT_EQ(rec.others[0], (std::pair<uint32_t, double>{1, 42}));
  EXPECT_GE(s.repeats_dropped, 1u);  // at least the counter's repeat
  ASSERT_EQ(rec.item_errors.size(), 1u);  // resolved once: the reactivated session kept the subscription
  // "2 <status> browse path '...': <status>": the server's BadNoMatch (0x806F0000, OPC 10000-4 7.39).
  EXPECT_EQ(rec.item_errors[0].rfind("2 0x806F0000 browse path '1:Line1/1:NoSuchVariable'", 0), 0u) << rec.item_errors[0];
}

TEST(OpcuaMonitorRenewal, TenSecondTokenRenewedOverSixtySeconds) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  auto o = TemperatureOptions(Url(peer.port()));
  o.client.requested_lifetime_ms = 10000;
  Recorder rec;
  auto m = Monitor::Start(o, rec.Callbacks());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::this_thread::sleep_for(60s);
  (*m)->Stop();
  const MonitorStats s = (*m)->stats();
  const std::string states = rec.StateLog();
  std::lock_guard<std::mutex> l(rec.mu);
  const Continuity c = Check(rec.source_ns);
  std::cout << "60 s with a 10 s token: " << s.channel_renewals << " renewals, " << rec.source_ns.size()
            << " values, max source step " << c.max_step_ms << " ms, reconnects " << s.reconnects << "\n";
  EXPECT_GE(s.channel_renewals, 5u);
  EXPECT_EQ(s.reconnects, 0u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_EQ(c.not_increasing, 0) << c.detail;
  EXPECT_LE(c.max_step_ms, kMaxStepMs);
  EXPECT_GE(rec.source_ns.size(), 500u);  // ~10 per second
}

}  // namespace
}  // namespace pf::opcua
