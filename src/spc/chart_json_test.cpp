#include "spc/chart_json.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pf::spc {
namespace {

ChartResult CChart() {
  ChartData d;
  std::vector<double> c = {4, 5, 6, 5, 4, 5, 6, 5, 4, 30, 13, 9};
  for (size_t i = 0; i < c.size(); ++i) d.samples.push_back({"S" + std::to_string(i + 1), c[i], 1});
  ChartOptions o;
  o.type = ChartType::kC;
  o.rules = *ParseRuleSet("we1");
  o.phase1_first = 1;
  o.phase1_last = 11;
  o.exclude_ooc = true;
  return *BuildChart(d, o);
}

TEST(ChartJson, FollowsTheContract) {
  nlohmann::json j = ChartResultJson(CChart(), {"counts.csv", 12, 0});
  EXPECT_EQ(j["chart"], "c");
  EXPECT_EQ(j["input"], (nlohmann::json{{"file", "counts.csv"}, {"rows", 12}, {"missing", 0}}));
  EXPECT_EQ(j["phase1"], (nlohmann::json{{"first", 1}, {"last", 11}}));
  EXPECT_NEAR(j["parameters"]["cbar"].get<double>(), 44.0 / 9, 1e-12);
  ASSERT_EQ(j["charts"].size(), 1u);
  const auto& c = j["charts"][0];
  EXPECT_EQ(c["name"], "c");
  EXPECT_NEAR(c["center"].get<double>(), 44.0 / 9, 1e-12);
  EXPECT_NEAR(c["ucl"].get<double>(), 44.0 / 9 + 3 * std::sqrt(44.0 / 9), 1e-12);
  EXPECT_EQ(c["lcl"].get<double>(), 0);
  ASSERT_EQ(c["points"].size(), 12u);
  const auto& p = c["points"][9];
  EXPECT_EQ(p["index"], 10);
  EXPECT_EQ(p["label"], "S10");
  EXPECT_EQ(p["value"], 30.0);
  EXPECT_EQ(p["size"], 1.0);
  EXPECT_EQ(p["phase"], 1);
  EXPECT_EQ(p["excluded"], true);
  for (const char* key : {"center", "ucl", "lcl", "sigma"}) EXPECT_TRUE(p[key].is_number()) << key;
  EXPECT_EQ(c["points"][11]["phase"], 2);
  ASSERT_EQ(j["exclusions"].size(), 2u);
  EXPECT_EQ(j["exclusions"][1], (nlohmann::json{{"index", 11}, {"chart", "c"}, {"iteration", 2},
                                                {"reason", j["exclusions"][1]["reason"]}}));
  ASSERT_EQ(j["violations"].size(), 2u);  // 30 and 13 stay beyond the revised UCL 11.52
  EXPECT_EQ(j["violations"][0]["rule"], "we1");
  EXPECT_EQ(j["violations"][0]["chart"], "c");
  EXPECT_EQ(j["violations"][0]["points"], nlohmann::json::array({10}));
  EXPECT_EQ(j["violations"][0]["zone"], "beyond 3 sigma");
  EXPECT_TRUE(j["lag1_autocorrelation"].is_number());
  EXPECT_TRUE(j["warnings"].is_array());
  EXPECT_TRUE(j["capability"].is_null());
}

TEST(ChartJson, NullsForVaryingLimitsAndAbsentValues) {
  ChartData d;
  d.samples = {{"1", 2, 10}, {"2", 3, 20}};
  ChartOptions o;
  o.type = ChartType::kU;
  ChartResult r = *BuildChart(d, o);
  r.capability_json = R"({"cp": 1.2, "cpk": null})";
  nlohmann::json j = ChartResultJson(r, {"u.csv", 2, 0});
  EXPECT_TRUE(j["charts"][0]["ucl"].is_null());      // varies with the sizes
  EXPECT_TRUE(j["charts"][0]["center"].is_number());  // ū is common
  EXPECT_TRUE(j["lag1_autocorrelation"].is_null());   // 2 points
  EXPECT_EQ(j["capability"]["cp"], 1.2);
  r.capability_json = "{broken";
  EXPECT_TRUE(ChartResultJson(r, {}).at("capability").is_null());
  // Everything given: no Phase I.
  ChartOptions given;
  given.type = ChartType::kIMR;
  given.mean = 0;
  given.sigma = 1;
  ChartData v;
  v.subgroups = {{"1", {0.5}, 0}, {"2", {1.5}, 0}};
  EXPECT_TRUE(ChartResultJson(*BuildChart(v, given), {}).at("phase1").is_null());
}

}  // namespace
}  // namespace pf::spc
