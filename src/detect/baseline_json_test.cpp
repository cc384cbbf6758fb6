#include <gtest/gtest.h>

#include <random>

#include "detect/baseline.h"

namespace pf::detect {
namespace {

Baseline Learned() {
  BaselineConfig c;
  c.asset = "fan7";
  c.features = {"rms", "kurtosis", "temp"};
  c.regimes.variables = {{"speed", {0, 1000, 2000}}};
  c.regimes.transient = {0, 1500, 0.1, INFINITY};
  auto t = BaselineTrainer::Create(c);
  EXPECT_TRUE(t.ok());
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;
  for (int i = 0; i < 400; ++i) {
    std::vector<double> x = {2 + 0.1 * z(rng), 3 + 0.3 * z(rng), 40.0};
    x[1] += 0.5 * x[0];
    std::vector<double> r = {i < 10 ? 50.0 : (i % 2 ? 800.0 : 1600.0)};
    EXPECT_TRUE(t->Add(x, r, i).ok());
  }
  auto b = t->Fit();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

TEST(BaselineJson, RoundTripScoresBitForBit) {
  Baseline b = Learned();
  const std::string text = b.ToJson();
  auto back = Baseline::FromJson(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), text);
  EXPECT_EQ(back->config().regimes.transient.max_speed_rate, INFINITY);
  EXPECT_EQ(back->training_counts().Summary(), "390 steady, 10 low_speed");
  ASSERT_EQ(back->models().size(), 2u);
  EXPECT_EQ(back->model(1)->dropped[0].feature, "temp");
  EXPECT_EQ(back->model(1)->name, "speed[1000, 2000)");
  std::mt19937_64 rng(4);
  std::normal_distribution<double> z;
  for (int i = 0; i < 200; ++i) {
    std::vector<double> x = {2 + 0.2 * z(rng), 4 + 0.5 * z(rng), 40};
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(b.Score(x, r)->d2, back->Score(x, r)->d2);
      EXPECT_EQ(b.Score(x, r)->threshold, back->Score(x, r)->threshold);
    }
  }
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(BaselineJson, PreciseErrors) {
  const std::string good = Learned().ToJson();
  auto err = [](const std::string& text) { return Baseline::FromJson(text).status().message(); };
  EXPECT_EQ(Baseline::FromJson("{\"format\": ").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(err("{\"format\": ").rfind("baseline JSON: not valid JSON at byte 12", 0), 0u) << err("{\"format\": ");
  EXPECT_EQ(err("[]"), "baseline JSON: top level: expected an object");
  EXPECT_EQ(err(Replace(good, "\"version\": 1", "\"version\": 2")),
            "baseline JSON: version: version 2 is not supported (this build reads 1)");
  EXPECT_EQ(err(Replace(good, "\"threshold_method\": \"empirical\"", "\"threshold_method\": \"magic\"")),
            "baseline JSON: threshold_method: expected \"empirical\" or \"f_law\", got \"magic\"");
  EXPECT_EQ(err(Replace(good, "\"threshold\":", "\"limit\":")), "baseline JSON: models[0].threshold: missing");
  EXPECT_EQ(err(Replace(good, "\"kept\": [", "\"kept\": [7,")),
            "baseline JSON: models[0].kept[0]: expected a feature index in [0, 3), got 7");
  EXPECT_EQ(err(Replace(good, "\"false_alarm_rate\": 0.01", "\"false_alarm_rate\": 2")),
            "baseline JSON: baseline 'fan7': false alarm rate 2 is outside (0, 0.5)");
  EXPECT_EQ(err(Replace(good, "\"asset\": \"fan7\"", "\"asset\": 7")), "baseline JSON: asset: expected a string, got number");
}

TEST(BaselineJson, CovarianceShapeIsChecked) {
  std::string text = Learned().ToJson();
  // Drop the last number of models[0].cov[1] ("cov": [[a, b], [c, d]] -> [[a, b], [c]]).
  const size_t cov = text.find("\"cov\"");
  const size_t row1 = text.find("],", cov) + 2;
  const size_t comma = text.find(',', row1);
  const size_t end = text.find(']', comma);
  text.erase(comma, end - comma);
  EXPECT_EQ(Baseline::FromJson(text).status().message(), "baseline JSON: models[0].cov[1]: expected 2 numbers, got 1");
}

}  // namespace
}  // namespace pf::detect
