// Modbus RTU over virtual serial pairs (Debian socat ptys) against a real RTU slave (pymodbus 3.0
// serial server), first directly, then through a relay that corrupts 20 % of the frames.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "connect/modbus/modbus_test_support.h"
#include "testing.h"

extern char** environ;

namespace pf::modbus {
namespace {

using testing::TestSink;

// A child process started with posix_spawn and killed (by its pid) on destruction.
class Child {
 public:
  explicit Child(std::vector<std::string> argv, const std::string& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_ = 0;
};

bool WaitForPath(const std::string& p) {
  for (int i = 0; i < 100; ++i) {
    if (std::filesystem::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

const char* kServed = R"([{"offset": 0, "type": "uint16", "order": "abcd", "value": 4660},
 {"offset": 1, "type": "float32", "order": "cdab", "value": 1.5},
 {"offset": 3, "type": "int64", "order": "dcba", "value": -1234567890123456789},
 {"offset": 7, "type": "string", "order": "ab", "count": 3, "value": "RTU1"}])";

std::vector<testing::TagSpecForTest> ServedTags() {
  return {{"u16", {{"address", std::string("40001")}}},
          {"f32", {{"address", std::string("40002")}, {"type", std::string("float32")}, {"order", std::string("cdab")}}},
          {"i64", {{"address", std::string("40004")}, {"type", std::string("int64")}, {"order", std::string("dcba")}}},
          {"str", {{"address", std::string("40008")}, {"type", std::string("string")}, {"count", int64_t{3}}}}};
}

void ExpectServedValues(const Sample& s) {
  static const Value kExpected[] = {int64_t{4660}, 1.5, int64_t{-1234567890123456789}, std::string("RTU1")};
  ASSERT_GE(s.tag, 1u);
  ASSERT_LE(s.tag, 4u);
  EXPECT_EQ(s.value, kExpected[s.tag - 1]) << "tag " << s.tag << ": " << ValueToString(s.value);
}

class ModbusRtu : public ::testing::Test {
 protected:
  void SetUp() override {
    // Missing tools make the whole binary report "skipped" to ctest (exit 77), never "passed".
    pf::testing::RequireOrSkip(std::filesystem::exists("/usr/bin/socat") ? "/usr/bin/socat" : "", "socat not installed");
    std::string out;
    if (pf::testing::Run("/usr/bin/python3 -c 'import serial_asyncio, pymodbus'", &out) != 0)
      pf::testing::RequireOrSkip("", "pymodbus serial server needs python3-serial-asyncio: " + out);
  }
  std::string Pty(const std::string& a, const std::string& b) {
    std::string pa = dir_.path() + "/" + a, pb = dir_.path() + "/" + b;
    children_.push_back(std::make_unique<Child>(
        std::vector<std::string>{"socat", "pty,raw,echo=0,link=" + pa, "pty,raw,echo=0,link=" + pb},
        dir_.path() + "/socat-" + a + ".log"));
    EXPECT_TRUE(WaitForPath(pa) && WaitForPath(pb));
    return pa;
  }
  void Spawn(std::vector<std::string> argv, const std::string& log) {
    children_.push_back(std::make_unique<Child>(std::move(argv), dir_.path() + "/" + log));
  }
  pf::testing::TempDir dir_;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(ModbusRtu, ReadsFromARealRtuSlave) {
  Pty("client", "server");
  Spawn({"/usr/bin/python3", testing::TestDataDir() + "/rtu_server.py", dir_.path() + "/server", "38400", kServed},
        "server.log");
  MetricsRegistry metrics;
  TestSink sink;
  auto h = testing::MakeSource({{"name", std::string("rtu")}, {"endpoint", "rtu://" + dir_.path() + "/client"},
                                {"baud", int64_t{38400}}, {"parity", std::string("N")}, {"poll", std::string("100ms")},
                                {"timeout", std::string("300ms")}, {"reconnect_min", std::string("100ms")}},
                               ServedTags(), metrics);
  ASSERT_TRUE(h->status.ok()) << h->status.ToString();
  ASSERT_TRUE(h->source->Start(sink).ok());
  bool got = sink.WaitFor([](const std::vector<Sample>& s) {
    int good = 0;
    for (const auto& x : s) good += x.quality == Quality::kGood;
    return good >= 20;
  }, std::chrono::seconds(10));
  h->source->Stop();
  ASSERT_TRUE(got) << "fewer than 20 good samples in 10 s";
  for (const auto& s : sink.Samples())
    if (s.quality == Quality::kGood) ExpectServedValues(s);
  EXPECT_EQ(metrics.Value("pf_modbus_errors_total", {{"source", "rtu"}, {"kind", "crc"}}), 0);
}

TEST_F(ModbusRtu, CorruptingRelayCountsCrcErrorsRetriesAndKeepsValuesRight) {
  std::string client = Pty("client", "relay_a");
  Pty("relay_b", "server");
  Spawn({"/usr/bin/python3", testing::TestDataDir() + "/rtu_server.py", dir_.path() + "/server", "38400", kServed},
        "server.log");
  Spawn({"/usr/bin/python3", testing::TestDataDir() + "/corrupt_relay.py", dir_.path() + "/relay_a",
         dir_.path() + "/relay_b", "0.2", "7"},
        "relay.log");
  MetricsRegistry metrics;
  TestSink sink;
  auto h = testing::MakeSource({{"name", std::string("rtu")}, {"endpoint", "rtu://" + client}, {"baud", int64_t{38400}},
                                {"poll", std::string("100ms")}, {"timeout", std::string("250ms")},
                                {"retries", int64_t{3}}, {"reconnect_min", std::string("100ms")}},
                               ServedTags(), metrics);
  ASSERT_TRUE(h->status.ok()) << h->status.ToString();
  ASSERT_TRUE(h->source->Start(sink).ok());
  std::this_thread::sleep_for(std::chrono::seconds(8));
  h->source->Stop();
  Labels l{{"source", "rtu"}};
  double crc = metrics.Value("pf_modbus_errors_total", {{"source", "rtu"}, {"kind", "crc"}});
  double timeouts = metrics.Value("pf_modbus_errors_total", {{"source", "rtu"}, {"kind", "timeout"}});
  double requests = metrics.Value("pf_modbus_requests_total", l);
  size_t good = 0, bad = 0;
  for (const auto& s : sink.Samples()) {
    if (s.quality == Quality::kGood) {
      ++good;
      ExpectServedValues(s);
    } else {
      ++bad;
    }
  }
  std::printf("corrupting relay: requests %.0f, crc errors %.0f, timeouts %.0f, good samples %zu, bad %zu\n",
              requests, crc, timeouts, good, bad);
  EXPECT_GT(crc, 0);
  // one block per poll: each request either read 4 good samples or failed with a counted error (and was
  // retried); the last one may be cut off by Stop()
  double protocol = metrics.Value("pf_modbus_errors_total", {{"source", "rtu"}, {"kind", "protocol"}});
  EXPECT_NEAR(requests, static_cast<double>(good) / 4.0 + crc + timeouts + protocol, 1.0);
  EXPECT_GE(good, 4u * 20u) << "at least 20 complete polls of 4 tags";
  // Retries: without them every failed request would be a failed poll (cycles - errors good polls at
  // most). More good polls than that means failed requests were retried and recovered in their cycle.
  double cycles = static_cast<double>(metrics.GetHistogram("pf_modbus_poll_seconds", "", l).count());
  double recovered = static_cast<double>(good) / 4.0 - (cycles - (crc + timeouts + protocol));
  std::printf("poll cycles %.0f, good polls %.0f, failed requests recovered by a retry %.0f\n", cycles,
              static_cast<double>(good) / 4.0, recovered);
  EXPECT_GT(recovered, 0) << "no failed request was recovered by a retry within its poll";
}

}  // namespace
}  // namespace pf::modbus
