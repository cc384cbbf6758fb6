#include "spc/rules.h"

#include <gtest/gtest.h>

namespace pf::spc {
namespace {

// Points on a chart with center 0, sigma 1 and limits ±3.
std::vector<RulePoint> Z(const std::vector<double>& z) {
  std::vector<RulePoint> out;
  for (size_t i = 0; i < z.size(); ++i) out.push_back({static_cast<int>(i) + 1, z[i], 0, 3, -3, 1});
  return out;
}

std::vector<Violation> Judge(const std::string& rules, const std::vector<double>& z) {
  return EvaluateRules(Z(z), *ParseRuleSet(rules), "i");
}

std::vector<std::vector<int>> Points(const std::vector<Violation>& v) {
  std::vector<std::vector<int>> out;
  for (const auto& x : v) out.push_back(x.points);
  return out;
}

using Pts = std::vector<std::vector<int>>;

TEST(RuleSet, ParsesFamiliesAndLists) {
  EXPECT_EQ(ParseRuleSet("we")->ToString(), "we1,we2,we3,we4");
  EXPECT_EQ(ParseRuleSet("nelson")->rules.size(), 8u);
  EXPECT_EQ(ParseRuleSet("we1, nelson3,we1")->ToString(), "we1,nelson3");
  EXPECT_TRUE(ParseRuleSet("none")->empty());
  auto bad = ParseRuleSet("we1,we9");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "rules 'we1,we9': unknown rule 'we9' (expected we, nelson, none, we1-we4, nelson1-nelson8)");
  EXPECT_EQ(ParseRuleSet("nelson4,we2")->LimitRule(), std::nullopt);
  EXPECT_EQ(ParseRuleSet("nelson")->LimitRule(), Rule::kNelson1);
}

TEST(Rules, OneBeyondTheLimits) {
  auto v = Judge("we1", {0, 3.5, -3.1, 3.0, -3.0});  // on the limit is inside
  EXPECT_EQ(Points(v), (Pts{{2}, {3}}));
  EXPECT_EQ(v[0].rule, "we1");
  EXPECT_EQ(v[0].zone, "beyond 3 sigma");
  EXPECT_EQ(v[0].chart, "i");
  EXPECT_EQ(v[0].message, "point 2: 3.5 above UCL 3");
  EXPECT_EQ(v[1].message, "point 3: -3.1 below LCL -3");
  EXPECT_EQ(Points(Judge("nelson1", {4})), (Pts{{1}}));
}

TEST(Rules, TwoOfThreeBeyondTwoSigma) {
  // Fires at 3 (1 and 3 above 2 sigma); at 6 (5 and 6 below); at 8 (6 and 8 below, 7 above
  // between them); at 9 (7 and 9 above).
  auto v = Judge("we2", {2.5, 0, 2.1, 0, -2.2, -2.9, 2.2, -2.5, 2.4});
  EXPECT_EQ(Points(v), (Pts{{1, 3}, {5, 6}, {6, 8}, {7, 9}}));
  EXPECT_EQ(v[0].zone, "zone A");
  EXPECT_EQ(v[0].message, "2 of 3 points (1, 3) beyond 2 sigma above the center line");
  EXPECT_EQ(v[1].message, "2 of 3 points (5, 6) beyond 2 sigma below the center line");
  EXPECT_EQ(Points(Judge("nelson5", {2.5, 0, 2.1})), (Pts{{1, 3}}));
  EXPECT_TRUE(Judge("we2", {2.5, 0, 0, 2.1}).empty());  // 4 apart
  EXPECT_TRUE(Judge("we2", {2.0, 2.0, 2.0}).empty());   // on the 2 sigma line: not beyond
}

TEST(Rules, FourOfFiveBeyondOneSigma) {
  auto v = Judge("we3", {1.5, 1.5, 0, 1.5, 1.5, -1.2});
  EXPECT_EQ(Points(v), (Pts{{1, 2, 4, 5}}));
  EXPECT_EQ(v[0].zone, "zone B");
  EXPECT_EQ(v[0].message, "4 of 5 points (1, 2, 4, 5) beyond 1 sigma above the center line");
  EXPECT_TRUE(Judge("nelson6", {1.5, 1.5, 0, 1.5, -1.5}).empty());
}

TEST(Rules, RunsOnOneSide) {
  std::vector<double> ten(10, 0.5);
  auto v = Judge("we4", ten);  // 8 in a row: fires at 8, 9 and 10
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].points, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(v[2].points.front(), 3);
  EXPECT_EQ(v[0].zone, "same side");
  EXPECT_EQ(v[0].message, "8 points in a row (1-8) above the center line");
  auto n2 = Judge("nelson2", ten);  // 9 in a row
  ASSERT_EQ(n2.size(), 2u);
  EXPECT_EQ(n2[0].points.back(), 9);
  std::vector<double> broken = {-1, -1, -1, -1, 0, -1, -1, -1, -1};  // a point on the center line breaks the run
  EXPECT_TRUE(Judge("we4", broken).empty());
}

TEST(Rules, SixInARowTrend) {
  auto v = Judge("nelson3", {0, -2, -1.5, -1, 0, 0.2, 1, 0.9});
  EXPECT_EQ(Points(v), (Pts{{2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(v[0].zone, "trend");
  EXPECT_EQ(v[0].message, "6 points in a row (2-7) steadily increasing");
  auto down = Judge("nelson3", {2, 1.5, 1, 0.5, 0, -0.5});
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].message, "6 points in a row (1-6) steadily decreasing");
  EXPECT_TRUE(Judge("nelson3", {0, 1, 2, 2, 3, 4, 5}).empty());  // a tie breaks the trend
}

TEST(Rules, FourteenAlternating) {
  std::vector<double> z;
  for (int i = 0; i < 15; ++i) z.push_back(i % 2 ? 0.5 : -0.5);
  auto v = Judge("nelson4", z);
  EXPECT_EQ(Points(v).size(), 2u);  // at 14 and 15
  EXPECT_EQ(v[0].points.size(), 14u);
  EXPECT_EQ(v[0].zone, "alternating");
  z[7] = z[6];  // equal neighbours break it
  EXPECT_TRUE(Judge("nelson4", z).empty());
}

TEST(Rules, FifteenInZoneCAndEightOutsideIt) {
  std::vector<double> calm(15);
  for (int i = 0; i < 15; ++i) calm[i] = (i % 3 - 1) * 0.6;
  auto v = Judge("nelson7", calm);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].points.front(), 1);
  EXPECT_EQ(v[0].points.back(), 15);
  EXPECT_EQ(v[0].zone, "zone C");
  std::vector<double> wild = {1.5, -1.5, 2, -2, 1.2, -2.5, 1.1, -1.1};
  auto w = Judge("nelson8", wild);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].zone, "outside zone C");
  wild[3] = 1.0;  // on the 1 sigma line: inside zone C
  EXPECT_TRUE(Judge("nelson8", wild).empty());
}

TEST(Rules, StandardizedWithPerPointSigmaAndTruncatedLimits) {
  // A p chart with varying n: the same value is 2.5 sigma out on a small sample's chart and 1
  // sigma on a big one's. LCL truncated at 0: a 0 is not beyond it.
  std::vector<RulePoint> pts = {{1, 0.35, 0.1, 0.4, 0.0, 0.1}, {2, 0.36, 0.1, 0.4, 0.0, 0.1},
                                {3, 0.00, 0.1, 0.4, 0.0, 0.1}, {4, 0.36, 0.1, 0.4, 0.0, 0.26}};
  auto v = EvaluateRules(pts, *ParseRuleSet("we1,we2"), "p");
  EXPECT_EQ(Points(v), (Pts{{1, 2}}));  // 4 is at z = 1: not zone A
  EXPECT_EQ(v[0].rule, "we2");
}

TEST(Rules, StreamingMatchesBatch) {
  std::vector<double> z = {0.5, 1.2, 2.5, 2.2, -0.3, 0.4, 0.7, 1.1, 1.3, 0.2, 0.9, 3.3, -3.4, 0.1, 0.2, 0.3, 0.4, 0.5};
  auto batch = Judge("nelson", z);
  RuleMonitor m(*ParseRuleSet("nelson"), "i");
  std::vector<Violation> stream;
  for (const auto& p : Z(z)) m.Add(p, &stream);
  ASSERT_EQ(stream.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(stream[i].points, batch[i].points);
  EXPECT_FALSE(batch.empty());
}

TEST(Rules, ZoneRulesNeedASigma) {
  std::vector<RulePoint> pts;
  for (int i = 1; i <= 10; ++i) pts.push_back({i, 2.5, 0, 3, -3, 0});  // sigma unknown: only rule 1
  EXPECT_TRUE(EvaluateRules(pts, *ParseRuleSet("we"), "ewma").empty());
  pts.push_back({11, 4, 0, 3, -3, 0});
  auto v = EvaluateRules(pts, *ParseRuleSet("we"), "ewma", "beyond limits");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].zone, "beyond limits");
}

}  // namespace
}  // namespace pf::spc
