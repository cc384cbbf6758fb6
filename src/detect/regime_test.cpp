#include "detect/regime.h"

#include <gtest/gtest.h>

namespace pf::detect {
namespace {

RegimeConfig SpeedLoad() {
  RegimeConfig c;
  c.variables = {{"speed", {600, 900, 1200, 1500}}, {"load", {0, 0.5, 1}}};
  return c;
}

TEST(Regime, BinsAndNames) {
  RegimeConfig c = SpeedLoad();
  ASSERT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.RegimeCount(), 6u);
  RegimeClassifier k(c);
  std::vector<double> v = {1000, 0.7};
  RegimeVerdict r = k.Classify(v, 0);
  EXPECT_EQ(r.state, RegimeState::kSteady);
  EXPECT_EQ(r.regime, 3);  // speed bin 1, load bin 1: 1 * 2 + 1
  EXPECT_EQ(c.RegimeName(3), "speed[900, 1200) load[0.5, 1)");
  EXPECT_EQ(c.RegimeName(0), "speed[600, 900) load[0, 0.5)");
  v = {900, 0};  // left edges are inside
  EXPECT_EQ(k.Classify(v, 1).regime, 2);
  v = {1500, 0.2};  // the last edge is outside
  EXPECT_EQ(k.Classify(v, 2).state, RegimeState::kOutOfRange);
  v = {1000, std::nan("")};
  EXPECT_EQ(k.Classify(v, 3).state, RegimeState::kNotFinite);
  EXPECT_EQ(RegimeConfig{}.RegimeName(0), "all");
  EXPECT_EQ(RegimeConfig{}.RegimeCount(), 1u);
  EXPECT_EQ(RegimeClassifier(RegimeConfig{}).Classify({}, 0).regime, 0);
}

TEST(Regime, StartUpAndCoastDownAreExcluded) {
  RegimeConfig c = SpeedLoad();
  c.variables[0].edges.front() = 0;
  c.transient = {0, 1500, 0.3, 10};  // below 450 rpm, or faster than 10 rpm/s
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  RegimeClassifier k(c);
  auto at = [&](double speed, double t) { std::vector<double> v = {speed, 0.5}; return k.Classify(v, t).state; };
  EXPECT_EQ(at(400, 0), RegimeState::kLowSpeed);
  EXPECT_EQ(at(1000, 1), RegimeState::kFastChange);  // 600 rpm/s, run-up
  EXPECT_EQ(at(1005, 2), RegimeState::kSteady);      // 5 rpm/s
  EXPECT_EQ(at(1030, 3), RegimeState::kFastChange);  // 25 rpm/s
  EXPECT_EQ(at(1040, 4), RegimeState::kSteady);      // 10 rpm/s is allowed
  EXPECT_EQ(at(1040, 4), RegimeState::kTimeNotIncreasing);
  EXPECT_EQ(at(1240, 104), RegimeState::kSteady);    // 200 rpm in 100 s: 2 rpm/s
  k.Reset();
  EXPECT_EQ(at(1200, 50), RegimeState::kSteady);       // after Reset the rate is unknown
}

TEST(Regime, ValidationMessages) {
  RegimeConfig c = SpeedLoad();
  c.variables[1].edges = {0, 1, 1};
  EXPECT_EQ(c.Validate().message(), "regime variable 'load': edges must be strictly ascending, but edge 2 (1) <= edge 1 (1)");
  c = SpeedLoad();
  c.variables.push_back({"temp", {0, 1}});
  EXPECT_EQ(c.Validate().message(), "regimes: 3 variables, at most 2 are supported");
  c = SpeedLoad();
  c.transient.speed_variable = 2;
  EXPECT_EQ(c.Validate().message(), "transient rule: speed variable index 2 but 2 regime variables");
  c.transient = {0, 0, 0.2};
  EXPECT_EQ(c.Validate().message(), "transient rule: nominal speed must be > 0, got 0");
  c = SpeedLoad();
  c.variables[0].edges = {5};
  EXPECT_EQ(c.Validate().message(), "regime variable 'speed': 1 edges, at least 2 are needed");
}

TEST(Regime, CountsSummary) {
  RegimeCounts n;
  n.by_state[0] = 2400;
  n.by_state[static_cast<int>(RegimeState::kLowSpeed)] = 37;
  n.by_state[static_cast<int>(RegimeState::kFastChange)] = 5;
  EXPECT_EQ(n.excluded(), 42u);
  EXPECT_EQ(n.Summary(), "2400 steady, 37 low_speed, 5 fast_change");
}

}  // namespace
}  // namespace pf::detect
