// [[condition.monitors]] and [[condition.overall]] validation by BuildPlantConfig, and the derived
// tags they declare.
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

// A Modbus PLC with a vibration transmitter's overall value, a speed, a string and a coil.
constexpr const char* kPlc = R"(
[[sources]]
name = "plc"
type = "modbus"
endpoint = "tcp://127.0.0.1:5020"
asset = "fan"
[[sources.tags]]
name = "fan.de_vel"
address = "hr:10"
type = "float32"
[[sources.tags]]
name = "fan.speed"
address = "hr:12"
type = "float32"
[[sources.tags]]
name = "fan.label"
address = "hr:20"
type = "string"
count = 4
[[sources.tags]]
name = "fan.running"
address = "co:0"
)";  // with kBase, the first line of an extra block is line 40 (blank), its [[condition.overall]] line 41

Result<PlantConfig> BuildOverall(const std::string& extra) { return Build(std::string(kPlc) + extra); }

TEST(ConditionConfig, OverallMonitorDeclaresItsDerivedTags) {
  auto pc = BuildOverall(R"(
[[condition.overall]]
name = "fan_de"
tag = "fan.de_vel"
speed_tag = "fan.speed"
nominal_rpm = 1480
regime_rpm_edges = [700, 1100, 1600]
machine_group = "1"
zone_cd = 8.0
baseline_samples = 300
min_spacing = "2s"
stale_after = "1m"
anomaly_samples = 4
anomaly_priority = "high"

[[alerts.rules]]
tag = "fan.de_vel.anomaly_score"
kind = "high"
limit = 50
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  ASSERT_EQ(pc->condition_overall.size(), 1u);
  const OverallMonitorEntry& e = pc->condition_overall[0];
  const apps::OverallMonitorConfig& m = e.monitor;
  EXPECT_EQ(m.name, "fan_de");
  EXPECT_EQ(m.asset, "fan");
  EXPECT_EQ(e.speed_tag, "fan.speed");
  EXPECT_TRUE(m.speed_input);
  EXPECT_EQ(m.nominal_rpm, 1480);
  EXPECT_EQ(m.regime_rpm_edges, (std::vector<double>{700, 1100, 1600}));
  // ISO 10816-3 group 1, rigid (the default foundation): A/B 2.3, B/C 4.5 mm/s; C/D overridden.
  EXPECT_DOUBLE_EQ(m.zones.ab, 2.3);
  EXPECT_DOUBLE_EQ(m.zones.bc, 4.5);
  EXPECT_DOUBLE_EQ(m.zones.cd, 8.0);
  EXPECT_EQ(m.machine_group, "1");
  EXPECT_EQ(m.foundation, "rigid");
  EXPECT_EQ(m.baseline_samples, 300);
  EXPECT_DOUBLE_EQ(m.min_spacing_s, 2.0);
  EXPECT_DOUBLE_EQ(m.stale_after_s, 60.0);
  EXPECT_EQ(m.anomaly_samples, 4);
  EXPECT_EQ(m.priorities.anomaly, alerts::Priority::kHigh);
  EXPECT_DOUBLE_EQ(m.false_alarm_rate, 0.01);
  // fan.de_accel, 4 PLC tags, then the derived ones in OverallDerived order.
  ASSERT_EQ(pc->tags.size(), 5u + apps::kOverallDerivedCount);
  EXPECT_EQ(pc->tags[5].name, "fan.de_vel.zone");
  EXPECT_EQ(pc->tags[6].name, "fan.de_vel.anomaly_score");
  EXPECT_EQ(pc->tags[7].name, "fan.de_vel.anomaly_threshold");
  EXPECT_EQ(pc->tags[8].name, "fan.de_vel.sensor_ok");
  EXPECT_EQ(pc->tags[8].id, 8u);
  EXPECT_EQ(pc->tags[8].asset_id, "fan");
  EXPECT_EQ(pc->tags[8].source, "plc");
  EXPECT_EQ(pc->alerts.engine.sources.count("condition:fan_de"), 1u);
  ASSERT_EQ(pc->alerts.rules.size(), 1u);

  // Defaults: name = tag, no speed, ISO group 2 rigid.
  pc = BuildOverall(R"(
[[condition.overall]]
tag = "fan.de_vel"
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  const apps::OverallMonitorConfig& d = pc->condition_overall[0].monitor;
  EXPECT_EQ(d.name, "fan.de_vel");
  EXPECT_FALSE(d.speed_input);
  EXPECT_DOUBLE_EQ(d.zones.ab, 1.4);
  EXPECT_DOUBLE_EQ(d.zones.bc, 2.8);
  EXPECT_DOUBLE_EQ(d.zones.cd, 4.5);
  EXPECT_EQ(d.baseline_samples, 500);
  EXPECT_EQ(d.anomaly_samples, 5);
  EXPECT_DOUBLE_EQ(d.min_spacing_s, 1.0);
  EXPECT_DOUBLE_EQ(d.stale_after_s, 30.0);
}

std::string OverallError(const std::string& body) {
  auto pc = BuildOverall("\n[[condition.overall]]\n" + body);
  EXPECT_FALSE(pc.ok()) << body;
  return pc.ok() ? "" : pc.status().message();
}

TEST(ConditionConfig, OverallMonitorErrorsNameFileLineAndKey) {
  // Line 41 is [[condition.overall]], the body starts on line 42.
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nstale_afer = \"10s\"\n"),
            "plant.toml:43: condition.overall[0].stale_afer: unknown key 'stale_afer' (did you mean 'stale_after'?); "
            "known keys: tag, name, asset, machine_group, foundation, zone_ab, zone_bc, zone_cd, speed_tag, nominal_rpm, "
            "min_speed_fraction, speed_timeout, regime_rpm_edges, baseline_samples, baseline_from, baseline_to, "
            "false_alarm_rate, threshold, anomaly_samples, min_spacing, stale_after, zone_c_priority, zone_d_priority, "
            "anomaly_priority, sensor_priority, suppress_in_states");
  EXPECT_EQ(OverallError("tag = \"fan.de_vl\"\n"),
            "plant.toml:42: condition.overall[0].tag: unknown tag 'fan.de_vl'; an overall monitor watches tags declared "
            "under [[sources.tags]] or a template (did you mean 'fan.de_vel'?)");
  EXPECT_EQ(OverallError("tag = \"fan.label\"\n"),
            "plant.toml:42: condition.overall[0].tag: tag 'fan.label' is a string tag (type = \"string\" at "
            "plant.toml:35); an overall monitor needs a numeric tag (velocity RMS in mm/s)");
  EXPECT_EQ(OverallError("tag = \"fan.running\"\n"),
            "plant.toml:42: condition.overall[0].tag: tag 'fan.running' is a bool tag (Modbus address 'co:0' reads a "
            "bit); an overall monitor needs a numeric tag (velocity RMS in mm/s)");
  EXPECT_EQ(OverallError("tag = \"fan.de_accel\"\n"),
            "plant.toml:42: condition.overall[0].tag: tag 'fan.de_accel' carries waveform blocks (source 'rig' replays "
            "format = \"waveform\"); an overall monitor needs a numeric tag (velocity RMS in mm/s)");
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nnominal_rpm = 1480\n"),
            "plant.toml:43: condition.overall[0].nominal_rpm: only used with speed_tag (a tag with the shaft speed in rpm)");
  EXPECT_NE(OverallError("tag = \"fan.de_vel\"\nspeed_tag = \"fan.speed\"\n")
                .find("condition.overall[0].nominal_rpm: missing: needed with speed_tag"),
            std::string::npos);
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nfalse_alarm_rate = 0.7\n"),
            "plant.toml:43: condition.overall[0].false_alarm_rate: must be in (0, 0.5), got 0.7");
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nzone_bc = 1.0\n"),
            "plant.toml:43: condition.overall[0].zone_bc: severity zones: boundaries A/B 1.4 B/C 1 C/D 4.5 mm/s must "
            "satisfy 0 < A/B < B/C < C/D");
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nspeed_tag = \"fan.speed\"\nnominal_rpm = 1480\n"
                         "regime_rpm_edges = [900, 800]\n"),
            "plant.toml:45: condition.overall[0].regime_rpm_edges: [1]: must be above the previous edge (800 <= 900)");
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nmin_spacing = \"soon\"\n").find("plant.toml:43: condition.overall[0]."
                                                                              "min_spacing: "),
            0u);
  EXPECT_EQ(OverallError("tag = \"fan.de_vel\"\nanomaly_samples = 0\n").find("plant.toml:43: condition.overall[0]."
                                                                                "anomaly_samples: "),
            0u);
  // One name per monitor, waveform and overall alike (both are alert source "condition:<name>").
  auto pc = BuildOverall(R"(
[[condition.monitors]]
name = "fan"
tag = "fan.de_accel"
rpm = 1797
bearing = "6205"
[[condition.overall]]
name = "fan"
tag = "fan.de_vel"
)");
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.status().message(),
            "plant.toml:46: condition.overall[0]: duplicate monitor name 'fan' (first defined at plant.toml:41); give "
            "each monitor a name");
}

}  // namespace
}  // namespace pf
