#include "apps/condition_monitor.h"

#include <cmath>
#include <numbers>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dsp/test_signals.h"

namespace pf::apps {
namespace {

using nlohmann::json;
constexpr double kG = 9806.65;  // mm/s^2 per g
constexpr double kFs = 12000;

ConditionMonitorConfig BaseConfig() {
  ConditionMonitorConfig c;
  c.name = "pump1.de";
  c.asset = "pump1";
  c.tag = "pump1.de_accel";
  c.sample_rate_hz = kFs;
  c.block_s = 1.0;
  c.fixed_rpm = 1797;
  c.bearing = *dsp::LookupBearing("6205");
  c.baseline_blocks = 40;
  c.false_alarm_rate = 0.05;
  return c;
}

std::vector<float> Noise(size_t n, double rms, unsigned seed, double sine_g = 0, double sine_hz = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, rms);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(g(rng) + sine_g * std::sin(2 * std::numbers::pi * sine_hz * static_cast<double>(i) / kFs));
  return x;
}

// Feeds x in source blocks of `chunk` samples from t0; returns every step.
std::vector<MonitorStep> Feed(ConditionMonitor& m, const std::vector<float>& x, size_t chunk, Timestamp t0 = {},
                              std::function<void(ConditionMonitor&, Timestamp)> before = nullptr) {
  std::vector<MonitorStep> steps;
  for (size_t i = 0; i + chunk <= x.size(); i += chunk) {
    Timestamp t = t0 + Duration(static_cast<int64_t>(std::llround(static_cast<double>(i) * 1e9 / kFs)));
    if (before) before(m, t);
    Status s = m.OnBlock(std::span<const float>(x.data() + i, chunk), kFs, t, Quality::kGood, steps);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return steps;
}

const ConditionChange* Find(const std::vector<MonitorStep>& steps, const std::string& cause, bool active) {
  for (const auto& st : steps)
    for (const auto& c : st.conditions)
      if (c.update.cause == cause && c.update.active == active) return &c;
  return nullptr;
}

bool AnyMachineCondition(const std::vector<MonitorStep>& steps) {
  for (const auto& st : steps)
    for (const auto& c : st.conditions)
      if (c.update.active && c.update.cause.find(".sensor.") == std::string::npos) return true;
  return false;
}

double Value(const MonitorStep& s, Derived d) { return s.values[static_cast<size_t>(d)].value_or(-1); }

TEST(ConditionMonitor, ConfigErrorsNameTheKey) {
  auto c = BaseConfig();
  c.block_s = -1;
  EXPECT_EQ(c.Validate().message(), "block_s: must be above 0, got -1");
  c = BaseConfig();
  c.hop_s = 2;
  EXPECT_EQ(c.Validate().message(), "hop_s: must be in (0, block_s = 1] (0: block_s), got 2");
  c = BaseConfig();
  c.fixed_rpm.reset();
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.Validate().message().find("nominal_rpm"), std::string::npos);
  c = BaseConfig();
  c.regime_rpm_edges = {1000, 900};
  EXPECT_EQ(c.Validate().message(), "regime_rpm_edges[1]: must be above the previous edge (900 <= 1000)");
  c = BaseConfig();
  c.bearing = {};
  EXPECT_EQ(ConditionMonitor::Create(c).status().code(), StatusCode::kInvalidArgument);
}

TEST(ConditionMonitor, WindowsWithHopAndRestartAfterAGap) {
  auto c = BaseConfig();
  c.hop_s = 0.25;
  auto m = ConditionMonitor::Create(c).value();
  // 5 s in 0.1 s source blocks: windows end at 1.0, 1.25, ..., 5.0 s -> (5 - 1) / 0.25 + 1 = 17.
  auto steps = Feed(*m, Noise(5 * 12000, 0.05, 1), 1200);
  ASSERT_EQ(steps.size(), 17u);
  EXPECT_EQ(steps.front().time.ns, 1'000'000'000);
  EXPECT_EQ(steps[1].time.ns, 1'250'000'000);
  EXPECT_EQ(steps.back().time.ns, 5'000'000'000);
  // A block 1 s later than the stream continues: the window restarts there, the next one ends
  // 1 s after the gap.
  std::vector<MonitorStep> more;
  auto x = Noise(12000, 0.05, 2);
  ASSERT_TRUE(m->OnBlock(x, kFs, Timestamp::FromSeconds(6.0), Quality::kGood, more).ok());
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].time.ns, 7'000'000'000);
  // A block at another rate than configured is refused.
  EXPECT_EQ(m->OnBlock(x, 25600, Timestamp::FromSeconds(8.0), Quality::kGood, more).code(), StatusCode::kInvalidArgument);
}

// A 0.5 g sine at 100 Hz has a velocity of 0.5 g / (2 pi 100 Hz) peak: 5.518 mm/s RMS, in zone D
// of ISO 10816-3 group 2 rigid (D from 4.5 mm/s).
TEST(ConditionMonitor, VelocityAndZoneAlerts) {
  auto c = BaseConfig();
  auto m = ConditionMonitor::Create(c).value();
  auto steps = Feed(*m, Noise(3 * 12000, 0.001, 3, 0.5, 100), 12000);
  ASSERT_EQ(steps.size(), 3u);
  const double expected = 0.5 * kG / (2 * std::numbers::pi * 100) / std::sqrt(2.0);
  EXPECT_NEAR(Value(steps[0], Derived::kVelocityRms), expected, 0.02 * expected);
  EXPECT_EQ(Value(steps[0], Derived::kZone), 3);
  EXPECT_EQ(Value(steps[0], Derived::kSensorOk), 1);
  // Kurtosis of a sine is 1.5 and its crest factor sqrt(2).
  EXPECT_NEAR(Value(steps[0], Derived::kKurtosis), 1.5, 0.02);
  EXPECT_NEAR(Value(steps[0], Derived::kCrest), std::sqrt(2.0), 0.02);
  const ConditionChange* d = Find(steps, "pump1.de.zone.D", true);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->update.asset, "pump1");
  EXPECT_EQ(d->update.source, "condition:pump1.de");
  EXPECT_EQ(d->update.priority, alerts::Priority::kHigh);
  ASSERT_NE(Find(steps, "pump1.de.zone.C", true), nullptr);
  // Back to 0.2 g: 2.21 mm/s, zone B: both clear once.
  auto calm = Feed(*m, Noise(2 * 12000, 0.001, 4, 0.2, 100), 12000, Timestamp::FromSeconds(3));
  ASSERT_NE(Find(calm, "pump1.de.zone.D", false), nullptr);
  ASSERT_NE(Find(calm, "pump1.de.zone.C", false), nullptr);
  EXPECT_EQ(Value(calm[0], Derived::kZone), 1);
  size_t clears = 0;
  for (const auto& s : calm) clears += s.conditions.size();
  EXPECT_EQ(clears, 2u);
}

TEST(ConditionMonitor, LowSpeedIsSuppressedAndMissingSpeedIsASensorFault) {
  auto c = BaseConfig();
  c.fixed_rpm.reset();
  c.nominal_rpm = 1800;
  c.min_speed_fraction = 0.5;
  auto m = ConditionMonitor::Create(c).value();
  auto loud = Noise(3 * 12000, 0.001, 5, 0.5, 100);  // zone D if judged
  // Coast-down at 600 rpm (1/3 of nominal): features published, no alert.
  auto steps = Feed(*m, loud, 12000, {}, [](ConditionMonitor& mm, Timestamp t) { mm.OnSpeed(600, t); });
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(steps[0].suppressed);
  EXPECT_NEAR(Value(steps[0], Derived::kZone), 3, 0);
  EXPECT_FALSE(AnyMachineCondition(steps));
  // No speed at all: the sensor health reports speed_missing, and no machine fault is raised.
  auto m2 = ConditionMonitor::Create(c).value();
  auto none = Feed(*m2, loud, 12000);
  EXPECT_NE(Find(none, "pump1.de.sensor.speed_missing", true), nullptr);
  EXPECT_FALSE(AnyMachineCondition(none));
  // At full speed the same signal is zone D.
  auto m3 = ConditionMonitor::Create(c).value();
  auto run = Feed(*m3, loud, 12000, {}, [](ConditionMonitor& mm, Timestamp t) { mm.OnSpeed(1790, t); });
  EXPECT_NE(Find(run, "pump1.de.zone.D", true), nullptr);
}

TEST(ConditionMonitor, NanIsASensorFaultNotAMachineFault) {
  auto c = BaseConfig();
  auto m = ConditionMonitor::Create(c).value();
  auto x = Noise(2 * 12000, 0.001, 6, 0.5, 100);
  x[15000] = std::numeric_limits<float>::quiet_NaN();
  auto steps = Feed(*m, x, 12000);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(Value(steps[0], Derived::kSensorOk), 1);
  EXPECT_EQ(Value(steps[1], Derived::kSensorOk), 0);
  EXPECT_FALSE(steps[1].values[static_cast<size_t>(Derived::kVelocityRms)].has_value());
  const ConditionChange* nan = Find(steps, "pump1.de.sensor.nan", true);
  ASSERT_NE(nan, nullptr);
  EXPECT_EQ(json::parse(nan->evidence_json)["code"], "nan");
  for (const auto& cc : steps[1].conditions) EXPECT_NE(cc.update.cause.find(".sensor."), std::string::npos) << cc.update.cause;
}

// Learned on stationary noise, the baseline accepts more of it and flags a tripled level after
// anomaly_blocks windows; the saved JSON scores exactly as the learned baseline.
TEST(ConditionMonitor, BaselineLearnsScoresAndSurvivesARestart) {
  auto c = BaseConfig();
  c.block_s = 0.25;
  c.baseline_blocks = 60;
  c.false_alarm_rate = 0.05;
  c.anomaly_blocks = 3;
  auto m = ConditionMonitor::Create(c).value();
  auto learn = Feed(*m, Noise(15 * 12000, 0.05, 7), 3000);  // 60 windows
  ASSERT_EQ(learn.size(), 60u);
  ASSERT_TRUE(m->has_baseline());
  ASSERT_EQ(learn.back().events.size(), 1u);
  EXPECT_EQ(json::parse(learn.back().events[0].payload_json)["action"], "learned");
  EXPECT_TRUE(m->TakeBaselineChanged());
  EXPECT_FALSE(m->TakeBaselineChanged());
  auto saved = m->BaselineJson();
  ASSERT_TRUE(saved.has_value());

  auto normal = Feed(*m, Noise(10 * 12000, 0.05, 8), 3000, Timestamp::FromSeconds(15));
  int exceed = 0;
  for (const auto& s : normal) {
    ASSERT_TRUE(s.values[static_cast<size_t>(Derived::kAnomalyScore)].has_value());
    exceed += Value(s, Derived::kAnomalyScore) > Value(s, Derived::kAnomalyThreshold);
  }
  EXPECT_LE(exceed, 8);  // 40 windows at 5 %: 2 expected, P(> 8) < 1e-3 for independent windows

  auto loud = Feed(*m, Noise(2 * 12000, 0.15, 9), 3000, Timestamp::FromSeconds(25));
  ASSERT_EQ(loud.size(), 8u);
  EXPECT_EQ(Find({loud[0], loud[1]}, "pump1.de.anomaly", true), nullptr);
  const ConditionChange* a = Find(loud, "pump1.de.anomaly", true);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->update.time, loud[2].time);  // the third consecutive exceedance
  EXPECT_GT(json::parse(a->evidence_json)["ratio"].get<double>(), 1.0);

  auto m2 = ConditionMonitor::Create(c).value();
  ASSERT_TRUE(m2->RestoreBaseline(*saved).ok());
  auto x = Noise(12000, 0.05, 10);
  std::vector<MonitorStep> a1, a2;
  ASSERT_TRUE(m->OnBlock(x, kFs, Timestamp::FromSeconds(100), Quality::kGood, a1).ok());
  ASSERT_TRUE(m2->OnBlock(x, kFs, Timestamp::FromSeconds(100), Quality::kGood, a2).ok());
  ASSERT_EQ(a1.size(), 4u);
  ASSERT_EQ(a2.size(), 4u);
  EXPECT_NEAR(Value(a1[3], Derived::kAnomalyScore), Value(a2[3], Derived::kAnomalyScore), 1e-9);

  auto other = c;
  other.false_alarm_rate = 0.01;
  auto m3 = ConditionMonitor::Create(other).value();
  EXPECT_EQ(m3->RestoreBaseline(*saved).code(), StatusCode::kFailedPrecondition);
}

// Impacts at BPFI = 5.4152 x fr (6205: n = 9, d/D = 0.3126/1.537), amplitude-modulated by the
// shaft: an inner-race alert whose evidence has the BPFI line and its +-1x sidebands.
TEST(ConditionMonitor, InnerRaceAlertCarriesEvidence) {
  auto c = BaseConfig();
  c.kurtogram_blocks = 3;
  c.diagnosis_blocks = 2;
  auto m = ConditionMonitor::Create(c).value();
  dsp::testing::FaultSignal sig;
  sig.shaft_hz = 1797.0 / 60;
  sig.fault_hz = 4.5 * (1 + 0.3126 / 1.537) * sig.shaft_hz;
  sig.shaft_modulation = 0.8;
  sig.impact = 0.5;
  sig.seconds = 8;
  auto steps = Feed(*m, dsp::testing::MakeFaultSignal(sig), 6000);
  const ConditionChange* b = Find(steps, "pump1.de.bearing.inner_race", true);
  ASSERT_NE(b, nullptr);
  json ev = json::parse(b->evidence_json);
  EXPECT_EQ(ev["location"], "inner_race");
  const json& cand = ev["candidates"][0];
  EXPECT_NEAR(cand["fundamental_hz"].get<double>(), sig.fault_hz, 1e-6 * sig.fault_hz);
  ASSERT_GE(cand["lines"].size(), 2u);
  EXPECT_NEAR(cand["lines"][0]["found_hz"].get<double>(), sig.fault_hz, 1.0);  // 1 Hz bins
  EXPECT_GT(cand["lines"][0]["snr_db"].get<double>(), 9.5);
  EXPECT_GE(cand["sidebands_detected"].get<int>(), 1);
  EXPECT_GT(ev["margin_db"].get<double>(), 6.0);
  EXPECT_EQ(b->update.priority, alerts::Priority::kHigh);
}

}  // namespace
}  // namespace pf::apps
