// [[condition.monitors]] validation by BuildPlantConfig, and the derived tags it declares.
#include <gtest/gtest.h>

#include "runtime/config_loader.h"
#include "runtime/plant_config.h"

namespace pf {
namespace {

constexpr const char* kBase = R"(
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
)";  // the first extra line is line 18 (blank), its [[condition.monitors]] line 19

Result<PlantConfig> Build(const std::string& extra) {
  auto env = [](const std::string&, std::string*) { return false; };
  PF_ASSIGN_OR_RETURN(ConfigNode root, ParseConfigText(std::string(kBase) + extra, "plant.toml", env));
  return BuildPlantConfig(std::move(root));
}

TEST(ConditionConfig, DeclaresTheDerivedTagsSoRulesAndChartsCanWatchThem) {
  auto pc = Build(R"(
[[condition.monitors]]
tag = "fan.de_accel"
rpm = 1797
bearing = "6205"
machine_group = "1"
foundation = "flexible"
zone_cd = 12.5

[[alerts.rules]]
tag = "fan.de_accel.velocity_rms"
kind = "high"
limit = 7.1

[[spc.charts]]
tag = "fan.de_accel.kurtosis"
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  ASSERT_EQ(pc->condition_monitors.size(), 1u);
  const auto& m = pc->condition_monitors[0].monitor;
  EXPECT_EQ(m.name, "fan.de_accel");
  EXPECT_EQ(m.asset, "fan");
  EXPECT_EQ(*m.fixed_rpm, 1797);
  EXPECT_EQ(m.bearing.elements, 9);
  // ISO 10816-3 group 1 on a flexible foundation: A/B 3.5, B/C 7.1 mm/s; C/D overridden.
  EXPECT_DOUBLE_EQ(m.zones.ab, 3.5);
  EXPECT_DOUBLE_EQ(m.zones.bc, 7.1);
  EXPECT_DOUBLE_EQ(m.zones.cd, 12.5);
  ASSERT_EQ(pc->tags.size(), 1u + apps::kDerivedCount);
  EXPECT_EQ(pc->tags[1].name, "fan.de_accel.velocity_rms");
  EXPECT_EQ(pc->tags[1].unit, "mm/s");
  EXPECT_EQ(pc->tags[1].id, 1u);
  EXPECT_EQ(pc->tags[7].name, "fan.de_accel.sensor_ok");
  EXPECT_EQ(pc->alerts.engine.sources.count("condition:fan.de_accel"), 1u);
}

TEST(ConditionConfig, ErrorsNameFileLineAndKey) {
  auto r = Build(R"(
[[condition.monitors]]
tag = "fan.de_acel"
rpm = 1797
bearing = "6205"
)");
  EXPECT_EQ(r.status().message(),
            "plant.toml:20: condition.monitors[0].tag: unknown tag 'fan.de_acel'; a monitor watches tags declared under "
            "[[sources.tags]] or a template (did you mean 'fan.de_accel'?)");
  r = Build(R"(
[[condition.monitors]]
tag = "fan.de_accel"
bearing = "6205"
)");
  EXPECT_NE(r.status().message().find("give either speed_tag (a tag in rpm) or a fixed rpm"), std::string::npos)
      << r.status().message();
  r = Build(R"(
[[condition.monitors]]
tag = "fan.de_accel"
rpm = 1797
bearing = "6205"
block_s = -2
)");
  EXPECT_NE(r.status().message().find("block_s: must be above 0, got -2"), std::string::npos) << r.status().message();
  r = Build(R"(
[[condition.monitors]]
tag = "fan.de_accel"
rpm = 1797
bearing = "9999"
)");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("condition.monitors[0].bearing"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace pf
