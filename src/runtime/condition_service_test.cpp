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

}  // namespace
}  // namespace pf
