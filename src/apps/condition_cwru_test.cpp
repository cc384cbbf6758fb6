// CWRU bearing data (../shared/data/cwru_bearing, SOURCE.md) through the condition monitor.
//
// Issue 7 acceptance, "Normal data": learn the baseline on the first 60 % of normal record 97
// (48 kHz, decimated to 12 kHz by dsp::Decimate) and raise no alert on the last 40 %.
// LIMITATION: record 97 is the only normal recording (0 hp, about 5 s). 60 % of it is 3 s. With
// the monitor's usual 1-s windows that is 3 independent windows however finely they overlap, and
// the monitor refuses to learn a 3-feature baseline from them (the refusal and its reason are
// tested below: an earlier version learned from 41 overlapping 1-s windows, whose threshold 13 of
// the 21 later windows then exceeded). With 0.1-s windows the 3 s are 30 independent windows:
// enough for the F-law threshold (Hotelling's prediction law, which widens the threshold for a
// small n) at a 1 % false-alarm rate, not for an empirical one (99 needed). "No alert on the last
// 2 s" shows that the monitor is quiet on data like its training data, not that its false-alarm
// rate over weeks is the configured one; that needs hours of normal data from the machine itself.
//
// Then an inner-race record at the same load (rec 105, IR 0.007 in, 0 hp): with 1-s windows the
// inner-race alert is raised with its evidence (BPFI line and shaft sidebands); the 0.1-s-window
// baseline from record 97 scores record 105 as an anomaly.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/condition_monitor.h"
#include "dsp/resample.h"
#include "testing.h"

namespace pf::apps {
namespace {

using nlohmann::json;

std::string DataDir() { return pf::testing::SharedDir() + "/data/cwru_bearing"; }

std::vector<float> ReadSamples(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // de_accel_g
  std::vector<float> x;
  while (std::getline(in, line)) x.push_back(std::strtof(line.c_str(), nullptr));
  return x;
}

constexpr double kFs = 12000;
constexpr size_t kChunk = 1200;  // 0.1 s source blocks, as a replay source would send them

// Diagnosis settings: 1-s windows every 0.05 s.
ConditionMonitorConfig Config(int baseline_blocks) {
  ConditionMonitorConfig c;
  c.name = "fan.de";
  c.asset = "fan";
  c.tag = "fan.de_accel";
  c.sample_rate_hz = kFs;
  c.block_s = 1.0;
  c.hop_s = 0.05;
  c.fixed_rpm = 1796;  // rpm in record 97
  c.bearing = *dsp::LookupBearing("6205");
  c.baseline_blocks = baseline_blocks;
  c.false_alarm_rate = 0.025;  // the empirical threshold needs (1 - a) / a = 39 windows
  c.anomaly_blocks = 3;
  // A CWRU record is 10 s: a kurtogram over 4 s and two agreeing diagnoses leave room for an alert.
  c.kurtogram_blocks = 4;
  c.diagnosis_blocks = 2;
  return c;
}

// Baseline settings: 0.1-s disjoint windows, F-law threshold at 1 %.
ConditionMonitorConfig ShortWindowConfig(int baseline_blocks) {
  ConditionMonitorConfig c = Config(baseline_blocks);
  c.block_s = 0.1;
  c.hop_s = 0.1;
  c.false_alarm_rate = 0.01;
  c.threshold = detect::ThresholdMethod::kFLaw;
  c.kurtogram_blocks = 40;
  c.ses_average_blocks = 20;
  c.diagnosis_blocks = 3;
  return c;
}

// Windows of `block` samples every `hop` that fit in n samples.
int Windows(size_t n, size_t block, size_t hop) { return n < block ? 0 : static_cast<int>((n - block) / hop + 1); }

std::vector<MonitorStep> Feed(ConditionMonitor& m, std::span<const float> x, Timestamp t0) {
  std::vector<MonitorStep> steps;
  for (size_t i = 0; i + kChunk <= x.size(); i += kChunk) {
    Timestamp t = t0 + Duration(static_cast<int64_t>(static_cast<double>(i) * 1e9 / kFs));
    Status s = m.OnBlock(x.subspan(i, kChunk), kFs, t, Quality::kGood, steps);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return steps;
}

struct Learned {
  std::unique_ptr<ConditionMonitor> monitor;
  std::vector<float> x12;
  size_t split = 0;
};

Learned LearnOn97(bool short_windows) {
  Learned l;
  const std::string path = DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv";
  pf::testing::RequireOrSkip(path, "CWRU normal record 97 not present");
  auto x48 = ReadSamples(path);
  auto x12 = dsp::Decimate(x48, 4);
  EXPECT_TRUE(x12.ok());
  l.x12 = std::move(*x12);
  // Whole source blocks only, so that the last 40 % starts on a block boundary.
  l.split = (l.x12.size() * 6 / 10) / kChunk * kChunk;
  const size_t block = short_windows ? 1200 : 12000, hop = short_windows ? 1200 : 600;
  const int windows = Windows(l.split, block, hop);
  auto made = ConditionMonitor::Create(short_windows ? ShortWindowConfig(windows) : Config(windows));
  if (!made.ok()) ADD_FAILURE() << made.status().ToString();
  if (!made.ok()) return l;
  l.monitor = std::move(made).value();
  auto steps = Feed(*l.monitor, std::span<const float>(l.x12).first(l.split), Timestamp::FromSeconds(0));
  EXPECT_EQ(static_cast<int>(steps.size()), windows);
  for (const auto& s : steps)
    for (const auto& e : s.events) std::printf("baseline event: %s\n", e.message.c_str());

  for (const auto& s : steps)
    for (const auto& c : s.conditions) ADD_FAILURE() << "alert while learning: " << c.update.cause << ": " << c.update.message;
  return l;
}

TEST(ConditionCwru, ThreeSecondsOfOneSecondWindowsAreRefusedAsABaseline) {
  Learned l = LearnOn97(false);
  ASSERT_TRUE(l.monitor);
  EXPECT_FALSE(l.monitor->has_baseline());
  const std::string status = l.monitor->StatusText();
  std::printf("%s\n", status.c_str());
  EXPECT_NE(status.find("41 overlapping samples are 3.0 independent ones"), std::string::npos) << status;
}

TEST(ConditionCwru, Record97LastFortyPercentRaisesNoAlert) {
  Learned l = LearnOn97(true);
  ASSERT_TRUE(l.monitor->has_baseline()) << l.monitor->StatusText();
  // The last 40 % as its own stretch (a gap in time: no window mixes training samples in).
  auto tail = std::span<const float>(l.x12).subspan(l.split);
  auto steps = Feed(*l.monitor, tail, Timestamp::FromSeconds(100));
  ASSERT_EQ(static_cast<int>(steps.size()), Windows(tail.size() / kChunk * kChunk, 1200, 1200));
  ASSERT_GE(steps.size(), 20u);
  int exceed = 0;
  double max_ratio = 0;
  for (const auto& s : steps) {
    EXPECT_FALSE(s.suppressed) << "window ending " << s.time.seconds() << " s, sensor_ok " << s.values[static_cast<size_t>(Derived::kSensorOk)].value_or(-1) << " " << s.note;
    for (const auto& c : s.conditions) ADD_FAILURE() << "alert on normal data: " << c.update.cause << ": " << c.update.message;
    if (!s.values[static_cast<size_t>(Derived::kAnomalyScore)].has_value()) continue;
    double d2 = *s.values[static_cast<size_t>(Derived::kAnomalyScore)];
    double th = *s.values[static_cast<size_t>(Derived::kAnomalyThreshold)];
    exceed += d2 > th;

    max_ratio = std::max(max_ratio, d2 / th);
    EXPECT_LE(*s.values[static_cast<size_t>(Derived::kZone)], 1);  // a healthy 0-hp fan end: zone A or B
  }
  std::printf("record 97, last 40 %%: %zu windows, %d over the threshold, max d2/threshold %.2f\n", steps.size(), exceed,
              max_ratio);
}

TEST(ConditionCwru, InnerRaceAfterTheBaselineRaisesABearingAlertWithEvidence) {
  Learned l = LearnOn97(true);
  ASSERT_TRUE(l.monitor->has_baseline());
  const std::string path = DataDir() + "/12k_DE/12k_DE_0hp_IR007_rec105.csv";
  pf::testing::RequireOrSkip(path, "CWRU record 105 not present");
  auto x = ReadSamples(path);
  // Record 105 is another run of the test rig, so it is fed to restarted monitors (as after a
  // restart of plantfloor). Their sensor health learns its noise-floor reference from the first
  // windows of this run: fed straight after record 97, the fault's broadband floor (12.5 dB over
  // record 97's) would be a raised noise floor, which the loose-mounting check attributes to the
  // machine only when the envelope diagnosis names a bearing location (dsp/sensor_health.h).
  //
  // Diagnosis: 1-s windows. Its own baseline would need more normal data than CWRU has, so this
  // monitor only diagnoses.
  auto diag = ConditionMonitor::Create(Config(100000));
  ASSERT_TRUE(diag.ok()) << diag.status().ToString();
  auto steps = Feed(**diag, x, Timestamp::FromSeconds(200));
  const ConditionChange* bearing = nullptr;
  bool wrong = false;
  for (const auto& s : steps)
    for (const auto& c : s.conditions) {
      if (c.update.cause == "fan.de.bearing.inner_race" && c.update.active && !bearing) bearing = &c;
      if (c.update.cause.find(".bearing.") != std::string::npos && c.update.cause != "fan.de.bearing.inner_race") wrong = true;
      if (c.update.cause.find(".sensor.") != std::string::npos) ADD_FAILURE() << "sensor fault on record 105: " << c.update.message;
    }
  EXPECT_FALSE(wrong);
  ASSERT_NE(bearing, nullptr);
  std::printf("%s\n%s\n", bearing->update.message.c_str(), bearing->evidence_json.c_str());
  json ev = json::parse(bearing->evidence_json);
  // BPFI of the 6205 (n = 9, d = 0.3126 in, D = 1.537 in, 0 deg) = 4.5 (1 + d/D) fr at 1796 rpm.
  const double bpfi = 4.5 * (1 + 0.3126 / 1.537) * 1796.0 / 60;
  const json& cand = ev["candidates"][0];
  EXPECT_EQ(cand["location"], "inner_race");
  EXPECT_NEAR(cand["fundamental_hz"].get<double>(), bpfi, 0.01 * bpfi);
  ASSERT_FALSE(cand["lines"].empty());
  EXPECT_NEAR(cand["lines"][0]["found_hz"].get<double>(), bpfi, 0.005 * bpfi + 1.0);
  EXPECT_GE(cand["lines"][0]["snr_db"].get<double>(), 9.5);
  EXPECT_GE(ev["margin_db"].get<double>(), 6.0);
  // The fault also moves the features off the 0.1-s-window baseline learned on record 97, restored
  // into a restarted monitor.
  auto saved = l.monitor->BaselineJson();
  ASSERT_TRUE(saved.has_value());
  auto restarted = ConditionMonitor::Create(l.monitor->config());
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  auto monitor = std::move(restarted).value();
  ASSERT_TRUE(monitor->RestoreBaseline(*saved).ok());
  auto scored = Feed(*monitor, x, Timestamp::FromSeconds(200));
  bool anomaly = false;
  int exceed = 0, windows = 0;
  for (const auto& s : scored) {
    for (const auto& c : s.conditions) {
      anomaly |= c.update.cause == "fan.de.anomaly" && c.update.active;
      if (c.update.cause.find(".sensor.") != std::string::npos) ADD_FAILURE() << "sensor fault on record 105: " << c.update.message;
      if (c.update.cause.find(".bearing.") != std::string::npos && c.update.cause != "fan.de.bearing.inner_race" &&
          c.update.cause != "fan.de.bearing.ambiguous")
        ADD_FAILURE() << "wrong location from 0.1-s windows: " << c.update.message;
    }
    if (const auto& d2 = s.values[static_cast<size_t>(Derived::kAnomalyScore)]) {
      ++windows;
      exceed += *d2 > *s.values[static_cast<size_t>(Derived::kAnomalyThreshold)];
    }
  }
  std::printf("record 105 against the record-97 baseline: %d of %d windows over the threshold\n", exceed, windows);
  EXPECT_TRUE(anomaly);
}

// One monitor that watches record 97 and then record 105 without a restart: its sensor health took
// record 97's noise floor for its reference, and record 105's floor stands 8.7-11.5 dB higher. The
// raised floor comes with impacts (kurtosis 5.1-5.6), so it is left to the diagnosis, which names
// the inner race, and no loose-mounting sensor fault is reported.
TEST(ConditionCwru, DevelopingFaultAfterANormalRunIsNotCalledLooseMounting) {
  const std::string p97 = DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv";
  const std::string p105 = DataDir() + "/12k_DE/12k_DE_0hp_IR007_rec105.csv";
  pf::testing::RequireOrSkip(p97, "CWRU normal record 97 not present");
  pf::testing::RequireOrSkip(p105, "CWRU record 105 not present");
  auto x97 = dsp::Decimate(ReadSamples(p97), 4);
  ASSERT_TRUE(x97.ok());
  std::vector<float> x = *x97;
  x.resize(x.size() / kChunk * kChunk);
  const auto x105 = ReadSamples(p105);
  x.insert(x.end(), x105.begin(), x105.end());
  auto made = ConditionMonitor::Create(Config(100000));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto steps = Feed(**made, x, Timestamp::FromSeconds(0));
  bool inner = false;
  for (const auto& s : steps)
    for (const auto& c : s.conditions) {
      if (c.update.cause.find(".sensor.") != std::string::npos) ADD_FAILURE() << "sensor fault: " << c.update.message;
      if (c.update.cause.find(".bearing.") != std::string::npos && c.update.cause != "fan.de.bearing.inner_race")
        ADD_FAILURE() << "wrong location: " << c.update.message;
      inner |= c.update.cause == "fan.de.bearing.inner_race" && c.update.active;
    }
  EXPECT_TRUE(inner);
}

}  // namespace
}  // namespace pf::apps
