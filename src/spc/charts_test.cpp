#include "spc/charts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace pf::spc {
namespace {

const double kPi = std::numbers::pi;
// Closed forms for n = 2 and 3 (constants_test.cpp checks the code against them).
const double kD2of2 = 2 / std::sqrt(kPi), kD3of2 = std::sqrt(2 - 4 / kPi);
const double kC4of2 = std::sqrt(2 / kPi), kC4of3 = std::sqrt(kPi) / 2;

ChartData Groups(const std::vector<std::vector<double>>& g) {
  ChartData d;
  for (size_t i = 0; i < g.size(); ++i) d.subgroups.push_back({std::to_string(i + 1), g[i], 0});
  return d;
}
ChartData Values(const std::vector<double>& v) {
  ChartData d;
  for (size_t i = 0; i < v.size(); ++i) d.subgroups.push_back({std::to_string(i + 1), {v[i]}, 0});
  return d;
}
ChartData Counts(const std::vector<double>& c, const std::vector<double>& n) {
  ChartData d;
  for (size_t i = 0; i < c.size(); ++i) d.samples.push_back({std::to_string(i + 1), c[i], n[i]});
  return d;
}
ChartOptions Opt(ChartType t, std::string rules = "we1") {
  ChartOptions o;
  o.type = t;
  o.rules = *ParseRuleSet(rules);
  return o;
}
ChartResult Build(const ChartData& d, const ChartOptions& o) {
  auto r = BuildChart(d, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ChartResult{};
}
std::string ErrorOf(const ChartData& d, const ChartOptions& o) {
  auto r = BuildChart(d, o);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}
std::vector<int> Flagged(const ChartResult& r, const std::string& chart) {
  std::vector<int> out;
  for (const auto& v : r.violations)
    if (v.chart == chart) out.insert(out.end(), v.points.begin(), v.points.end());
  return out;
}

TEST(XbarR, SubgroupsOfTwoAgainstClosedForms) {
  auto r = Build(Groups({{1, 3}, {2, 2.5}, {4, 5}, {3, 6}}), Opt(ChartType::kXbarR));
  ASSERT_EQ(r.charts.size(), 2u);
  double rbar = (2 + 0.5 + 1 + 3) / 4.0, mean = (2 + 2.25 + 4.5 + 4.5) / 4, sigma = rbar / kD2of2;
  const Chart& x = r.charts[0];
  EXPECT_EQ(x.name, "xbar");
  EXPECT_NEAR(*x.center, mean, 1e-12);
  EXPECT_NEAR(*x.ucl, mean + 3 * sigma / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(*x.lcl, mean - 3 * sigma / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(x.points[1].value, 2.25, 1e-12);
  EXPECT_EQ(x.points[1].size, 2.0);
  EXPECT_EQ(x.points[1].phase, 1);
  const Chart& rc = r.charts[1];
  EXPECT_EQ(rc.name, "r");
  EXPECT_NEAR(*rc.center, rbar, 1e-9);
  EXPECT_NEAR(*rc.ucl, rbar * (1 + 3 * std::sqrt(kPi / 2 - 1)), 1e-9);  // D4(2) R̄
  EXPECT_EQ(*rc.lcl, 0);                                                 // D3(2) = 0
  EXPECT_NEAR(r.parameters.at("sigma"), sigma, 1e-9);
  EXPECT_NEAR(r.parameters.at("rbar"), rbar, 1e-12);
  EXPECT_EQ(r.parameters.at("n"), 2);
  EXPECT_EQ(r.phase1_first, 1);
  EXPECT_EQ(r.phase1_last, 4);
}

TEST(XbarS, VariableSubgroupSizesGivePerPointLimits) {
  // Sizes 2, 3, 2, 3.
  std::vector<std::vector<double>> g = {{1, 2}, {2, 3, 4}, {1, 4}, {0, 1, 5}};
  auto r = Build(Groups(g), Opt(ChartType::kXbarS));
  auto sd = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x / v.size();
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / (v.size() - 1));
  };
  double sigma = (sd(g[0]) / kC4of2 + sd(g[1]) / kC4of3 + sd(g[2]) / kC4of2 + sd(g[3]) / kC4of3) / 4;
  double mean = (1 + 2 + 2 + 3 + 4 + 1 + 4 + 0 + 1 + 5) / 10.0;  // weighted by n: the mean of all values
  const Chart& x = r.charts[0];
  EXPECT_FALSE(x.ucl.has_value());  // varies with n
  EXPECT_NEAR(*x.center, mean, 1e-12);
  EXPECT_NEAR(x.points[0].ucl, mean + 3 * sigma / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(x.points[1].ucl, mean + 3 * sigma / std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(x.points[1].lcl, mean - 3 * sigma / std::sqrt(3.0), 1e-9);
  const Chart& s = r.charts[1];
  EXPECT_EQ(s.name, "s");
  EXPECT_NEAR(s.points[1].value, 1.0, 1e-12);
  EXPECT_NEAR(s.points[1].center, kC4of3 * sigma, 1e-9);
  EXPECT_NEAR(s.points[1].ucl, kC4of3 * sigma + 3 * sigma * std::sqrt(1 - kC4of3 * kC4of3), 1e-9);
  EXPECT_EQ(s.points[0].lcl, 0);  // B3 = 0 for small n
  EXPECT_EQ(r.parameters.count("n"), 0u);
  EXPECT_NEAR(r.parameters.at("sigma"), sigma, 1e-12);
}

TEST(Imr, MovingRangeSigma) {
  auto r = Build(Values({10, 12, 11, 15, 13}), Opt(ChartType::kIMR));
  double mrbar = (2 + 1 + 4 + 2) / 4.0, sigma = mrbar / kD2of2;
  EXPECT_NEAR(*r.charts[0].center, 12.2, 1e-12);
  EXPECT_NEAR(*r.charts[0].ucl, 12.2 + 3 * sigma, 1e-9);
  EXPECT_NEAR(*r.charts[0].lcl, 12.2 - 3 * sigma, 1e-9);
  const Chart& mr = r.charts[1];
  EXPECT_EQ(mr.name, "mr");
  ASSERT_EQ(mr.points.size(), 4u);
  EXPECT_EQ(mr.points[0].index, 2);
  EXPECT_EQ(mr.points[2].value, 4);
  EXPECT_NEAR(*mr.center, mrbar, 1e-12);
  EXPECT_NEAR(*mr.ucl, mrbar + 3 * kD3of2 * sigma, 1e-9);
  EXPECT_NEAR(r.parameters.at("mrbar"), mrbar, 1e-12);
}

TEST(Imr, DataThatOverflowDoublePrecisionAreRefusedAsBadInput) {
  // Found by fuzz_spc_csv: finite values whose moving ranges overflow to infinity.
  auto r = BuildChart(Values({1e308, -1e308, 1e308}), Opt(ChartType::kIMR));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("overflow double precision"), std::string::npos) << r.status().message();
}

TEST(Attributes, PChartWithVariableSizes) {
  auto r = Build(Counts({5, 8, 2}, {50, 100, 40}), Opt(ChartType::kP));
  double pbar = 15.0 / 190;
  const Chart& c = r.charts[0];
  EXPECT_EQ(c.name, "p");
  EXPECT_NEAR(*c.center, pbar, 1e-15);
  EXPECT_FALSE(c.ucl.has_value());
  for (size_t i = 0; i < 3; ++i) {
    double n = std::vector<double>{50, 100, 40}[i];
    double s = std::sqrt(pbar * (1 - pbar) / n);
    EXPECT_NEAR(c.points[i].ucl, pbar + 3 * s, 1e-12);
    EXPECT_EQ(c.points[i].lcl, std::max(0.0, pbar - 3 * s));
    EXPECT_EQ(c.points[i].size, n);
  }
  EXPECT_EQ(c.points[2].lcl, 0);  // truncated
  EXPECT_NEAR(c.points[1].value, 0.08, 1e-15);
}

TEST(Attributes, NpCAndU) {
  auto np = Build(Counts({3, 5, 4, 0}, {50, 50, 50, 50}), Opt(ChartType::kNP));
  double pbar = 12.0 / 200;
  EXPECT_NEAR(*np.charts[0].center, 50 * pbar, 1e-12);
  EXPECT_NEAR(*np.charts[0].ucl, 50 * pbar + 3 * std::sqrt(50 * pbar * (1 - pbar)), 1e-12);
  EXPECT_EQ(*np.charts[0].lcl, 0);
  auto c = Build(Counts({9, 16, 11}, {1, 1, 1}), Opt(ChartType::kC));
  EXPECT_NEAR(*c.charts[0].center, 12, 1e-12);
  EXPECT_NEAR(*c.charts[0].ucl, 12 + 3 * std::sqrt(12.0), 1e-12);
  EXPECT_NEAR(*c.charts[0].lcl, 12 - 3 * std::sqrt(12.0), 1e-12);
  auto u = Build(Counts({14, 12, 20}, {10, 8, 13}), Opt(ChartType::kU));
  double ubar = 46.0 / 31;
  EXPECT_NEAR(u.charts[0].points[1].value, 1.5, 1e-15);
  EXPECT_NEAR(u.charts[0].points[1].ucl, ubar + 3 * std::sqrt(ubar / 8), 1e-12);
  EXPECT_NEAR(u.charts[0].points[2].ucl, ubar + 3 * std::sqrt(ubar / 13), 1e-12);
}

TEST(Ewma, TimeVaryingAndAsymptoticLimitsWithKnownParameters) {
  ChartOptions o = Opt(ChartType::kEWMA);
  o.mean = 10;
  o.sigma = 1;
  auto r = Build(Values({10, 11, 9, 12}), o);
  const Chart& c = r.charts[0];
  EXPECT_EQ(c.name, "ewma");
  EXPECT_NEAR(c.points[0].value, 10, 1e-12);
  EXPECT_NEAR(c.points[1].value, 10.2, 1e-12);
  EXPECT_NEAR(c.points[2].value, 9.96, 1e-12);
  EXPECT_NEAR(c.points[3].value, 10.368, 1e-12);
  // σ_z,i = σ √(λ/(2-λ) (1 - (1-λ)^2i)): i = 1: √(0.2/1.8 · 0.36) = 0.2.
  EXPECT_NEAR(c.points[0].ucl, 10.6, 1e-12);
  EXPECT_NEAR(c.points[1].ucl, 10 + 3 * std::sqrt(0.2 / 1.8 * (1 - std::pow(0.8, 4))), 1e-12);
  EXPECT_NEAR(c.points[1].lcl, 10 - 3 * std::sqrt(0.2 / 1.8 * (1 - std::pow(0.8, 4))), 1e-12);
  EXPECT_NEAR(r.parameters.at("asymptotic_ucl"), 11, 1e-12);  // 10 + 3 √(1/9)
  EXPECT_NEAR(r.parameters.at("asymptotic_lcl"), 9, 1e-12);
  EXPECT_EQ(r.phase1_first, 0);  // everything given: all Phase II
  EXPECT_EQ(c.points[0].phase, 2);
  o.asymptotic = true;
  auto a = Build(Values({10, 11, 9, 12}), o);
  EXPECT_NEAR(*a.charts[0].ucl, 11, 1e-12);
}

TEST(Ewma, EstimatesFromPhaseOne) {
  ChartOptions o = Opt(ChartType::kEWMA);
  o.phase1_first = 1;
  o.phase1_last = 4;
  auto r = Build(Values({10, 12, 11, 13, 20, 20}), o);
  double mean = 11.5, sigma = (2 + 1 + 2) / 3.0 / kD2of2;  // MR̄/1.128 over Phase I only
  EXPECT_NEAR(r.parameters.at("mean"), mean, 1e-12);
  EXPECT_NEAR(r.parameters.at("sigma"), sigma, 1e-12);
  EXPECT_NEAR(r.parameters.at("asymptotic_ucl"), mean + 3 * sigma / 3, 1e-12);
  EXPECT_EQ(r.charts[0].points[4].phase, 2);
}

// Montgomery, Introduction to SQC, Example 9.1 (Table 9.1): μ0 = 10, σ = 1, k = 0.5, h = 5;
// the first 20 from N(10, 1), the last 10 from N(11, 1). The tabular CUSUM signals at period 29
// with C+ = 5.28 (Table 9.2).
TEST(Cusum, MontgomeryExample) {
  std::vector<double> x = {9.45,  7.99,  9.29,  11.66, 12.16, 10.18, 8.04,  11.46, 9.20,  10.34,
                           9.03,  11.47, 10.51, 9.40,  10.08, 9.37,  10.62, 10.31, 8.52,  10.84,
                           10.90, 9.33,  12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52};
  ChartOptions o = Opt(ChartType::kCUSUM);
  o.mean = 10;
  o.sigma = 1;
  auto r = Build(Values(x), o);
  ASSERT_EQ(r.charts.size(), 2u);
  const Chart& up = r.charts[0];
  const Chart& down = r.charts[1];
  EXPECT_EQ(up.name, "cusum_upper");
  EXPECT_EQ(down.name, "cusum_lower");
  EXPECT_EQ(*up.ucl, 5);
  EXPECT_FALSE(up.lcl.has_value());
  EXPECT_EQ(up.points[0].lcl, 0);
  EXPECT_NEAR(up.points[0].value, 0, 1e-12);
  EXPECT_NEAR(down.points[0].value, 0.05, 1e-12);   // 9.5 - 9.45
  EXPECT_NEAR(down.points[1].value, 1.56, 1e-12);   // 0.05 + 9.5 - 7.99
  EXPECT_NEAR(up.points[28].value, 5.28, 1e-9);
  EXPECT_NEAR(up.points[27].value, 4.47, 1e-9);
  EXPECT_EQ(Flagged(r, "cusum_upper"), (std::vector<int>{29, 30}));
  EXPECT_TRUE(Flagged(r, "cusum_lower").empty());
}

TEST(Cusum, FastInitialResponseStartsAtHalfH) {
  ChartOptions o = Opt(ChartType::kCUSUM);
  o.mean = 0;
  o.sigma = 2;
  o.fir = true;
  auto r = Build(Values({1.0, 0.0}), o);
  // H = 10, K = 1: C+_1 = max(0, 1 - 1 + 5) = 5; C-_1 = max(0, -1 - 1 + 5) = 3.
  EXPECT_NEAR(r.charts[0].points[0].value, 5, 1e-12);
  EXPECT_NEAR(r.charts[1].points[0].value, 3, 1e-12);
  EXPECT_NEAR(r.charts[0].points[1].value, 4, 1e-12);
  EXPECT_EQ(r.parameters.at("H"), 10);
  EXPECT_EQ(r.parameters.at("fir"), 1);
}

// T² with p = 2 has closed-form limits: Beta(1, b) and F(2, d) quantiles invert exactly.
TEST(T2, IndividualsPhaseOneBetaAndPhaseTwoF) {
  std::vector<std::vector<double>> rows = {{1, 2}, {2, 2.5}, {3, 5}, {2, 3}, {4, 6}, {3, 3}, {5, 7}, {2, 4}, {6, 3}};
  ChartData d;
  for (size_t i = 0; i < rows.size(); ++i) d.vectors.push_back({std::to_string(i + 1), {rows[i]}});
  ChartOptions o = Opt(ChartType::kT2);
  o.phase1_first = 1;
  o.phase1_last = 8;
  auto r = Build(d, o);
  int m = 8;
  double mx = 0, my = 0;
  for (int i = 0; i < m; ++i) mx += rows[i][0] / m, my += rows[i][1] / m;
  double sxx = 0, syy = 0, sxy = 0;
  for (int i = 0; i < m; ++i) {
    sxx += (rows[i][0] - mx) * (rows[i][0] - mx) / (m - 1);
    syy += (rows[i][1] - my) * (rows[i][1] - my) / (m - 1);
    sxy += (rows[i][0] - mx) * (rows[i][1] - my) / (m - 1);
  }
  double det = sxx * syy - sxy * sxy;
  auto t2 = [&](const std::vector<double>& v) {
    double a = v[0] - mx, b = v[1] - my;
    return (syy * a * a - 2 * sxy * a * b + sxx * b * b) / det;
  };
  const Chart& c = r.charts[0];
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_NEAR(c.points[i].value, t2(rows[i]), 1e-9) << i;
  double alpha = 0.0027, b = (m - 3) / 2.0;
  double ucl1 = (m - 1.0) * (m - 1) / m * (1 - std::pow(alpha, 1 / b));  // Beta(1, b): x = 1 - α^(1/b)
  double f = (m - 2) / 2.0 * (std::pow(alpha, -2.0 / (m - 2)) - 1);    // F(2, m-2)
  double ucl2 = 2.0 * (m + 1) * (m - 1) / (m * m - 2.0 * m) * f;
  EXPECT_NEAR(c.points[0].ucl, ucl1, 1e-9);
  EXPECT_NEAR(c.points[8].ucl, ucl2, 1e-9);
  EXPECT_NEAR(c.points[0].center, (m - 1.0) * (m - 1) / m * (1 - std::pow(0.5, 1 / b)), 1e-9);  // median
  EXPECT_EQ(c.points[0].lcl, 0);
  EXPECT_FALSE(c.ucl.has_value());  // Phase I and II differ
  EXPECT_EQ(c.points[8].phase, 2);
}

TEST(T2, SubgroupsPooledCovarianceAndF) {
  // 4 subgroups of 3 observations of 2 variables.
  std::vector<std::vector<std::vector<double>>> g = {{{1, 2}, {2, 1}, {3, 3}},
                                                     {{2, 2}, {4, 3}, {3, 5}},
                                                     {{1, 1}, {2, 3}, {0, 2}},
                                                     {{5, 4}, {3, 3}, {4, 6}}};
  ChartData d;
  for (size_t i = 0; i < g.size(); ++i) d.vectors.push_back({std::to_string(i + 1), g[i]});
  auto r = Build(d, Opt(ChartType::kT2));
  int m = 4, n = 3;
  double gx = 0, gy = 0, sxx = 0, syy = 0, sxy = 0;
  std::vector<double> mx(m), my(m);
  for (int i = 0; i < m; ++i) {
    for (auto& o : g[i]) mx[i] += o[0] / n, my[i] += o[1] / n;
    gx += mx[i] / m, gy += my[i] / m;
    for (auto& o : g[i]) {
      sxx += (o[0] - mx[i]) * (o[0] - mx[i]) / (n - 1) / m;
      syy += (o[1] - my[i]) * (o[1] - my[i]) / (n - 1) / m;
      sxy += (o[0] - mx[i]) * (o[1] - my[i]) / (n - 1) / m;
    }
  }
  double det = sxx * syy - sxy * sxy;
  for (int i = 0; i < m; ++i) {
    double a = mx[i] - gx, b = my[i] - gy;
    EXPECT_NEAR(r.charts[0].points[i].value, n * (syy * a * a - 2 * sxy * a * b + sxx * b * b) / det, 1e-9);
  }
  double df2 = m * n - m - 1;  // mn - m - p + 1 with p = 2
  double f = df2 / 2 * (std::pow(0.0027, -2 / df2) - 1);
  EXPECT_NEAR(*r.charts[0].ucl, 2.0 * (m - 1) * (n - 1) / df2 * f, 1e-9);
}

TEST(T2, QuantilesAgainstClosedForms) {
  // Beta(a, 1): x^a = q. Beta(1, b): 1 - (1-x)^b = q. F(2, d) as above; F(1, ∞)-like checks via Beta(0.5, 0.5):
  // the arcsine law, x = sin²(πq/2).
  EXPECT_NEAR(BetaQuantileT2(0.3, 2.5, 1), std::pow(0.3, 1 / 2.5), 1e-13);
  EXPECT_NEAR(BetaQuantileT2(0.9973, 1, 4), 1 - std::pow(0.0027, 0.25), 1e-13);
  EXPECT_NEAR(BetaQuantileT2(0.2, 0.5, 0.5), std::pow(std::sin(kPi * 0.2 / 2), 2), 1e-13);
  EXPECT_NEAR(FQuantileT2(0.95, 2, 10), 5 * (std::pow(0.05, -0.2) - 1), 1e-11);
}

TEST(PhaseOne, IterativeExclusionUntilNoneBeyond) {
  // c chart. Pass 1: c̄ = 87/11, UCL 16.35: 30 out. Pass 2: c̄ = 5.7, UCL 12.86: 13 out.
  // Pass 3: c̄ = 44/9, UCL 11.52: none.
  std::vector<double> c = {4, 5, 6, 5, 4, 5, 6, 5, 4, 30, 13, 9};
  ChartOptions o = Opt(ChartType::kC);
  o.phase1_first = 1;
  o.phase1_last = 11;
  o.exclude_ooc = true;
  auto r = Build(Counts(c, std::vector<double>(12, 1)), o);
  ASSERT_EQ(r.exclusions.size(), 2u);
  EXPECT_EQ(r.exclusions[0].index, 10);
  EXPECT_EQ(r.exclusions[0].iteration, 1);
  EXPECT_EQ(r.exclusions[0].chart, "c");
  EXPECT_EQ(r.exclusions[0].reason, fmt::format("beyond UCL {:.6g} (value 30)", 87.0 / 11 + 3 * std::sqrt(87.0 / 11)));
  EXPECT_EQ(r.exclusions[1].index, 11);
  EXPECT_EQ(r.exclusions[1].iteration, 2);
  EXPECT_NEAR(*r.charts[0].center, 44.0 / 9, 1e-12);
  EXPECT_TRUE(r.charts[0].points[9].excluded);
  EXPECT_FALSE(r.charts[0].points[8].excluded);
  EXPECT_FALSE(r.charts[0].points[11].excluded);  // Phase II: never excluded
  EXPECT_EQ(r.charts[0].points[11].phase, 2);
  EXPECT_EQ(r.parameters.at("m"), 9);
  // One pass only.
  o.max_exclusion_passes = 1;
  auto one = Build(Counts(c, std::vector<double>(12, 1)), o);
  ASSERT_EQ(one.exclusions.size(), 1u);
  EXPECT_NEAR(*one.charts[0].center, 5.7, 1e-12);
}

TEST(PhaseOne, GivenExclusionsAndPhaseTwo) {
  ChartOptions o = Opt(ChartType::kIMR);
  o.phase1_first = 1;
  o.phase1_last = 5;
  o.exclude = {3};
  auto r = Build(Values({10, 11, 50, 12, 11, 13, 40}), o);
  // Points 1, 2, 4, 5 in use: mean 11; moving ranges of neighbours both in use: |11-10|, |11-12| = 1, 1.
  EXPECT_NEAR(*r.charts[0].center, 11, 1e-12);
  EXPECT_NEAR(r.parameters.at("mrbar"), 1, 1e-12);
  ASSERT_EQ(r.exclusions.size(), 1u);
  EXPECT_EQ(r.exclusions[0].iteration, 0);
  EXPECT_EQ(r.exclusions[0].chart, "i");
  EXPECT_TRUE(r.charts[0].points[2].excluded);
  EXPECT_EQ(r.charts[0].points[6].phase, 2);
  EXPECT_EQ(Flagged(r, "i"), (std::vector<int>{3, 7}));
  o.exclude = {6};
  EXPECT_EQ(ErrorOf(Values({10, 11, 50, 12, 11, 13, 40}), o),
            "excluded point 6 is not in Phase I (1:5): only Phase I points estimate the limits");
  o.exclude = {1, 2, 3, 4, 5};
  EXPECT_EQ(ErrorOf(Values({10, 11, 50, 12, 11, 13, 40}), o), "Phase I (1:5) has no point left after the exclusions");
  o.exclude = {};
  o.phase1_last = 9;
  EXPECT_EQ(ErrorOf(Values({10, 11, 50, 12, 11, 13, 40}), o), "Phase I points 1:9 are outside 1:7 (or reversed)");
}

TEST(Rules, FullSetOnTheMainChartLimitRuleElsewhere) {
  // 9 values above the mean then one far below: we4 fires on I; the MR chart gets we1 only.
  ChartOptions o = Opt(ChartType::kIMR, "we");
  o.mean = 0;
  o.sigma = 1;
  auto r = Build(Values({0.5, 0.6, 0.4, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, -3.5}), o);
  std::vector<std::string> rules;
  for (const auto& v : r.violations) rules.push_back(v.rule + ":" + v.chart);
  EXPECT_EQ(rules, (std::vector<std::string>{"we4:i", "we4:i", "we1:i", "we1:mr"}));
  // EWMA: the limit rule only, with a warning.
  ChartOptions e = Opt(ChartType::kEWMA, "nelson");
  e.mean = 0;
  e.sigma = 1;
  auto w = Build(Values({0.5, 0.6, 0.4, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, 5.0}), e);
  ASSERT_EQ(w.violations.size(), 1u);
  EXPECT_EQ(w.violations[0].rule, "nelson1");
  EXPECT_EQ(w.violations[0].zone, "beyond limits");
  EXPECT_EQ(w.violations[0].points, (std::vector<int>{10}));
  EXPECT_EQ(w.warnings.back(),
            "ewma charts are judged by the limit rule only (nelson1); run rules "
            "nelson2,nelson3,nelson4,nelson5,nelson6,nelson7,nelson8 skipped");
}

TEST(Autocorrelation, Lag1AndTheShewhartGate) {
  EXPECT_NEAR(*Lag1({1, 2, 3, 4, 5}), 0.4, 1e-15);  // Σ(x_t-3)(x_t+1-3) = 4, Σ(x_t-3)² = 10
  EXPECT_FALSE(Lag1({1, 2}).has_value());
  EXPECT_FALSE(Lag1({2, 2, 2}).has_value());
  std::vector<double> wave;
  for (int t = 0; t < 60; ++t) wave.push_back(std::sin(t / 5.0));
  ChartOptions o = Opt(ChartType::kIMR);
  auto refused = BuildChart(Values(wave), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  double r1 = *Lag1(wave);
  EXPECT_GT(r1, 0.9);
  EXPECT_EQ(refused.status().message(),
            fmt::format("Phase I lag-1 autocorrelation is {:.3f} (above 0.5): Shewhart limits assume independent points "
                        "and would alarm all day on this series; chart AR(1) residuals with an EWMA (--chart ewma "
                        "--ar1-residuals), subgroup by time (--subgroup-size N), or override with "
                        "--allow-autocorrelation",
                        r1));
  o.allow_autocorrelation = true;
  auto kept = Build(Values(wave), o);
  EXPECT_NEAR(*kept.lag1_autocorrelation, r1, 1e-15);
  EXPECT_EQ(kept.warnings[0], fmt::format("Phase I lag-1 autocorrelation {:.3f} is above 0.5: limits kept by override", r1));
  auto ewma = Build(Values(wave), Opt(ChartType::kEWMA));  // EWMA is not refused
  EXPECT_NEAR(*ewma.lag1_autocorrelation, r1, 1e-15);
}

TEST(BadInput, PreciseErrors) {
  EXPECT_EQ(ErrorOf(ChartData{}, Opt(ChartType::kXbarR)), "no data: the xbar_r chart has no values");
  EXPECT_EQ(ErrorOf(ChartData{}, Opt(ChartType::kP)), "no data: the p chart has no samples");
  EXPECT_EQ(ErrorOf(ChartData{}, Opt(ChartType::kT2)), "no observations for the T² chart");
  // Constant data: sigma 0 is refused, never turned into NaN or zero-width limits.
  EXPECT_EQ(ErrorOf(Groups({{5, 5}, {5, 5}, {5, 5}}), Opt(ChartType::kXbarR)),
            "Phase I (points 1-3, 3 in use): every range is 0 (constant data): sigma would be 0 and the limits would "
            "collapse onto the center line");
  EXPECT_EQ(ErrorOf(Groups({{5, 5}, {5, 5}}), Opt(ChartType::kXbarS)),
            "Phase I (points 1-2, 2 in use): every subgroup standard deviation is 0 (constant data): sigma would be 0 "
            "and the limits would collapse onto the center line");
  EXPECT_EQ(ErrorOf(Values({7, 7, 7, 7}), Opt(ChartType::kIMR)),
            "Phase I (points 1-4, 4 in use): every moving range is 0 (constant data): sigma would be 0 and the limits "
            "would collapse onto the center line");
  EXPECT_EQ(ErrorOf(Values({7, 7, 7}), Opt(ChartType::kEWMA)),
            "Phase I (points 1-3, 3 in use): every moving range is 0 (constant data): sigma would be 0 (or give --sigma)");
  EXPECT_EQ(ErrorOf(Values({7}), Opt(ChartType::kCUSUM)),
            "Phase I (point 1) has no two neighbouring values in use: sigma = MR̄/1.128 needs at least 2 consecutive "
            "values (or give --sigma)");
  // Subgroups of 1 for X̄-R.
  EXPECT_EQ(ErrorOf(Values({1, 2, 3}), Opt(ChartType::kXbarR)),
            "every subgroup has 1 value: an X̄-R chart needs subgroups of 2 or more (--subgroup-size N or "
            "--subgroup-column C); for individual values use --chart imr");
  ChartData one = Groups({{1, 2}, {3}});
  one.subgroups[1].label = "B7";
  one.subgroups[1].missing = 1;
  EXPECT_EQ(ErrorOf(one, Opt(ChartType::kXbarR)),
            "subgroup 2 ('B7') has 1 value after dropping 1 missing: an X̄-R chart needs at least 2 per subgroup");
  EXPECT_EQ(ErrorOf(Groups({{1, 2}, {3, 4}}), Opt(ChartType::kIMR)),
            "point 1 has 2 values: an I-MR chart takes one value per point (for subgroups use --chart xbar_r or "
            "xbar_s)");
  // Counts.
  EXPECT_EQ(ErrorOf(Counts({1, -1}, {5, 5}), Opt(ChartType::kP)), "sample 2: negative nonconforming count -1");
  EXPECT_EQ(ErrorOf(Counts({1, -2}, {5, 5}), Opt(ChartType::kC)), "sample 2: negative count of nonconformities -2");
  EXPECT_EQ(ErrorOf(Counts({1, 2}, {0, 5}), Opt(ChartType::kU)), "sample 1: sample size 0 (must be above 0)");
  EXPECT_EQ(ErrorOf(Counts({1, 6}, {5, 5}), Opt(ChartType::kP)),
            "sample 2: 6 nonconforming out of a sample of 5: the count cannot exceed the size");
  EXPECT_EQ(ErrorOf(Counts({1, 6}, {5, 5}), Opt(ChartType::kNP)),
            "sample 2: 6 nonconforming out of a sample of 5: the count cannot exceed the size");
  EXPECT_EQ(ErrorOf(Counts({1.5, 2}, {5, 5}), Opt(ChartType::kP)), "sample 1: nonconforming count 1.5 is not a whole number");
  EXPECT_EQ(ErrorOf(Counts({1, 2}, {5, 6}), Opt(ChartType::kNP)),
            "sample 2: size 6 differs from sample 1's 5: an np chart needs a constant sample size (use --chart p)");
  EXPECT_EQ(ErrorOf(Counts({1, 2}, {5, 6}), Opt(ChartType::kC)),
            "sample 2: size 6 differs from sample 1's 5: an c chart needs a constant inspection size (use --chart u)");
  EXPECT_EQ(ErrorOf(Counts({0, 0, 0}, {5, 5, 5}), Opt(ChartType::kP)),
            "Phase I (points 1-3, 3 in use) has no nonconforming unit: the center is 0 and the limits would collapse "
            "onto it");
  EXPECT_EQ(ErrorOf(Counts({0, 0}, {1, 1}), Opt(ChartType::kC)),
            "Phase I (points 1-2, 2 in use) has no nonconformity: the center is 0 and the limits would collapse onto it");
  EXPECT_EQ(ErrorOf(Counts({5, 5}, {5, 5}), Opt(ChartType::kP)),
            "Phase I (points 1-2, 2 in use) is 100% nonconforming: p̄ = 1 leaves the chart no width");
  // Parameters.
  ChartOptions bad = Opt(ChartType::kEWMA);
  bad.lambda = 1.5;
  EXPECT_EQ(ErrorOf(Values({1, 2, 3}), bad), "--lambda 1.5 is outside (0, 1]");
  bad = Opt(ChartType::kIMR);
  bad.L = 0;
  EXPECT_EQ(ErrorOf(Values({1, 2, 3}), bad), "limit width L 0 must be above 0");
  // T²: singular covariance, too few points.
  ChartData t;
  for (int i = 0; i < 6; ++i) t.vectors.push_back({std::to_string(i + 1), {{1.0 * i, 2.0 * i}}});
  t.variables = {"a", "b"};
  EXPECT_EQ(ErrorOf(t, Opt(ChartType::kT2)),
            "Phase I (points 1-6, 6 in use): the sample covariance matrix of a, b is singular (a constant column, or "
            "columns that are linear combinations of each other)");
  t.vectors.resize(3);
  EXPECT_EQ(ErrorOf(t, Opt(ChartType::kT2)),
            "Phase I (points 1-3, 3 in use) has 3 observations in use; T² with 2 variables needs at least 4");
}

}  // namespace
}  // namespace pf::spc
