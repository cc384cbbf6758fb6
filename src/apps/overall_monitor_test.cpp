// OverallMonitor: ISO zones at the boundaries of ISO 10816-3 (Table A.1/A.2 values, not the code's
// constants), the anomaly baseline (realised false-alarm rate against the target, a step change,
// held transmitter values), sensor faults that never become machine conditions, low speed, restore.
#include "apps/overall_monitor.h"

#include <cmath>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pf::apps {
namespace {

using nlohmann::json;

const Timestamp kT0 = Timestamp::FromSeconds(1'780'000'000);

OverallMonitorConfig BaseConfig() {
  OverallMonitorConfig c;
  c.name = "fan1.de";
  c.asset = "fan1";
  c.tag = "fan1.de_vel";
  return c;
}

std::unique_ptr<OverallMonitor> Make(OverallMonitorConfig c) {
  auto m = OverallMonitor::Create(std::move(c));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(*m) : nullptr;
}

Timestamp At(double s) { return kT0 + Duration(static_cast<int64_t>(std::llround(s * 1e9))); }

const ConditionChange* Find(const OverallStep& st, const std::string& cause) {
  for (const auto& c : st.conditions)
    if (c.update.cause == cause) return &c;
  return nullptr;
}

double Zone(const OverallStep& st) { return st.values[static_cast<size_t>(OverallDerived::kZone)].value_or(-1); }

// A positive, skewed "velocity RMS" around 2 mm/s (log-normal, 5 %), like a steady machine.
class Velocity {
 public:
  explicit Velocity(unsigned seed, double median = 2.0) : rng_(seed), median_(median) {}
  double operator()() { return median_ * std::exp(0.05 * g_(rng_)); }

 private:
  std::mt19937 rng_;
  std::normal_distribution<double> g_{0.0, 1.0};
  double median_;
};

TEST(OverallMonitor, ZonesAtTheIsoBoundariesGroup2Rigid) {
  auto m = Make(BaseConfig());  // defaults: group 2, rigid: 1.4 / 2.8 / 4.5 mm/s (ISO 10816-3 Table A.2)
  double t = 0;
  struct Case { double v; double zone; bool c, d; };
  // A value on a boundary is in the upper zone.
  for (Case k : {Case{0.0, 0, false, false}, Case{1.39, 0, false, false}, Case{1.4, 1, false, false},
                 Case{2.79, 1, false, false}, Case{2.8, 2, true, false}, Case{4.49, 2, true, false},
                 Case{4.5, 3, true, true}, Case{4.49, 2, true, false}, Case{1.0, 0, false, false}}) {
    OverallStep st = m->OnSample(k.v, Quality::kGood, At(t += 1));
    EXPECT_EQ(Zone(st), k.zone) << k.v;
    EXPECT_EQ(st.values[static_cast<size_t>(OverallDerived::kSensorOk)], 1.0);
    const ConditionChange* c = Find(st, "fan1.de.zone.C");
    const ConditionChange* d = Find(st, "fan1.de.zone.D");
    if (k.c) {
      ASSERT_NE(c, nullptr) << k.v;
      EXPECT_TRUE(c->update.active);
      EXPECT_EQ(c->update.source, "condition:fan1.de");
      EXPECT_EQ(c->update.asset, "fan1");
      EXPECT_EQ(c->update.value, k.v);
      json ev = json::parse(c->evidence_json);
      EXPECT_EQ(ev["value_mm_s"], k.v);
      EXPECT_EQ(ev["zone"], k.d ? "D" : "C");
      EXPECT_EQ(ev["boundaries"]["ab"], 1.4);
      EXPECT_EQ(ev["boundaries"]["bc"], 2.8);
      EXPECT_EQ(ev["boundaries"]["cd"], 4.5);
      EXPECT_EQ(ev["machine_group"], "2");
      EXPECT_EQ(ev["foundation"], "rigid");
    }
    EXPECT_EQ(d != nullptr && d->update.active, k.d) << k.v;
    if (k.v == 1.0) {  // back from C: one clearing update each for C, none for D (cleared before)
      ASSERT_NE(c, nullptr);
      EXPECT_FALSE(c->update.active);
      EXPECT_EQ(d, nullptr);
    }
  }
}

TEST(OverallMonitor, ZonesGroup1FlexibleAndOverriddenBoundaries) {
  OverallMonitorConfig c = BaseConfig();
  c.zones = dsp::DefaultZoneBoundaries(dsp::MachineGroup::kGroup1, dsp::Foundation::kFlexible);  // 3.5 / 7.1 / 11.0
  c.machine_group = "1";
  c.foundation = "flexible";
  auto m = Make(c);
  EXPECT_EQ(Zone(m->OnSample(3.49, Quality::kGood, At(1))), 0);
  EXPECT_EQ(Zone(m->OnSample(7.09, Quality::kGood, At(2))), 1);
  OverallStep st = m->OnSample(7.1, Quality::kGood, At(3));
  EXPECT_EQ(Zone(st), 2);
  ASSERT_NE(Find(st, "fan1.de.zone.C"), nullptr);
  EXPECT_EQ(json::parse(Find(st, "fan1.de.zone.C")->evidence_json)["machine_group"], "1");
  EXPECT_EQ(Zone(m->OnSample(11.0, Quality::kGood, At(4))), 3);

  c.zones = {1.0, 2.0, 3.0};
  auto o = Make(c);
  EXPECT_EQ(Zone(o->OnSample(2.0, Quality::kGood, At(1))), 2);
  c.zones = {2.0, 1.0, 3.0};
  auto bad = OverallMonitor::Create(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// Learns on a stationary signal, then scores 20000 more samples of it: the share of samples over
// the threshold is the realised false-alarm rate, within 2x of the target; with the default
// debouncing (5 consecutive) no anomaly is raised at all.
TEST(OverallMonitor, StationarySignalMeetsTheTargetFalseAlarmRate) {
  OverallMonitorConfig c = BaseConfig();
  c.false_alarm_rate = 0.01;
  c.baseline_samples = 2000;
  OverallMonitorConfig c1 = c;
  c1.anomaly_samples = 1;
  auto per_sample = Make(c1);
  auto debounced = Make(c);
  Velocity v(11);
  double t = 0;
  int learned_events = 0;
  for (int i = 0; i < 2000; ++i) {
    double x = v();
    OverallStep a = per_sample->OnSample(x, Quality::kGood, At(t += 1));
    OverallStep b = debounced->OnSample(x, Quality::kGood, At(t));
    EXPECT_TRUE(a.learning);
    learned_events += static_cast<int>(a.events.size());
    if (i == 1999) {
      ASSERT_EQ(a.events.size(), 1u);
      json p = json::parse(a.events[0].payload_json);
      EXPECT_EQ(p["action"], "learned");
      EXPECT_EQ(p["kind"], "overall");
    }
  }
  EXPECT_EQ(learned_events, 1);
  ASSERT_TRUE(per_sample->has_baseline());
  ASSERT_TRUE(debounced->has_baseline());
  int exceed = 0, raised_1 = 0, raised_5 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    double x = v();
    OverallStep a = per_sample->OnSample(x, Quality::kGood, At(t += 1));
    OverallStep b = debounced->OnSample(x, Quality::kGood, At(t));
    ASSERT_TRUE(a.scored);
    double d2 = *a.values[static_cast<size_t>(OverallDerived::kAnomalyScore)];
    double thr = *a.values[static_cast<size_t>(OverallDerived::kAnomalyThreshold)];
    exceed += d2 > thr;
    if (const ConditionChange* ch = Find(a, "fan1.de.anomaly"); ch && ch->update.active) ++raised_1;
    if (const ConditionChange* ch = Find(b, "fan1.de.anomaly"); ch && ch->update.active) ++raised_5;
    EXPECT_EQ(Find(a, "fan1.de.zone.C"), nullptr);
  }
  const double rate = static_cast<double>(exceed) / n;
  std::printf("realised false-alarm rate %.4f over %d samples (target 0.01)\n", rate, n);
  EXPECT_GE(rate, 0.005);
  EXPECT_LE(rate, 0.02);
  EXPECT_EQ(raised_1, exceed);  // anomaly_samples = 1: every exceedance is an active update
  EXPECT_EQ(raised_5, 0);       // 0.01^5 per sample
}

// After a step from 2.0 to 2.6 mm/s (6 sd of the 5 % noise, zone B of a group 1 rigid machine:
// 2.3 / 4.5 / 7.1 mm/s) the anomaly is raised at the 5th fresh sample over the threshold, not
// earlier; values the transmitter merely holds (exact repeats, or samples closer than min_spacing)
// do not count.
TEST(OverallMonitor, StepChangeRaisesTheAnomalyAfterFiveFreshSamples) {
  OverallMonitorConfig c = BaseConfig();
  c.zones = dsp::DefaultZoneBoundaries(dsp::MachineGroup::kGroup1, dsp::Foundation::kRigid);
  auto m = Make(c);
  Velocity v(5);
  double t = 0;
  for (int i = 0; i < 500; ++i) m->OnSample(v(), Quality::kGood, At(t += 1));
  ASSERT_TRUE(m->has_baseline()) << m->StatusText();
  Velocity stepped(6, 2.6);
  // One fresh value, then the same value held: 20 polls at 1 s, then 10 new values at 0.2 s.
  double held = stepped();
  OverallStep st = m->OnSample(held, Quality::kGood, At(t += 1));
  EXPECT_TRUE(st.fresh);
  EXPECT_GT(*st.values[static_cast<size_t>(OverallDerived::kAnomalyScore)],
            *st.values[static_cast<size_t>(OverallDerived::kAnomalyThreshold)]);
  for (int i = 0; i < 20; ++i) {
    st = m->OnSample(held, Quality::kGood, At(t += 1));
    EXPECT_FALSE(st.fresh);
    EXPECT_TRUE(st.scored);
    EXPECT_TRUE(st.conditions.empty());
  }
  st = m->OnSample(stepped(), Quality::kGood, At(t += 1));  // fresh #2
  EXPECT_TRUE(st.fresh);
  for (int i = 0; i < 4; ++i) {  // within min_spacing (1 s) of fresh #2: not fresh
    st = m->OnSample(stepped(), Quality::kGood, At(t += 0.2));
    EXPECT_FALSE(st.fresh);
    EXPECT_TRUE(st.conditions.empty());
  }
  int fresh = 2;
  const ConditionChange* raised = nullptr;
  while (!raised && fresh < 10) {
    st = m->OnSample(stepped(), Quality::kGood, At(t += 1));
    ASSERT_TRUE(st.fresh);
    ++fresh;
    raised = Find(st, "fan1.de.anomaly");
  }
  ASSERT_NE(raised, nullptr);
  EXPECT_EQ(fresh, 5);
  EXPECT_TRUE(raised->update.active);
  json ev = json::parse(raised->evidence_json);
  EXPECT_GT(ev["d2"].get<double>(), ev["threshold"].get<double>());
  EXPECT_NEAR(ev["baseline_median_mm_s"].get<double>(), 2.0, 0.02);
  EXPECT_EQ(ev["consecutive"], 5);
  EXPECT_EQ(Find(st, "fan1.de.zone.C"), nullptr);  // 2.6 mm/s is zone B (group 1 rigid)
  EXPECT_EQ(Zone(st), 1);
  // Back to normal: the first fresh sample under the threshold clears it.
  Velocity normal(7);
  const ConditionChange* cleared = nullptr;
  for (int i = 0; i < 5 && !cleared; ++i) cleared = Find(m->OnSample(normal(), Quality::kGood, At(t += 1)), "fan1.de.anomaly");
  ASSERT_NE(cleared, nullptr);
  EXPECT_FALSE(cleared->update.active);
}

TEST(OverallMonitor, HeldValuesAreNotLearned) {
  OverallMonitorConfig c = BaseConfig();
  c.baseline_samples = 100;
  auto m = Make(c);
  double t = 0;
  Velocity v(3);
  int learned = 0;
  for (int i = 0; i < 50; ++i) {
    double x = v();
    for (int k = 0; k < 5; ++k) learned += m->OnSample(x, Quality::kGood, At(t += 1)).learning;  // held for 5 polls
  }
  EXPECT_EQ(learned, 50);
  EXPECT_EQ(m->StatusText(), "learning the baseline: 50 of 100 fresh samples");
  for (int i = 0; i < 50; ++i) learned += m->OnSample(v(), Quality::kGood, At(t += 0.5)).learning;  // 2 per second
  EXPECT_EQ(learned, 75);
}

// Learning from a time range: only the samples in [from, to) are learned; the fit comes with the
// first sample at or after `to`.
TEST(OverallMonitor, BaselineFromATimeRange) {
  OverallMonitorConfig c = BaseConfig();
  c.baseline_from = At(100);
  c.baseline_to = At(400);
  auto m = Make(c);
  Velocity v(9);
  int learned = 0;
  double fitted_at = -1;
  for (int i = 1; i <= 450; ++i) {
    OverallStep st = m->OnSample(v(), Quality::kGood, At(i));
    learned += st.learning;
    if (!st.events.empty()) fitted_at = i;
    if (i == 399) EXPECT_EQ(m->StatusText().find("learning the baseline from "), 0u) << m->StatusText();
  }
  EXPECT_EQ(learned, 300);
  EXPECT_EQ(fitted_at, 400);
  EXPECT_TRUE(m->has_baseline());
  EXPECT_EQ(m->StatusText(), "scoring against the baseline (1 regimes)");
}

bool OnlySensorCauses(const OverallStep& st) {
  for (const auto& c : st.conditions)
    if (c.update.cause.find(".sensor.") == std::string::npos) return false;
  return true;
}

TEST(OverallMonitor, SensorFaultsAreSensorConditionsOnly) {
  auto m = Make(BaseConfig());
  double t = 0;
  OverallStep st = m->OnSample(9.0, Quality::kBad, At(t += 1));  // zone D if it were believed
  ASSERT_EQ(st.conditions.size(), 1u);
  EXPECT_EQ(st.conditions[0].update.cause, "fan1.de.sensor.bad_quality");
  EXPECT_TRUE(st.conditions[0].update.active);
  EXPECT_EQ(json::parse(st.conditions[0].evidence_json)["quality"], "bad");
  EXPECT_FALSE(st.values[static_cast<size_t>(OverallDerived::kZone)].has_value());
  EXPECT_EQ(st.values[static_cast<size_t>(OverallDerived::kSensorOk)], 0.0);
  EXPECT_TRUE(st.suppressed);

  st = m->OnSample(9.0, Quality::kUncertain, At(t += 1));
  EXPECT_TRUE(OnlySensorCauses(st));
  st = m->OnSample(std::nan(""), Quality::kGood, At(t += 1));
  ASSERT_TRUE(OnlySensorCauses(st));
  ASSERT_NE(Find(st, "fan1.de.sensor.not_finite"), nullptr);
  EXPECT_TRUE(Find(st, "fan1.de.sensor.not_finite")->update.active);
  EXPECT_FALSE(Find(st, "fan1.de.sensor.bad_quality")->update.active);  // that one cleared
  st = m->OnSample(-0.3, Quality::kGood, At(t += 1));
  ASSERT_TRUE(OnlySensorCauses(st));
  EXPECT_TRUE(Find(st, "fan1.de.sensor.negative")->update.active);
  EXPECT_EQ(Find(st, "fan1.de.sensor.negative")->update.value, -0.3);
  EXPECT_FALSE(Find(st, "fan1.de.sensor.not_finite")->update.active);

  // A good sample clears it and is judged.
  st = m->OnSample(5.0, Quality::kGood, At(t += 1));
  EXPECT_FALSE(Find(st, "fan1.de.sensor.negative")->update.active);
  EXPECT_TRUE(Find(st, "fan1.de.zone.D")->update.active);
  EXPECT_EQ(st.values[static_cast<size_t>(OverallDerived::kSensorOk)], 1.0);

  // No update for stale_after (30 s): stale, once; the zone alert keeps its state (no update).
  EXPECT_FALSE(m->Tick(At(t + 30)).has_value());
  std::optional<OverallStep> tick = m->Tick(At(t + 30.5));
  ASSERT_TRUE(tick.has_value());
  ASSERT_EQ(tick->conditions.size(), 1u);
  EXPECT_EQ(tick->conditions[0].update.cause, "fan1.de.sensor.stale");
  EXPECT_TRUE(tick->conditions[0].update.active);
  EXPECT_NEAR(json::parse(tick->conditions[0].evidence_json)["age_s"].get<double>(), 30.5, 1e-6);
  EXPECT_EQ(tick->values[static_cast<size_t>(OverallDerived::kSensorOk)], 0.0);
  EXPECT_FALSE(m->Tick(At(t + 60)).has_value());  // raised once
  st = m->OnSample(1.0, Quality::kGood, At(t + 61));
  EXPECT_FALSE(Find(st, "fan1.de.sensor.stale")->update.active);
  EXPECT_FALSE(Find(st, "fan1.de.zone.D")->update.active);

  // Never a sample: stale counted from the first tick.
  auto fresh_monitor = Make(BaseConfig());
  EXPECT_FALSE(fresh_monitor->Tick(At(0)).has_value());
  EXPECT_FALSE(fresh_monitor->Tick(At(29)).has_value());
  tick = fresh_monitor->Tick(At(31));
  ASSERT_TRUE(tick.has_value());
  EXPECT_TRUE(json::parse(tick->conditions[0].evidence_json)["last_update"].is_null());
}

TEST(OverallMonitor, LowSpeedAndMissingSpeedSuppressMachineConditions) {
  OverallMonitorConfig c = BaseConfig();
  c.speed_input = true;
  c.nominal_rpm = 1500;
  auto m = Make(c);
  // No speed yet: the sensor condition speed_missing, the zone published, nothing judged.
  OverallStep st = m->OnSample(9.0, Quality::kGood, At(1));
  EXPECT_TRUE(OnlySensorCauses(st));
  EXPECT_TRUE(Find(st, "fan1.de.sensor.speed_missing")->update.active);
  EXPECT_EQ(Zone(st), 3);
  m->OnSpeed(300, At(2));  // 0.2 x nominal: coast-down
  st = m->OnSample(9.1, Quality::kGood, At(2));
  EXPECT_TRUE(OnlySensorCauses(st));
  EXPECT_FALSE(Find(st, "fan1.de.sensor.speed_missing")->update.active);
  EXPECT_TRUE(st.suppressed);
  EXPECT_FALSE(st.learning);
  m->OnSpeed(1490, At(3));
  st = m->OnSample(9.2, Quality::kGood, At(3));
  EXPECT_TRUE(Find(st, "fan1.de.zone.D")->update.active);
  EXPECT_TRUE(st.learning);
  // The speed sample grows old (speed_timeout 10 s): missing again.
  st = m->OnSample(9.3, Quality::kGood, At(14));
  EXPECT_TRUE(Find(st, "fan1.de.sensor.speed_missing")->update.active);
  EXPECT_FALSE(st.learning);
  // A stopped machine (0 rpm) is a speed, not a missing one: suppressed, no sensor fault.
  m->OnSpeed(0, At(15));
  st = m->OnSample(0.4, Quality::kGood, At(15));
  EXPECT_TRUE(OnlySensorCauses(st));
  EXPECT_FALSE(Find(st, "fan1.de.sensor.speed_missing")->update.active);
  EXPECT_TRUE(st.suppressed);
}

TEST(OverallMonitor, BaselineSurvivesARestart) {
  OverallMonitorConfig c = BaseConfig();
  c.speed_input = true;
  c.nominal_rpm = 1500;
  c.regime_rpm_edges = {900, 1200, 1600};
  c.baseline_samples = 400;
  auto m = Make(c);
  Velocity slow(21, 1.5), fast(22, 2.5);
  double t = 0;
  for (int i = 0; i < 200; ++i) {
    m->OnSpeed(1000, At(t + 1));
    m->OnSample(slow(), Quality::kGood, At(t += 1));
    m->OnSpeed(1500, At(t + 1));
    m->OnSample(fast(), Quality::kGood, At(t += 1));
  }
  ASSERT_TRUE(m->has_baseline()) << m->StatusText();
  EXPECT_TRUE(m->TakeBaselineChanged());
  EXPECT_FALSE(m->TakeBaselineChanged());
  std::optional<std::string> saved = m->BaselineJson();
  ASSERT_TRUE(saved.has_value());

  auto r = Make(c);
  ASSERT_TRUE(r->RestoreBaseline(*saved).ok());
  EXPECT_TRUE(r->has_baseline());
  EXPECT_FALSE(r->TakeBaselineChanged());
  // Same scores in each regime; 2.5 mm/s is normal at 1500 rpm and far off at 1000 rpm.
  for (double rpm : {1000.0, 1500.0}) {
    m->OnSpeed(rpm, At(t + 1));
    r->OnSpeed(rpm, At(t + 1));
    OverallStep a = m->OnSample(2.5, Quality::kGood, At(t += 1));
    OverallStep b = r->OnSample(2.5, Quality::kGood, At(t));
    ASSERT_TRUE(a.scored && b.scored);
    const size_t k = static_cast<size_t>(OverallDerived::kAnomalyScore);
    EXPECT_DOUBLE_EQ(*a.values[k], *b.values[k]);
    if (rpm == 1000) EXPECT_GT(*a.values[k], 100.0);
    else EXPECT_LT(*a.values[k], *a.values[static_cast<size_t>(OverallDerived::kAnomalyThreshold)]);
  }
  // Another configuration refuses it with the reason.
  OverallMonitorConfig other = c;
  other.false_alarm_rate = 0.001;
  Status s = Make(other)->RestoreBaseline(*saved);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("false-alarm rate of 0.01"), std::string::npos) << s.message();
  other = c;
  other.regime_rpm_edges = {900, 1600};
  s = Make(other)->RestoreBaseline(*saved);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("other speed regimes"), std::string::npos) << s.message();
}

TEST(OverallMonitor, ConfigErrorsNameTheKey) {
  OverallMonitorConfig c = BaseConfig();
  c.min_spacing_s = -1;
  EXPECT_EQ(c.Validate().message(), "min_spacing: must be >= 0, got -1 s");
  c = BaseConfig();
  c.stale_after_s = 0;
  EXPECT_EQ(c.Validate().message(), "stale_after: must be above 0, got 0 s");
  c = BaseConfig();
  c.regime_rpm_edges = {900, 1200};
  EXPECT_EQ(c.Validate().message(), "regime_rpm_edges: speed regimes need a speed_tag");
  c = BaseConfig();
  c.speed_input = true;
  EXPECT_EQ(c.Validate().message().rfind("nominal_rpm: needed above 0", 0), 0u);
  c = BaseConfig();
  c.anomaly_samples = 0;
  EXPECT_EQ(c.Validate().message(), "anomaly_samples: must be >= 1, got 0");
}

}  // namespace
}  // namespace pf::apps
