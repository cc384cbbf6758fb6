#include "alerts/threshold_rule.h"

#include <gtest/gtest.h>

#include <variant>

#include "alerts/alert_engine.h"

namespace pf::alerts {
namespace {

using std::chrono::seconds;
using Field = std::pair<std::string, std::variant<int64_t, double, std::string, bool, std::vector<std::string>>>;

// A [[alerts.rules]] table as runtime/ would build it from TOML.
ConfigNode Table(int line, const std::vector<Field>& fields) {
  ConfigNode t;
  t.kind = ConfigNode::Kind::kTable;
  t.loc = {"plant.toml", line};
  t.path = "alerts.rules[0]";
  for (const auto& [key, value] : fields) {
    ConfigNode n;
    n.loc = {"plant.toml", line};
    n.path = t.path + "." + key;
    if (auto* i = std::get_if<int64_t>(&value)) n.kind = ConfigNode::Kind::kInt, n.i = *i;
    if (auto* d = std::get_if<double>(&value)) n.kind = ConfigNode::Kind::kDouble, n.d = *d;
    if (auto* s = std::get_if<std::string>(&value)) n.kind = ConfigNode::Kind::kString, n.s = *s;
    if (auto* b = std::get_if<bool>(&value)) n.kind = ConfigNode::Kind::kBool, n.b = *b;
    if (auto* a = std::get_if<std::vector<std::string>>(&value)) {
      n.kind = ConfigNode::Kind::kArray;
      for (const auto& s : *a) {
        ConfigNode item;
        item.kind = ConfigNode::Kind::kString;
        item.s = s;
        n.items.push_back(item);
      }
    }
    t.fields.emplace_back(key, std::move(n));
  }
  return t;
}

std::string ErrorOf(const std::vector<Field>& fields) { return ReadThresholdRule(Table(7, fields)).status().message(); }

const Timestamp kT0 = Timestamp::FromSeconds(1'767'592'800);
Timestamp Sec(double s) { return kT0 + std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9)); }

Sample S(double v, double t, Quality q = Quality::kGood) {
  Sample s;
  s.value = v;
  s.source_time = Sec(t);
  s.quality = q;
  if (q == Quality::kBad) s.sub = QualitySub::kCommFailure, s.value = std::monostate{};
  return s;
}

ThresholdRule Rule(const std::vector<Field>& fields) {
  auto c = ReadThresholdRule(Table(7, fields));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return ThresholdRule(c.ok() ? *c : ThresholdRuleConfig{});
}

bool Active(ThresholdRule& r, const Sample& s) {
  auto u = r.OnSample(s, "running");
  EXPECT_TRUE(u.has_value());
  return u && u->active;
}

TEST(ThresholdRuleConfig, DefaultsAndNames) {
  auto c = ReadThresholdRule(Table(7, {{"tag", std::string("press7.temp")}, {"kind", std::string("high")}, {"limit", 90.0}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->asset, "press7");
  EXPECT_EQ(c->cause, "temp.high");
  EXPECT_EQ(c->Source(), "threshold:press7.temp.high");
  EXPECT_EQ(c->priority, Priority::kLow);
  EXPECT_EQ(c->deadband, 0);

  c = ReadThresholdRule(Table(7, {{"tag", std::string("press7.temp")},
                                  {"kind", std::string("bad_quality")},
                                  {"priority", std::string("medium")},
                                  {"on_delay", std::string("2s")},
                                  {"suppress_in_states", std::vector<std::string>{"stopped", "maintenance"}}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Source(), "quality:press7.temp");
  EXPECT_EQ(c->cause, "temp.bad_quality");
  EXPECT_EQ(c->window, seconds(10));
  ConditionConfig cc = c->ToConditionConfig();
  EXPECT_EQ(cc.on_delay, seconds(2));
  EXPECT_EQ(cc.priority, Priority::kMedium);
  EXPECT_EQ(cc.suppress_in_states, (std::vector<std::string>{"stopped", "maintenance"}));
}

TEST(ThresholdRuleConfig, ErrorsNameFileLineKey) {
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("high")}}),
            "plant.toml:7: alerts.rules[0].limit: a high rule needs a limit");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("hihi")}}),
            "plant.toml:7: alerts.rules[0].kind: expected one of high, low, rate, stale, bad_quality, got \"hihi\"");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("rate")}, {"limit", 2.0}}),
            "plant.toml:7: alerts.rules[0].window: a rate rule needs a window");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("stale")}, {"limit", 2.0}}),
            "plant.toml:7: alerts.rules[0].limit: a stale rule has no limit; use window");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("high")}, {"limit", 9.0}, {"deadband", -1.0}}),
            "plant.toml:7: alerts.rules[0].deadband: must not be negative, got -1");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("high")}, {"limit", 9.0},
                     {"priority", std::string("urgent")}}),
            "plant.toml:7: alerts.rules[0].priority: expected one of low, medium, high, got \"urgent\"");
  EXPECT_EQ(ErrorOf({{"tag", std::string("press7.temp")}, {"kind", std::string("high")}, {"limt", 9.0}}),
            "plant.toml:7: alerts.rules[0].limt: unknown key 'limt' (did you mean 'limit'?); known keys: tag, kind, "
            "limit, deadband, on_delay, off_delay, priority, suppress_in_states, cause, window, asset");
  EXPECT_EQ(ErrorOf({{"kind", std::string("high")}, {"limit", 9.0}}),
            "plant.toml:7: alerts.rules[0].tag: missing required key (a string; tag the rule watches, e.g. \"press7.temp\")");
}

TEST(ThresholdRule, HighWithDeadband) {
  ThresholdRule r = Rule({{"tag", std::string("press7.temp")}, {"kind", std::string("high")}, {"limit", 90.0}, {"deadband", 2.0}});
  EXPECT_FALSE(Active(r, S(90.0, 0)));   // at the limit: not above
  EXPECT_TRUE(Active(r, S(90.5, 1)));
  EXPECT_TRUE(Active(r, S(89.0, 2)));    // inside the deadband: stays active
  EXPECT_TRUE(Active(r, S(88.0, 3)));    // exactly limit - deadband: still active
  EXPECT_FALSE(Active(r, S(87.9, 4)));
  EXPECT_FALSE(Active(r, S(89.9, 5)));   // below the limit again: not active
  EXPECT_FALSE(r.OnSample(S(0, 6, Quality::kBad), "running").has_value());  // a bad sample says nothing
  auto u = r.OnSample(S(91.25, 7), "stopped");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->asset, "press7");
  EXPECT_EQ(u->cause, "temp.high");
  EXPECT_EQ(u->value, 91.25);
  EXPECT_EQ(u->time, Sec(7));
  EXPECT_EQ(u->machine_state, "stopped");
  EXPECT_EQ(u->message, "press7.temp 91.25 > 90");
}

TEST(ThresholdRule, LowWithDeadband) {
  ThresholdRule r = Rule({{"tag", std::string("press7.oil")}, {"kind", std::string("low")}, {"limit", 10.0}, {"deadband", 1.0}});
  EXPECT_FALSE(Active(r, S(10.0, 0)));
  EXPECT_TRUE(Active(r, S(9.0, 1)));
  EXPECT_TRUE(Active(r, S(11.0, 2)));
  EXPECT_FALSE(Active(r, S(11.1, 3)));
}

TEST(ThresholdRule, RateOfChangeOverWindow) {
  ThresholdRule r = Rule({{"tag", std::string("press7.temp")}, {"kind", std::string("rate")}, {"limit", 1.0},
                          {"deadband", 0.5}, {"window", std::string("10s")}});
  EXPECT_FALSE(r.OnSample(S(0, 0), "").has_value());  // one sample: no rate yet
  auto u = r.OnSample(S(2, 5), "");                    // 2 / 5 = 0.4 /s
  ASSERT_TRUE(u.has_value());
  EXPECT_FALSE(u->active);
  EXPECT_DOUBLE_EQ(u->value, 0.4);
  u = r.OnSample(S(15, 10), "");  // (15 - 0) / 10 = 1.5 /s
  EXPECT_TRUE(u->active);
  EXPECT_DOUBLE_EQ(u->value, 1.5);
  u = r.OnSample(S(20, 15), "");  // window from 5 s: (20 - 2) / 10 = 1.8 /s
  EXPECT_DOUBLE_EQ(u->value, 1.8);
  u = r.OnSample(S(25, 25), "");  // from 15 s: (25 - 20) / 10 = 0.5 /s: exactly limit - deadband, stays
  EXPECT_TRUE(u->active);
  u = r.OnSample(S(16, 35), "");  // from 25 s: -9 / 10 = -0.9 /s: magnitude 0.9 stays active
  EXPECT_TRUE(u->active);
  EXPECT_DOUBLE_EQ(u->value, -0.9);
  u = r.OnSample(S(16, 45), "");  // 0 /s
  EXPECT_FALSE(u->active);
}

TEST(ThresholdRule, StaleValue) {
  ThresholdRule r = Rule({{"tag", std::string("press7.temp")}, {"kind", std::string("stale")}, {"window", std::string("5s")}});
  EXPECT_FALSE(r.OnTick(Sec(1), "").has_value());  // before the first sample
  EXPECT_FALSE(Active(r, S(1, 0)));
  EXPECT_FALSE(r.OnTick(Sec(4), "")->active);
  auto u = r.OnTick(Sec(7.5), "");
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->active);
  EXPECT_EQ(u->time, Sec(5));  // the exact onset, not the tick time
  EXPECT_DOUBLE_EQ(u->value, 5.0);
  EXPECT_EQ(u->message, "press7.temp: no new sample for 5s");
  u = r.OnTick(Sec(8), "");
  EXPECT_EQ(u->time, Sec(8));
  EXPECT_DOUBLE_EQ(u->value, 8.0);
  EXPECT_FALSE(r.OnSample(S(0, 9, Quality::kBad), "").has_value());  // a bad sample is not a new value
  EXPECT_FALSE(Active(r, S(2, 9.5)));
}

TEST(ThresholdRule, BadQualityLongerThanWindowFlowsThroughTheEngine) {
  auto c = ReadThresholdRule(Table(7, {{"tag", std::string("press7.temp")}, {"kind", std::string("bad_quality")},
                                       {"window", std::string("10s")}, {"priority", std::string("medium")},
                                       {"suppress_in_states", std::vector<std::string>{"maintenance"}}}));
  ASSERT_TRUE(c.ok());
  ThresholdRule rule(*c);
  AlertEngineConfig ec;
  ec.sources[c->Source()] = c->ToConditionConfig();
  AlertEngine engine(ec);
  std::vector<AlertTransition> out;
  auto feed = [&](std::optional<ConditionUpdate> u) {
    if (!u) return;
    auto r = engine.Evaluate(*u);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    out.insert(out.end(), r->transitions.begin(), r->transitions.end());
  };
  feed(rule.OnSample(S(20, 0), "running"));
  feed(rule.OnSample(S(0, 1, Quality::kBad), "running"));
  feed(rule.OnSample(S(0, 6, Quality::kBad), "running"));
  feed(rule.OnTick(Sec(8), "running"));
  EXPECT_TRUE(out.empty());
  feed(rule.OnTick(Sec(12), "running"));  // bad since 1 s: 10 s reached at 11 s
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].action, "raise");
  EXPECT_EQ(out[0].time, Sec(11));
  EXPECT_EQ(out[0].source, "quality:press7.temp");
  EXPECT_EQ(out[0].cause, "temp.bad_quality");
  EXPECT_EQ(out[0].priority, Priority::kMedium);
  EXPECT_EQ(out[0].message, "press7.temp: quality bad for 10s");
  feed(rule.OnSample(S(21, 13), "running"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].action, "rtn");
  EXPECT_EQ(out[1].time, Sec(13));
  // A sample stamped before the last report is reported at the last time (the engine refuses going back).
  auto late = rule.OnSample(S(22, 12.5), "running");
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->time, Sec(13));
}

}  // namespace
}  // namespace pf::alerts
