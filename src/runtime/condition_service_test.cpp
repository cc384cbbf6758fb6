// ConditionService over a real store: blocks of the waveform tag become samples of the derived
// tags (the ids BuildPlantConfig declared), the learned baseline goes to the state table and a
// new service (a restart) restores it and scores at once.
#include <cmath>
#include <numbers>
#include <random>

#include <gtest/gtest.h>

#include "runtime/condition_service.h"
#include "runtime/config_loader.h"
#include "testing.h"

namespace pf {
namespace {

constexpr const char* kConfig = R"(
[[assets]]
id = "fan"
area = "utilities"
line = "air"
[[sources]]
name = "rig"
type = "replay"
file = "rig.csv"
format = "waveform"
sample_rate_hz = 12000
asset = "fan"
[[sources.tags]]
name = "fan.de_accel"
column = "de_accel_g"
[[sources.tags]]
name = "fan.speed"
column = "rpm"
[[condition.monitors]]
name = "fan_de"
tag = "fan.de_accel"
speed_tag = "fan.speed"
nominal_rpm = 1800
bearing = "6205"
block_s = 0.25
baseline_blocks = 40
false_alarm_rate = 0.05
)";

PlantConfig Config() {
  auto env = [](const std::string&, std::string*) { return false; };
  auto root = ParseConfigText(kConfig, "plant.toml", env);
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  auto pc = BuildPlantConfig(std::move(*root));
  EXPECT_TRUE(pc.ok()) << pc.status().ToString();
  return std::move(*pc);
}

Block Noise(TagId tag, double t0, unsigned seed) {
  Block b;
  b.tag = tag;
  b.start_time = Timestamp::FromSeconds(t0);
  b.sample_rate_hz = 12000;
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 0.05);
  b.values.resize(3000);
  for (auto& v : b.values) v = static_cast<float>(g(rng));
  return b;
}

TEST(ConditionService, DerivedSamplesBaselineInTheStateTableAndRestoredAfterARestart) {
  PlantConfig pc = Config();
  testing::TempDir dir;
  StoreOptions so;
  so.path = dir.path() + "/plant.db";
  so.fsync = false;
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto svc = ConditionService::Create(pc, **store);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  ASSERT_TRUE((*svc)->WatchesSpeed(1));
  Sample speed;
  speed.tag = 1;  // fan.speed
  speed.value = 1790.0;
  ConditionService::Output out;
  for (int i = 0; i < 40; ++i) {
    speed.source_time = Timestamp::FromSeconds(0.25 * i);
    (*svc)->OnSpeed(speed);
    (*svc)->OnBlock(Noise(0, 0.25 * i, static_cast<unsigned>(i)), out);
  }
  // Tags 2..8 are the derived ones, in Derived order; before the baseline no anomaly score.
  ASSERT_EQ(pc.tags[2].name, "fan.de_accel.velocity_rms");
  size_t velocity = 0, score = 0;
  for (const Sample& s : out.samples) {
    velocity += s.tag == 2;
    score += s.tag == 2 + static_cast<TagId>(apps::Derived::kAnomalyScore);
  }
  EXPECT_EQ(velocity, 40u);
  EXPECT_EQ(score, 0u);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, "baseline");
  auto state = (*svc)->TakeStateIfChanged();
  ASSERT_EQ(state.count("condition.baseline.fan_de"), 1u);
  EXPECT_TRUE((*svc)->TakeStateIfChanged().empty());
  CommitBatch batch;
  batch.state = state;
  ASSERT_TRUE((*store)->Commit(batch).ok());

  // A restart: the baseline comes from the store and the first window is scored.
  auto again = ConditionService::Create(pc, **store);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ConditionService::Output out2;
  speed.source_time = Timestamp::FromSeconds(100);
  (*again)->OnSpeed(speed);
  (*again)->OnBlock(Noise(0, 100, 99), out2);
  size_t scored = 0;
  for (const Sample& s : out2.samples) scored += s.tag == 2 + static_cast<TagId>(apps::Derived::kAnomalyScore);
  EXPECT_EQ(scored, 1u);
}

// An overall-value monitor on a numeric tag: its samples become derived samples with the ids the
// config declared, the zone C condition carries its evidence, staleness comes from Tick, and the
// baseline goes to the state table under condition.overall.<name> and comes back after a restart.
TEST(ConditionService, OverallMonitorSamplesTickAndBaselineInTheStateTable) {
  auto env = [](const std::string&, std::string*) { return false; };
  auto root = ParseConfigText(std::string(kConfig) + R"(
[[sources]]
name = "plc"
type = "modbus"
endpoint = "tcp://127.0.0.1:5020"
asset = "fan"
[[sources.tags]]
name = "fan.de_vel"
address = "hr:10"
type = "float32"
[[condition.overall]]
name = "fan_vel"
tag = "fan.de_vel"
baseline_samples = 120
stale_after = "10s"
)", "plant.toml", env);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  auto pc = BuildPlantConfig(std::move(*root));
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  // Tags: de_accel 0, speed 1, de_vel 2, the waveform monitor's 3..9, the overall monitor's 10..13.
  ASSERT_EQ(pc->tags[2].name, "fan.de_vel");
  ASSERT_EQ(pc->tags[10].name, "fan.de_vel.zone");
  ASSERT_EQ(pc->tags[13].name, "fan.de_vel.sensor_ok");
  testing::TempDir dir;
  StoreOptions so;
  so.path = dir.path() + "/plant.db";
  so.fsync = false;
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto svc = ConditionService::Create(*pc, **store);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  EXPECT_TRUE((*svc)->has_overall());

  std::mt19937 rng(4);
  std::normal_distribution<double> g(2.0, 0.1);
  ConditionService::Output out;
  Sample x;
  x.tag = 2;
  for (int i = 0; i < 120; ++i) {
    x.value = g(rng);
    x.source_time = Timestamp::FromSeconds(1000 + i);
    (*svc)->OnSample(x, out);
  }
  size_t zone = 0, ok = 0, score = 0;
  for (const Sample& s : out.samples) {
    zone += s.tag == 10 && std::get<double>(s.value) == 1.0;  // 2 mm/s: zone B (group 2 rigid)
    ok += s.tag == 13 && std::get<double>(s.value) == 1.0;
    score += s.tag == 11;
  }
  EXPECT_EQ(zone, 120u);
  EXPECT_EQ(ok, 120u);
  EXPECT_EQ(score, 0u);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].source, "condition:fan_vel");
  auto state = (*svc)->TakeStateIfChanged();
  ASSERT_EQ(state.count("condition.overall.fan_vel"), 1u);

  // 5 mm/s: zone D, both zone conditions with evidence.
  ConditionService::Output d;
  x.value = 5.0;
  x.source_time = Timestamp::FromSeconds(1200);
  (*svc)->OnSample(x, d);
  ASSERT_EQ(d.conditions.size(), 2u);  // the first exceedance of the baseline is not yet an anomaly
  EXPECT_EQ(d.conditions[0].update.cause, "fan_vel.zone.C");
  EXPECT_NE(d.conditions[0].evidence_json.find("\"value_mm_s\":5.0"), std::string::npos) << d.conditions[0].evidence_json;
  EXPECT_EQ(d.conditions[1].update.cause, "fan_vel.zone.D");

  // No sample for more than 10 s on the caller's clock: stale, once.
  ConditionService::Output t;
  (*svc)->Tick(Timestamp::FromSeconds(1210), t);
  EXPECT_TRUE(t.conditions.empty());
  (*svc)->Tick(Timestamp::FromSeconds(1210.5), t);
  ASSERT_EQ(t.conditions.size(), 1u);
  EXPECT_EQ(t.conditions[0].update.cause, "fan_vel.sensor.stale");
  ASSERT_EQ(t.samples.size(), 1u);
  EXPECT_EQ(t.samples[0].tag, 13u);
  EXPECT_EQ(std::get<double>(t.samples[0].value), 0.0);

  // A restart scores the first sample against the saved baseline.
  CommitBatch batch;
  batch.state = state;
  ASSERT_TRUE((*store)->Commit(batch).ok());
  auto again = ConditionService::Create(*pc, **store);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ConditionService::Output out2;
  x.value = 2.05;
  x.source_time = Timestamp::FromSeconds(2000);
  (*again)->OnSample(x, out2);
  size_t scored = 0;
  for (const Sample& s : out2.samples) scored += s.tag == 11;
  EXPECT_EQ(scored, 1u);
}

}  // namespace
}  // namespace pf
