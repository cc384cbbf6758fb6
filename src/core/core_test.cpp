#include <gtest/gtest.h>

#include "core/bounded_queue.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "core/time.h"

namespace pf {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("{} is odd", x);
  return x / 2;
}
Status Chain(int x, int& out) {
  PF_ASSIGN_OR_RETURN(int h, Half(x));
  PF_ASSIGN_OR_RETURN(out, Half(h));
  return Status::Ok();
}

TEST(Status, AssignOrReturnAddsNothingOnSuccessAndPropagatesCode) {
  int out = 0;
  EXPECT_TRUE(Chain(8, out).ok());
  EXPECT_EQ(out, 2);
  Status s = Chain(6, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "3 is odd");
  EXPECT_EQ(s.WithContext("modbus 'press7'").ToString(), "invalid_argument: modbus 'press7': 3 is odd");
}

TEST(Time, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2026-11-25T13:45:00.123Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ns, 1795614300123000000LL);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-25T13:45:00.123Z");
  auto off = ParseRfc3339("2026-11-25T14:45:00.123+01:00");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->ns, t->ns);
  EXPECT_EQ(ParseRfc3339("2026-11-25 13:45:00").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatRfc3339(Timestamp{0}, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59Z").status().message(),
            "'9999-12-31T23:59:59Z' is outside the representable range (1677-09-22 to 2262-04-10)");
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.5Z")->ns, -500'000'000);
  EXPECT_EQ(FormatRfc3339(Timestamp{-500'000'000}), "1969-12-31T23:59:59.500Z");
}

TEST(Time, Durations) {
  EXPECT_EQ(ParseDuration("250ms")->count(), 250'000'000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1'500'000'000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7LL * 86400 * 1'000'000'000);
  EXPECT_FALSE(ParseDuration("10 parsecs").ok());
  EXPECT_EQ(ParseDuration("1000000d").status().message(), "'1000000d' is too long a duration (at most about 292 years)");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(100)), "100ms");
}

TEST(BoundedQueue, PushBlocksWhenFullUntilPopped) {
  BoundedQueue<int> q(2);
  EXPECT_TRUE(q.Push(1));
  EXPECT_TRUE(q.Push(2));
  EXPECT_FALSE(q.PushFor(3, std::chrono::milliseconds(20)));  // full: the producer is paused
  std::vector<int> out;
  EXPECT_TRUE(q.PopBatch(out, 10, std::chrono::milliseconds(1)));
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  EXPECT_TRUE(q.PushFor(3, std::chrono::milliseconds(20)));
  q.Close();
  EXPECT_FALSE(q.Push(4));
  out.clear();
  EXPECT_TRUE(q.PopBatch(out, 10, std::chrono::milliseconds(1)));  // drains after close
  EXPECT_EQ(out, std::vector<int>{3});
  out.clear();
  EXPECT_FALSE(q.PopBatch(out, 10, std::chrono::milliseconds(1)));
}

TEST(Metrics, PrometheusText) {
  MetricsRegistry m;
  m.GetCounter("pf_samples_total", "samples read", {{"source", "plc1"}}).Inc(5);
  m.GetHistogram("pf_poll_seconds", "poll", {}, {0.01, 0.1}).Observe(0.05);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("pf_samples_total{source=\"plc1\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_poll_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_poll_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(m.Value("pf_samples_total", {{"source", "plc1"}}), 5);
}

TEST(Metrics, FamilyCallbackRendersItsSeriesUntilRemoved) {
  MetricsRegistry m;
  int owner = 0;
  int rendered = 0;
  m.GaugeFamilyCallback("pf_alerts_top", "top alerts", [&] {
    ++rendered;
    return MetricsRegistry::Series{{{{"position", "c1"}, {"rank", "1"}}, 7}, {{{"position", "c2"}, {"rank", "1"}}, 2.5}};
  }, &owner);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE pf_alerts_top gauge\npf_alerts_top{position=\"c1\",rank=\"1\"} 7\n"
                      "pf_alerts_top{position=\"c2\",rank=\"1\"} 2.5\n"), std::string::npos) << text;
  m.RemoveCallbacks(&owner);
  EXPECT_EQ(m.RenderPrometheus().find("pf_alerts_top{"), std::string::npos);
  EXPECT_EQ(rendered, 1);
}

ConfigNode Leaf(std::string path, int line, ConfigNode::Kind k) {
  ConfigNode n;
  n.kind = k;
  n.path = std::move(path);
  n.loc = {"plant.toml", line};
  return n;
}

TEST(Config, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("512MB"), 512'000'000u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 65'536u);
  EXPECT_EQ(*ParseByteSize("1.5GiB"), 1'610'612'736u);
  EXPECT_EQ(*ParseByteSize("1000"), 1000u);
  EXPECT_EQ(ParseByteSize("12 parsecs").status().message(),
            "'12 parsecs' is not a size; expected a number with a unit: B, kB, MB, GB, KiB, MiB, GiB (e.g. 512MB)");
}

TEST(Config, ReaderNamesFileLineKeyAndExpectation) {
  static constexpr FieldSpec kSpec[] = {
      {"endpoint", FieldType::kString, true, "", "tcp://host:port"},
      {"port", FieldType::kInt, false, "502", "TCP port"},
      {"poll", FieldType::kDuration, false, "1s", "poll period"},
  };
  ConfigNode t = Leaf("sources.plc1", 3, ConfigNode::Kind::kTable);
  ConfigNode port = Leaf("sources.plc1.port", 5, ConfigNode::Kind::kString);
  port.s = "502x";
  t.fields.emplace_back("port", port);
  ConfigReader r(t, kSpec);
  EXPECT_EQ(r.Check().message(), "plant.toml:5: sources.plc1.port: expected an integer, got a string (\"502x\")");
  t.fields[0].second.kind = ConfigNode::Kind::kInt;
  t.fields[0].second.i = 502;
  EXPECT_EQ(ConfigReader(t, kSpec).Check().message(),
            "plant.toml:3: sources.plc1.endpoint: missing required key (a string; tcp://host:port)");
  ConfigNode typo = Leaf("sources.plc1.pol", 6, ConfigNode::Kind::kString);
  typo.s = "1s";
  t.fields.emplace_back("pol", typo);
  EXPECT_EQ(ConfigReader(t, kSpec).Check().message(),
            "plant.toml:6: sources.plc1.pol: unknown key 'pol' (did you mean 'poll'?); known keys: endpoint, port, poll");
}

}  // namespace
}  // namespace pf
