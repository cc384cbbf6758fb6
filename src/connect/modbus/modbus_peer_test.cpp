// Real Modbus TCP servers over loopback (../shared/peers: libmodbus and pymodbus slaves): an
// independent client (pymodbus, testdata/write_values.py) writes every type in every order into
// scratch registers; the ModbusSource reads them back and must decode them exactly.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "connect/modbus/modbus_test_support.h"
#include "testing.h"

namespace pf::modbus {
namespace {

using testing::Field;
using testing::TagSpecForTest;
using testing::TestSink;

struct Case {
  std::string type, order;
  nlohmann::json written;  // what the independent client writes
  Value expected;          // what plantfloor must read
  int registers;
  int count = 0;           // string registers
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (std::string order : {"abcd", "cdab", "badc", "dcba"}) {
    cases.push_back({"int16", order, -12345, int64_t{-12345}, 1});
    cases.push_back({"uint16", order, 54321, int64_t{54321}, 1});
    cases.push_back({"int32", order, -123456789, int64_t{-123456789}, 2});
    cases.push_back({"uint32", order, 3000000000u, int64_t{3000000000}, 2});
    cases.push_back({"int64", order, -1234567890123456789ll, int64_t{-1234567890123456789}, 4});
    cases.push_back({"uint64", order, 9007199254740993ull, int64_t{9007199254740993}, 4});
    cases.push_back({"float32", order, -273.15, static_cast<double>(-273.15f), 2});
    cases.push_back({"float64", order, 2.718281828459045, 2.718281828459045, 4});
  }
  cases.push_back({"string", "ab", "P-100 X", std::string("P-100 X"), 4, 4});
  cases.push_back({"string", "ba", "Batch42", std::string("Batch42"), 4, 4});
  return cases;
}

// Writes cases[first..last) starting at offset with the independent client, reads them with a
// ModbusSource and compares. Returns how many were checked.
void WriteAndRead(int port, const std::vector<Case>& cases, int offset) {
  nlohmann::json items = nlohmann::json::array();
  std::vector<TagSpecForTest> tags;
  int at = offset;
  for (const auto& c : cases) {
    items.push_back({{"offset", at}, {"type", c.type}, {"order", c.order}, {"value", c.written}, {"count", c.count}});
    std::vector<Field> f = {{"address", fmt::format("hr:{}", at)}, {"type", c.type}, {"order", c.order}};
    if (c.count) f.push_back({"count", int64_t{c.count}});
    tags.push_back({fmt::format("{}_{}", c.type, c.order), f});
    at += c.registers;
  }
  std::string out;
  std::string cmd = fmt::format("/usr/bin/python3 {}/write_values.py {} '{}'", testing::TestDataDir(), port, items.dump());
  ASSERT_EQ(pf::testing::Run(cmd, &out), 0) << out;

  MetricsRegistry metrics;
  TestSink sink;
  auto h = testing::MakeSource({{"name", std::string("plc")}, {"endpoint", fmt::format("tcp://127.0.0.1:{}", port)},
                                {"poll", std::string("100ms")}, {"timeout", std::string("1s")}},
                               tags, metrics);
  ASSERT_TRUE(h->status.ok()) << h->status.ToString();
  ASSERT_TRUE(h->source->Start(sink).ok());
  bool all = sink.WaitFor([&](const std::vector<Sample>& s) {
    std::set<TagId> seen;
    for (const auto& x : s)
      if (x.quality == Quality::kGood) seen.insert(x.tag);
    return seen.size() == cases.size();
  }, std::chrono::seconds(5));
  h->source->Stop();
  ASSERT_TRUE(all) << "not every tag read good within 5 s";
  for (size_t i = 0; i < cases.size(); ++i) {
    auto samples = sink.SamplesOf(static_cast<TagId>(i + 1));
    ASSERT_FALSE(samples.empty());
    EXPECT_EQ(samples.front().quality, Quality::kGood);
    EXPECT_EQ(samples.front().value, cases[i].expected)
        << cases[i].type << " " << cases[i].order << ": got " << ValueToString(samples.front().value);
  }
  // one request per merged block: all tags are adjacent, so one block per 125 registers
  EXPECT_EQ(metrics.Value("pf_modbus_errors_total", {{"source", "plc"}, {"kind", "timeout"}}), 0);
}

TEST(ModbusPeer, LibmodbusEveryTypeEveryOrder) {
  pf::testing::Peer peer("libmodbus");
  ASSERT_TRUE(peer.ok()) << peer.log();
  WriteAndRead(peer.port(), AllCases(), 2);  // HR2..HR99 writable: 88 registers in one block
}

TEST(ModbusPeer, PymodbusEveryTypeEveryOrder) {
  pf::testing::Peer peer("pymodbus");
  ASSERT_TRUE(peer.ok()) << peer.log();
  // Only HR10..HR19 are scratch: write and read in rounds of at most 10 registers.
  auto cases = AllCases();
  std::vector<Case> round;
  int regs = 0, rounds = 0;
  for (size_t i = 0; i <= cases.size(); ++i) {
    if (i == cases.size() || regs + cases[i].registers > 10) {
      SCOPED_TRACE(fmt::format("round {}", rounds));
      WriteAndRead(peer.port(), round, 10);
      ++rounds;
      round.clear();
      regs = 0;
      if (i == cases.size()) break;
    }
    round.push_back(cases[i]);
    regs += cases[i].registers;
  }
  EXPECT_GE(rounds, 9);
}

TEST(ModbusPeer, BitsScaleCountersAndExceptions) {
  pf::testing::Peer peer("libmodbus");
  ASSERT_TRUE(peer.ok()) << peer.log();
  std::string out;
  std::string items = R"([{"offset": 50, "type": "bitword", "order": "abcd", "value": 9},
                          {"offset": 51, "type": "uint16", "order": "abcd", "value": 215}])";
  ASSERT_EQ(pf::testing::Run(fmt::format("/usr/bin/python3 {}/write_values.py {} '{}'", testing::TestDataDir(),
                                         peer.port(), items),
                             &out),
            0)
      << out;
  MetricsRegistry metrics;
  TestSink sink;
  auto h = testing::MakeSource(
      {{"name", std::string("plc")}, {"endpoint", fmt::format("tcp://127.0.0.1:{}", peer.port())},
       {"poll", std::string("100ms")}, {"max_requests_per_s", 20.0}},
      {{"bit0", {{"address", std::string("40051.0")}}},
       {"bit1", {{"address", std::string("hr:50")}, {"bit", int64_t{1}}}},
       {"bit3", {{"address", std::string("hr:50.3")}}},
       {"temp", {{"address", std::string("40052")}, {"scale", 0.1}, {"offset", -10.0}}},
       {"counter", {{"address", std::string("ir:0")}}},
       {"coil", {{"address", std::string("co:0")}}},
       {"missing", {{"address", std::string("hr:150")}}}},  // the slave has 100 registers: exception 0x02
      metrics);
  ASSERT_TRUE(h->status.ok()) << h->status.ToString();
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(h->source->Start(sink).ok());
  ASSERT_TRUE(sink.WaitFor([](const std::vector<Sample>& s) {
    int counter = 0;
    for (const auto& x : s) counter += x.tag == 5;
    return counter >= 8;
  }, std::chrono::seconds(5)));
  h->source->Stop();
  double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto first = [&](TagId t) { return sink.SamplesOf(t).front(); };
  EXPECT_EQ(first(1).value, Value(true));
  EXPECT_EQ(first(2).value, Value(false));
  EXPECT_EQ(first(3).value, Value(true));
  EXPECT_EQ(first(4).value, Value(215 * 0.1 - 10.0));
  EXPECT_TRUE(std::holds_alternative<bool>(first(6).value));
  // the counter moves (+1 per 100 ms) and seq is strictly increasing over all samples
  auto counter = sink.SamplesOf(5);
  EXPECT_GT(std::get<int64_t>(counter.back().value), std::get<int64_t>(counter.front().value));
  auto all = sink.Samples();
  for (size_t i = 1; i < all.size(); ++i) ASSERT_GT(all[i].seq, all[i - 1].seq);
  // exception 0x02 -> bad/config_error, once (transition only), the other tags stay good
  auto missing = sink.SamplesOf(7);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].quality, Quality::kBad);
  EXPECT_EQ(missing[0].sub, QualitySub::kConfigError);
  EXPECT_GE(metrics.Value("pf_modbus_errors_total", {{"source", "plc"}, {"kind", "exception"}}), 5);
  auto events = sink.Events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].kind, "source_status");
  EXPECT_NE(events[0].message.find("connected to tcp://127.0.0.1:"), std::string::npos);
  // blocks: hr 50-51, hr 150, ir 0, co 0 -> 4 requests per cycle; at 20 requests/s a cycle takes
  // 150 ms+, so the 100 ms schedule overruns and skips cycles instead of flooding the PLC
  double requests = metrics.Value("pf_modbus_requests_total", {{"source", "plc"}});
  double samples = metrics.Value("pf_samples_read_total", {{"source", "plc"}});
  EXPECT_GE(requests, 20);
  EXPECT_LE(requests, 20 * elapsed_s + 1) << "elapsed " << elapsed_s << " s";
  EXPECT_GT(metrics.Value("pf_modbus_skipped_cycles_total", {{"source", "plc"}}), 0);
  EXPECT_EQ(samples, static_cast<double>(sink.Samples().size()));
}

}  // namespace
}  // namespace pf::modbus
