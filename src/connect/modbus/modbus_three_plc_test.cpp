// Three PLCs, one source each: a healthy libmodbus slave, a SIGSTOPped one (accepts TCP, never
// answers) and a closed port. The healthy one keeps its 100 ms period within +-10 ms; the dead
// ones go bad/comm_failure within timeout + one poll; Stop() returns within timeout + 100 ms.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "connect/modbus/modbus_test_support.h"
#include "testing.h"

namespace pf::modbus {
namespace {

using testing::TestSink;

int PeerPid(int port) {
  std::string home = std::getenv("PEERS_HOME") ? std::getenv("PEERS_HOME") : "/tmp/plantfloor-peers";
  std::ifstream f(fmt::format("{}/run/libmodbus-{}/libmodbus.pid", home, port));
  int pid = 0;
  f >> pid;
  return pid;
}

std::unique_ptr<testing::SourceUnderTest> Plc(const std::string& name, int port, MetricsRegistry& m) {
  return testing::MakeSource({{"name", name}, {"endpoint", fmt::format("tcp://127.0.0.1:{}", port)},
                              {"poll", std::string("100ms")}, {"timeout", std::string("500ms")},
                              {"reconnect_min", std::string("200ms")}, {"reconnect_max", std::string("1s")}},
                             {{name + ".counter", {{"address", std::string("40001")}}},
                              {name + ".seconds", {{"address", std::string("40002")}}}},
                             m);
}

// Wall time from start until the first bad/comm_failure sample; -1 if none.
double FirstBadAfterMs(const std::vector<Sample>& s, Timestamp start) {
  for (const auto& x : s)
    if (x.quality == Quality::kBad && x.sub == QualitySub::kCommFailure)
      return static_cast<double>((x.receive_time - start).count()) / 1e6;
  return -1;
}

TEST(ModbusThreePlcs, DeadPlcsNeverDelayTheHealthyOne) {
  pf::testing::Peer healthy("libmodbus");
  pf::testing::Peer stopped("libmodbus");
  ASSERT_TRUE(healthy.ok() && stopped.ok()) << healthy.log() << stopped.log();
  int stopped_pid = PeerPid(stopped.port());
  ASSERT_GT(stopped_pid, 0);
  ASSERT_EQ(::kill(stopped_pid, SIGSTOP), 0);
  int closed_port = pf::testing::FreePort();

  MetricsRegistry metrics;
  TestSink good_sink, stopped_sink, closed_sink;
  auto good = Plc("good", healthy.port(), metrics);
  auto hung = Plc("hung", stopped.port(), metrics);
  auto closed = Plc("closed", closed_port, metrics);
  ASSERT_TRUE(good->status.ok() && hung->status.ok() && closed->status.ok());
  Timestamp start = Now();
  ASSERT_TRUE(hung->source->Start(stopped_sink).ok());
  ASSERT_TRUE(closed->source->Start(closed_sink).ok());
  ASSERT_TRUE(good->source->Start(good_sink).ok());
  std::this_thread::sleep_for(std::chrono::seconds(5));

  auto t0 = std::chrono::steady_clock::now();
  hung->source->Stop();
  auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  closed->source->Stop();
  good->source->Stop();
  ::kill(stopped_pid, SIGCONT);
  std::printf("Stop() of the hung source took %lld ms\n", static_cast<long long>(stop_ms));
  EXPECT_LT(stop_ms, 600) << "Stop() must return within timeout + 100 ms";

  // healthy: every poll good, period 100 ms +- 10 ms
  auto counter = good_sink.SamplesOf(1);
  ASSERT_GE(counter.size(), 45u);
  std::vector<double> deltas_ms;
  for (size_t i = 1; i < counter.size(); ++i) {
    EXPECT_EQ(counter[i].quality, Quality::kGood);
    deltas_ms.push_back(static_cast<double>((counter[i].source_time - counter[i - 1].source_time).count()) / 1e6);
  }
  auto [mn, mx] = std::minmax_element(deltas_ms.begin(), deltas_ms.end());
  std::printf("healthy: %zu polls, period min %.2f ms max %.2f ms\n", counter.size(), *mn, *mx);
  EXPECT_GE(*mn, 90.0);
  EXPECT_LE(*mx, 110.0);
  EXPECT_EQ(metrics.Value("pf_modbus_skipped_cycles_total", {{"source", "good"}}), 0);

  // hung (SIGSTOP): bad/comm_failure within its timeout (500 ms, measured from the first request),
  // with 50 ms of scheduling slack
  double hung_ms = FirstBadAfterMs(stopped_sink.Samples(), start);
  double closed_ms = FirstBadAfterMs(closed_sink.Samples(), start);
  std::printf("first bad: hung %.1f ms, closed %.1f ms\n", hung_ms, closed_ms);
  EXPECT_GT(hung_ms, 0);
  EXPECT_LE(hung_ms, 500 + 50);
  EXPECT_GT(closed_ms, 0);
  EXPECT_LE(closed_ms, 100 + 20);
  // transition only: one bad sample per tag while down
  EXPECT_EQ(stopped_sink.SamplesOf(1).size(), 1u);
  EXPECT_EQ(closed_sink.SamplesOf(2).size(), 1u);
  EXPECT_GE(metrics.Value("pf_modbus_errors_total", {{"source", "hung"}, {"kind", "timeout"}}), 2);
  EXPECT_GE(metrics.Value("pf_modbus_errors_total", {{"source", "closed"}, {"kind", "connect"}}), 3);
  EXPECT_GE(metrics.Value("pf_modbus_reconnects_total", {{"source", "closed"}}), 2);
  auto ev = closed_sink.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "source_status");
  EXPECT_NE(ev[0].payload_json.find(R"("state":"unreachable")"), std::string::npos) << ev[0].payload_json;
}

}  // namespace
}  // namespace pf::modbus
