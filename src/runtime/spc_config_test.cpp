// [[spc.charts]] validation by BuildPlantConfig: every error names file:line:key and says what.
#include <gtest/gtest.h>

#include "runtime/config_loader.h"
#include "runtime/plant_config.h"

namespace pf {
namespace {

constexpr const char* kBase = R"(
[[assets]]
id = "press7"
area = "pressing"
line = "line1"

[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:5020"
asset = "press7"

[[sources.tags]]
name = "press7.bore"
address = "40001"
type = "uint16"
)";  // the first [[spc.charts]] line is line 17

Result<PlantConfig> Build(const std::string& extra) {
  auto env = [](const std::string&, std::string*) { return false; };
  PF_ASSIGN_OR_RETURN(ConfigNode root, ParseConfigText(std::string(kBase) + extra, "plant.toml", env));
  return BuildPlantConfig(std::move(root));
}

TEST(SpcConfig, DefaultsAndAFullChart) {
  auto pc = Build(R"(
[[spc.charts]]
tag = "press7.bore"

[[spc.charts]]
name = "bore_xbar"
tag = "press7.bore"
chart = "xbar_r"
subgroup_window = "1m"
rules = "we"
usl = 10.2
lsl = 9.8
center = 10.0
sigma = 0.05
key_by = "product"
priority = "medium"
suppress_in_states = ["stopped"]
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  ASSERT_EQ(pc->spc_charts.size(), 2u);
  const SpcChartConfig& a = pc->spc_charts[0];
  EXPECT_EQ(a.name, "press7.bore");
  EXPECT_EQ(a.asset, "press7");
  EXPECT_EQ(a.chart, "imr");
  EXPECT_EQ(a.subgroup_size, 1);
  EXPECT_EQ(a.rules.ToString(), "nelson1,nelson2,nelson3,nelson4,nelson5,nelson6,nelson7,nelson8");
  EXPECT_EQ(a.baseline, 100);
  EXPECT_TRUE(a.baseline_approve);
  EXPECT_FALSE(a.center);
  const SpcChartConfig& b = pc->spc_charts[1];
  EXPECT_EQ(b.chart, "xbar_r");
  EXPECT_EQ(b.subgroup_window, std::chrono::minutes(1));
  EXPECT_EQ(*b.center, 10.0);
  EXPECT_EQ(*b.sigma, 0.05);
  EXPECT_EQ(b.key_by, "product");
  EXPECT_EQ(b.priority, alerts::Priority::kMedium);
  EXPECT_EQ(pc->alerts.engine.For("spc:bore_xbar").priority, alerts::Priority::kMedium);
  EXPECT_EQ(pc->alerts.engine.For("spc:bore_xbar").suppress_in_states, (std::vector<std::string>{"stopped"}));
}

TEST(SpcConfig, EachErrorNamesFileLineAndKey) {
  struct Case {
    const char* toml;
    const char* message;
  };
  const Case cases[] = {
      {"[[spc.charts]]\ntag = \"press7.bor\"\n",
       "plant.toml:18: spc.charts[0].tag: unknown tag 'press7.bor'; a chart watches a tag declared under "
       "[[sources.tags]] or a template (did you mean 'press7.bore'?)"},
      {"[[spc.charts]]\ntag = \"press7.bore\"\nchart = \"xbar_r\"\nsubgroup_size = 1\n",
       "plant.toml:20: spc.charts[0].subgroup_size: an xbar_r chart needs subgroups of at least 2 values; use chart = "
       "\"imr\" for single values"},
      {"[[spc.charts]]\ntag = \"press7.bore\"\nsubgroup_window = \"1m\"\n",
       "plant.toml:19: spc.charts[0].subgroup_window: an imr chart plots single values; use chart = \"xbar_r\" or "
       "\"xbar_s\""},
      {"[[spc.charts]]\ntag = \"press7.bore\"\nrules = \"nelson9\"\n", nullptr},
      {"[[spc.charts]]\ntag = \"press7.bore\"\nusl = 1\nlsl = 2\n", "plant.toml:20: spc.charts[0].lsl: must be below usl (2 >= 1)"},
      {"[[spc.charts]]\ntag = \"press7.bore\"\ncenter = 1\n",
       "plant.toml:17: spc.charts[0].sigma: center and sigma are given together (approved limits)"},
      {"[[spc.charts]]\ntag = \"press7.bore\"\ncenter = 1\nsigma = 0\n", "plant.toml:20: spc.charts[0].sigma: must be above 0, got 0"},
      {"[[spc.charts]]\ntag = \"press7.bore\"\nchart = \"pchart\"\n", nullptr},
      {"[[spc.charts]]\ntag = \"press7.bore\"\n[[spc.charts]]\ntag = \"press7.bore\"\n", nullptr},
  };
  for (const Case& c : cases) {
    auto pc = Build(c.toml);
    ASSERT_FALSE(pc.ok()) << c.toml;
    if (c.message) EXPECT_EQ(pc.status().message(), c.message) << c.toml;
    else EXPECT_EQ(pc.status().message().rfind("plant.toml:", 0), 0u) << pc.status().message();
  }
  auto dup = Build("[[spc.charts]]\ntag = \"press7.bore\"\n[[spc.charts]]\ntag = \"press7.bore\"\n");
  EXPECT_NE(dup.status().message().find("duplicate chart name 'press7.bore' (first defined at plant.toml:17)"),
            std::string::npos)
      << dup.status().message();
  auto rules = Build("[[spc.charts]]\ntag = \"press7.bore\"\nrules = \"nelson9\"\n");
  EXPECT_NE(rules.status().message().find("plant.toml:19: spc.charts[0].rules: "), std::string::npos)
      << rules.status().message();
}

}  // namespace
}  // namespace pf
