// LiveChart against BuildChart (the same points and violations for the same data and given
// limits), against the textbook numbers of the qcc data sets, and its own behaviour: time
// windows, SetLimits, history, bad input.
#include "spc/live_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "spc/csv_table.h"
#include "testing.h"

namespace pf::spc {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

Timestamp Sec(double s) { return Timestamp{static_cast<int64_t>(std::llround(s * 1e9))}; }

RuleSet Rules(std::string_view spec) { return *ParseRuleSet(spec); }

LiveChart MakeChart(const LiveChartConfig& config, std::optional<LiveLimits> limits = std::nullopt) {
  Result<LiveChart> c = LiveChart::Create(config, limits);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

// Feeds every subgroup value by value (one per second); returns everything the chart emitted.
LiveResult Feed(LiveChart& chart, const std::vector<Subgroup>& groups, int64_t* clock = nullptr) {
  LiveResult all;
  int64_t t = clock ? *clock : 0;
  for (const Subgroup& g : groups)
    for (double v : g.values) {
      Status s = chart.Add(v, Timestamp{t}, &all);
      EXPECT_TRUE(s.ok()) << s.ToString();
      t += kSecond;
    }
  if (clock) *clock = t;
  return all;
}

ChartResult Batch(ChartType type, const std::vector<Subgroup>& groups, const LiveLimits& l, const RuleSet& rules) {
  ChartData data;
  data.subgroups = groups;
  ChartOptions o;
  o.type = type;
  o.rules = rules;
  o.mean = l.center;
  o.sigma = l.sigma;
  o.L = l.L;
  o.lambda = l.lambda;
  o.asymptotic = l.asymptotic;
  o.k = l.k;
  o.h = l.h;
  o.fir = l.fir;
  Result<ChartResult> r = BuildChart(data, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

// Every point and violation of the live chart equals BuildChart's, to the last bit.
void ExpectSameAsBatch(const LiveResult& live, const ChartResult& batch) {
  size_t total_points = 0;
  for (const Chart& c : batch.charts) {
    std::vector<const LivePoint*> mine;
    for (const LivePoint& p : live.points)
      if (p.chart == c.name) mine.push_back(&p);
    ASSERT_EQ(mine.size(), c.points.size()) << "chart " << c.name;
    total_points += mine.size();
    for (size_t i = 0; i < mine.size(); ++i) {
      const LivePoint& a = *mine[i];
      const ChartPoint& b = c.points[i];
      SCOPED_TRACE(c.name + " point " + std::to_string(b.index));
      EXPECT_EQ(a.index, b.index);
      EXPECT_EQ(a.value, b.value);
      EXPECT_EQ(a.center, b.center);
      EXPECT_EQ(a.ucl, b.ucl);
      EXPECT_EQ(a.lcl, b.lcl);
      EXPECT_EQ(a.sigma, b.sigma);
      EXPECT_TRUE(a.has_limits);
    }
  }
  EXPECT_EQ(total_points, live.points.size());
  // BuildChart lists the violations chart by chart, the live chart in time order.
  std::vector<Violation> mine;
  for (const Chart& c : batch.charts)
    for (const Violation& v : live.violations)
      if (v.chart == c.name) mine.push_back(v);
  ASSERT_EQ(mine.size(), live.violations.size());
  ASSERT_EQ(mine.size(), batch.violations.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].rule, batch.violations[i].rule) << i;
    EXPECT_EQ(mine[i].chart, batch.violations[i].chart) << i;
    EXPECT_EQ(mine[i].points, batch.violations[i].points) << i;
    EXPECT_EQ(mine[i].zone, batch.violations[i].zone) << i;
    EXPECT_EQ(mine[i].message, batch.violations[i].message) << i;
  }
}

std::map<std::string, int> CountByRule(const std::vector<Violation>& v) {
  std::map<std::string, int> n;
  for (const Violation& x : v) ++n[x.rule];
  return n;
}

// ---- data ----

std::string QccPath(const std::string& name) {
  std::string dir = pf::testing::SharedDir();
  return dir.empty() ? "" : dir + "/data/spc_qcc/" + name;
}

// False (the test skips itself) when the data is missing and an earlier test failed: the failure
// must show. Otherwise missing data ends the binary with 77 (skipped), as the house's tests do.
bool HaveQcc(const std::string& name) {
  std::string path = QccPath(name);
  if (!path.empty() && std::filesystem::exists(path)) return true;
  if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) return false;
  pf::testing::RequireOrSkip(path, "the qcc textbook data sets");
  return false;
}

CsvTable ReadQcc(const std::string& name) {
  std::string path = QccPath(name);
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  Result<CsvTable> t = ParseCsv(ss.str(), path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

// pistonrings.csv: 40 subgroups of 5 diameters (column `sample` 1..40, in order).
std::vector<Subgroup> PistonRings() {
  CsvTable t = ReadQcc("pistonrings.csv");
  auto d = *t.NumericColumn("diameter");
  auto s = *t.NumericColumn("sample");
  std::vector<Subgroup> out(40);
  for (size_t i = 0; i < d.size(); ++i) {
    int k = static_cast<int>(*s[i]);
    out[k - 1].label = std::to_string(k);
    out[k - 1].values.push_back(*d[i]);
  }
  return out;
}

std::vector<Subgroup> Viscosity() {
  CsvTable t = ReadQcc("viscosity.csv");
  auto v = *t.NumericColumn("viscosity");
  std::vector<Subgroup> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back({std::to_string(i + 1), {*v[i]}, 0});
  return out;
}

// A long series with every kind of assignable cause the eight Nelson rules look for, in 200-point
// segments: in control, shifts of 1 and 2 sigma, a drift, an alternating sawtooth,
// stratification (sd 0.2: 15 within 1 sigma), a mixture (±1.8 sigma: 8 beyond 1 sigma),
// and outliers.
std::vector<double> Synthetic(int segments, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<double> x;
  for (int s = 0; s < segments; ++s) {
    for (int i = 0; i < 200; ++i) {
      double v = z(rng);
      switch (s % 8) {
        case 0: break;
        case 1: v += 1.0; break;
        case 2: v -= 2.0; break;
        case 3: v = 0.3 * v + 0.05 * (i % 40) - 1; break;
        case 4: v = 0.3 * v + (i % 2 ? 1.2 : -1.2); break;
        case 5: v *= 0.2; break;
        case 6: v = 0.2 * v + (z(rng) > 0 ? 1.8 : -1.8); break;
        case 7: v += (i % 37 == 0 ? 4.5 : 0); break;
      }
      x.push_back(10 + 2 * v);  // mean 10, sigma 2
    }
  }
  return x;
}

std::vector<Subgroup> Group(const std::vector<double>& x, size_t n) {
  std::vector<Subgroup> out;
  for (size_t i = 0; i + n <= x.size(); i += n) out.push_back({"", {x.begin() + i, x.begin() + i + n}, 0});
  return out;
}

// ---- equivalence with BuildChart ----

TEST(LiveChart, BreakSeriesDropsTheMovingRangeNeighbourAndRestartsRuns) {
  LiveChartConfig config;
  config.type = ChartType::kIMR;
  config.rules = Rules("nelson1,nelson2");
  LiveLimits limits;
  limits.center = 10;
  limits.sigma = 1;
  LiveChart chart = MakeChart(config, limits);
  LiveResult r;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(chart.Add(10.5, Sec(i), &r).ok());
  r.clear();
  chart.BreakSeries();
  ASSERT_TRUE(chart.Add(20.0, Sec(9), &r).ok());
  ASSERT_EQ(r.points.size(), 1u) << "no MR point: the previous value belongs to the other series";
  EXPECT_EQ(r.points[0].chart, "i");
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].rule, "nelson1") << "the 9th point above the center is not a nelson2 run after the break";
  r.clear();
  ASSERT_TRUE(chart.Add(19.0, Sec(10), &r).ok());
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[1].chart, "mr");
  EXPECT_DOUBLE_EQ(r.points[1].value, 1.0);
}

TEST(LiveChart, LongSyntheticSeriesEqualsBuildChartForImrAndXbarR) {
  std::vector<double> x = Synthetic(64, 20261125);  // 12,800 values
  std::vector<Subgroup> singles = Group(x, 1);
  LiveLimits imr{ChartType::kIMR, 1, 10, 2};
  for (const char* spec : {"nelson", "we"}) {
    SCOPED_TRACE(spec);
    LiveChart chart = MakeChart({ChartType::kIMR, 1, std::nullopt, 0, Rules(spec)}, imr);
    LiveResult live = Feed(chart, singles);
    ChartResult batch = Batch(ChartType::kIMR, singles, imr, Rules(spec));
    ExpectSameAsBatch(live, batch);
    // The series exercises every rule of the selection (else the comparison proves little).
    std::map<std::string, int> n = CountByRule(batch.violations);
    for (Rule r : Rules(spec).rules) EXPECT_GT(n[std::string(RuleName(r))], 0) << RuleName(r);
  }
  std::vector<Subgroup> fives = Group(x, 5);
  LiveLimits xr{ChartType::kXbarR, 5, 10, 2};
  LiveChart chart = MakeChart({ChartType::kXbarR, 5, std::nullopt, 0, Rules("nelson")}, xr);
  LiveResult live = Feed(chart, fives);
  ChartResult batch = Batch(ChartType::kXbarR, fives, xr, Rules("nelson"));
  ExpectSameAsBatch(live, batch);
  std::map<std::string, int> n = CountByRule(batch.violations);
  for (const char* r : {"nelson1", "nelson2", "nelson3", "nelson5", "nelson6", "nelson7", "nelson8"})
    EXPECT_GT(n[r], 0) << r;
}

TEST(LiveChart, EwmaAndCusumEqualBuildChart) {
  std::vector<double> x = Synthetic(8, 7);
  std::vector<Subgroup> singles = Group(x, 1);
  LiveLimits e{ChartType::kEWMA, 1, 10, 2, 2.962, 0.2};
  LiveChart ewma = MakeChart({ChartType::kEWMA, 1, std::nullopt, 0, Rules("nelson")}, e);
  ExpectSameAsBatch(Feed(ewma, singles), Batch(ChartType::kEWMA, singles, e, Rules("nelson")));
  e.asymptotic = true;
  std::vector<Subgroup> fours = Group(x, 4);
  LiveChart ewma4 = MakeChart({ChartType::kEWMA, 4, std::nullopt, 0, Rules("we")}, e);
  ExpectSameAsBatch(Feed(ewma4, fours), Batch(ChartType::kEWMA, fours, e, Rules("we")));

  LiveLimits c{ChartType::kCUSUM, 1, 10, 2};
  c.k = 0.5, c.h = 4, c.fir = true;
  LiveChart cusum = MakeChart({ChartType::kCUSUM, 1, std::nullopt, 0, Rules("we1")}, c);
  LiveResult live = Feed(cusum, singles);
  ChartResult batch = Batch(ChartType::kCUSUM, singles, c, Rules("we1"));
  ExpectSameAsBatch(live, batch);
  EXPECT_FALSE(batch.violations.empty());
  // The first CUSUM point with FIR: C+ = max(0, x1 - (10 + 0.5*2) + 4*2/2).
  EXPECT_NEAR(live.points[0].value, std::max(0.0, x[0] - 11 + 4), 1e-12);
}

// ---- time windows ----

TEST(LiveChart, TimeWindowsCloseOnALaterValueOrTickAndSkipShortWindows) {
  LiveChartConfig config{ChartType::kXbarR, 1, std::chrono::seconds(10), 0, Rules("nelson")};
  LiveLimits l{ChartType::kXbarR, 3, 5, 1};
  LiveChart chart = MakeChart(config, l);
  LiveResult r;
  ASSERT_TRUE(chart.Add(5.0, Sec(0.5), &r).ok());
  ASSERT_TRUE(chart.Add(6.0, Sec(3), &r).ok());
  ASSERT_TRUE(chart.Add(4.5, Sec(9.999), &r).ok());
  EXPECT_TRUE(r.points.empty());
  ASSERT_TRUE(chart.Add(7.0, Sec(12), &r).ok());  // window [10, 20): closes [0, 10)
  ASSERT_EQ(r.points.size(), 2u);
  const LivePoint& xbar = r.points[0];
  EXPECT_EQ(xbar.chart, "xbar");
  EXPECT_EQ(xbar.index, 1);
  EXPECT_EQ(xbar.time.ns, 0);  // the window start
  EXPECT_EQ(xbar.n, 3);
  EXPECT_NEAR(xbar.value, 15.5 / 3, 1e-12);
  EXPECT_NEAR(xbar.ucl, 5 + 3 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(xbar.sigma, 1 / std::sqrt(3.0), 1e-12);
  const LivePoint& range = r.points[1];
  EXPECT_EQ(range.chart, "r");
  EXPECT_NEAR(range.value, 1.5, 1e-12);
  EXPECT_NEAR(range.center, 1.693, 5e-4);      // d2(3), Montgomery Appendix VI
  EXPECT_NEAR(range.ucl, 1.693 + 3 * 0.888, 2e-3);  // D4(3) sigma-free form: d2 + 3 d3
  EXPECT_EQ(range.lcl, 0);

  r.clear();
  ASSERT_TRUE(chart.Add(5.5, Sec(25), &r).ok());  // [10, 20) had one value: skipped
  EXPECT_TRUE(r.points.empty());
  EXPECT_EQ(chart.counters().skipped_subgroups, 1);
  ASSERT_TRUE(chart.Add(4.0, Sec(27), &r).ok());
  chart.Tick(Sec(29.9), &r);
  EXPECT_TRUE(r.points.empty());
  chart.Tick(Sec(30), &r);  // the end of [20, 30)
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].index, 2);  // skipped windows take no index
  EXPECT_EQ(r.points[0].time.ns, 20 * kSecond);
  EXPECT_EQ(r.points[0].n, 2);
  EXPECT_NEAR(r.points[0].ucl, 5 + 3 / std::sqrt(2.0), 1e-12);  // per-point limits for n = 2
  EXPECT_NEAR(r.points[1].center, 1.128, 5e-4);                 // d2(2)

  // Late values: before the last closed window's end, or before a window Tick has passed.
  r.clear();
  Status late = chart.Add(1.0, Sec(29), &r);
  EXPECT_EQ(late.code(), StatusCode::kOutOfRange);
  EXPECT_NE(late.message().find("late"), std::string::npos) << late.message();
  chart.Tick(Sec(100), &r);
  EXPECT_EQ(chart.Add(1.0, Sec(95), &r).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(chart.counters().late_values, 2);
  EXPECT_TRUE(chart.Add(1.0, Sec(100), &r).ok());

  // The history holds the kept windows with their values (the skipped one is gone).
  std::vector<Subgroup> h = chart.RecentSubgroups();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].values, (std::vector<double>{5.0, 6.0, 4.5}));
  EXPECT_EQ(h[0].label, "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(h[1].values, (std::vector<double>{5.5, 4.0}));
  EXPECT_EQ(h[1].label, "1970-01-01T00:00:20.000Z");
}

TEST(LiveChart, TimeWindowedXbarREqualsBuildChartWithVariableSubgroups) {
  // Samples at irregular times (1-45 s apart): 1-20 values per 60 s window, some with 1 value.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0, 1);
  std::uniform_int_distribution<int> gap(1, 45);
  LiveChartConfig config{ChartType::kXbarR, 1, std::chrono::minutes(1), 0, Rules("nelson")};
  LiveLimits l{ChartType::kXbarR, 5, 100, 3};
  LiveChart chart = MakeChart(config, l);
  LiveResult live;
  std::map<int64_t, Subgroup> windows;
  int64_t t = 1'764'000'000 * kSecond;  // 2025-11-24
  for (int i = 0; i < 20000; ++i) {
    t += gap(rng) * kSecond;
    double v = 100 + 3 * z(rng) + (i > 12000 ? 2 : 0);
    windows[t / (60 * kSecond)].values.push_back(v);
    ASSERT_TRUE(chart.Add(v, Timestamp{t}, &live).ok());
  }
  chart.Tick(Timestamp{t + 60 * kSecond}, &live);
  std::vector<Subgroup> groups;
  int skipped = 0;
  for (auto& [k, g] : windows) {
    if (g.values.size() < 2) {
      ++skipped;
      continue;
    }
    groups.push_back(g);
  }
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(chart.counters().skipped_subgroups, skipped);
  ExpectSameAsBatch(live, Batch(ChartType::kXbarR, groups, l, Rules("nelson")));
  EXPECT_FALSE(live.violations.empty());
}

TEST(LiveChart, TimeWindowedImrChartsWindowMeans) {
  LiveChartConfig config{ChartType::kIMR, 1, std::chrono::seconds(60), 0, Rules("nelson1")};
  LiveChart chart = MakeChart(config, LiveLimits{ChartType::kIMR, 1, 0, 0.5});
  LiveResult r;
  // Windows before the epoch work too (floor division): -30 s is in [-60, 0).
  ASSERT_TRUE(chart.Add(1.0, Sec(-30), &r).ok());
  ASSERT_TRUE(chart.Add(2.0, Sec(-1), &r).ok());
  ASSERT_TRUE(chart.Add(0.25, Sec(5), &r).ok());
  ASSERT_EQ(r.points.size(), 1u);
  EXPECT_EQ(r.points[0].time.ns, -60 * kSecond);
  EXPECT_EQ(r.points[0].n, 2);
  EXPECT_DOUBLE_EQ(r.points[0].value, 1.5);
  EXPECT_DOUBLE_EQ(r.points[0].ucl, 1.5);  // 0 + 3 * 0.5: sigma is that of a window mean
  EXPECT_TRUE(r.violations.empty());        // 1.5 is on the limit, not beyond
  chart.Tick(Sec(60), &r);
  ASSERT_EQ(r.points.size(), 3u);
  EXPECT_EQ(r.points[2].chart, "mr");
  EXPECT_DOUBLE_EQ(r.points[2].value, 1.25);
  // EstimateLimits reduces windows to their means: I-MR of (1.5, 0.25, 0.5): mean 0.75, MR̄ 0.75.
  Result<LiveProposal> p = LiveChart::EstimateLimits(
      config, {{"a", {1.0, 2.0}, 0}, {"b", {0.25}, 0}, {"c", {1.0, 0.0}, 0}}, [] {
        ChartOptions o;
        o.allow_autocorrelation = true;
        return o;
      }());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_NEAR(p->limits.center, (1.5 + 0.25 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(p->limits.sigma, (1.25 + 0.25) / 2 / (2 / std::sqrt(M_PI)), 1e-9);
  EXPECT_EQ(p->limits.n, 1);
}

TEST(LiveChart, OneWindowLargerThanKeepValuesKeepsItsNewestValues) {
  LiveChartConfig config{ChartType::kXbarS, 1, std::chrono::seconds(10), 0, Rules("we1")};
  config.keep_values = 5;
  LiveChart chart = MakeChart(config, LiveLimits{ChartType::kXbarS, 8, 0, 1});
  LiveResult r;
  std::vector<double> w = {0.1, -0.4, 0.9, 1.3, -1.1, 0.2, 0.7, -0.3};
  for (size_t i = 0; i < w.size(); ++i) ASSERT_TRUE(chart.Add(w[i], Sec(i), &r).ok());
  chart.Tick(Sec(10), &r);
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].n, 8);  // charted with every value
  double mean = 0, ss = 0;
  for (double v : w) mean += v / 8;
  for (double v : w) ss += (v - mean) * (v - mean);
  EXPECT_NEAR(r.points[0].value, mean, 1e-12);
  EXPECT_NEAR(r.points[1].value, std::sqrt(ss / 7), 1e-12);
  EXPECT_EQ(chart.counters().dropped_values, 3);
  std::vector<Subgroup> h = chart.RecentSubgroups();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].values, (std::vector<double>{1.3, -1.1, 0.2, 0.7, -0.3}));
  EXPECT_EQ(h[0].missing, 3);
  // The next window pushes it out whole.
  ASSERT_TRUE(chart.Add(1, Sec(11), &r).ok());
  ASSERT_TRUE(chart.Add(2, Sec(12), &r).ok());
  chart.Tick(Sec(20), &r);
  h = chart.RecentSubgroups();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].values, (std::vector<double>{1, 2}));
  EXPECT_EQ(h[0].missing, 0);
}

// ---- limits and history ----

TEST(LiveChart, SetLimitsRestartsTheRuns) {
  LiveChartConfig config{ChartType::kIMR, 1, std::nullopt, 0, Rules("nelson2")};
  LiveLimits l{ChartType::kIMR, 1, 0, 1};
  LiveChart chart = MakeChart(config, l);
  LiveResult r;
  int64_t t = 0;
  auto add = [&](double v) { ASSERT_TRUE(chart.Add(v, Timestamp{t += kSecond}, &r).ok()); };
  for (int i = 0; i < 7; ++i) add(0.5);
  ASSERT_TRUE(chart.SetLimits(l).ok());  // the same limits, a new version
  for (int i = 0; i < 8; ++i) add(0.5);
  EXPECT_TRUE(r.violations.empty());  // 7 + 8 above the center, but only 8 since the restart
  add(0.5);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].rule, "nelson2");
  EXPECT_EQ(r.violations[0].points.front(), 8);
  EXPECT_EQ(r.violations[0].points.back(), 16);
  // Without a new version the run goes on: 9 in a row at point 9.
  LiveChart other = MakeChart(config, l);
  LiveResult r2;
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(other.Add(0.5, Timestamp{i * kSecond}, &r2).ok());
  ASSERT_EQ(r2.violations.size(), 1u);
  EXPECT_EQ(r2.violations[0].points.front(), 1);

  // A new center and sigma apply from the next point on.
  r.clear();
  ASSERT_TRUE(chart.SetLimits({ChartType::kIMR, 1, 10, 2}).ok());
  add(10.5);
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].center, 10);
  EXPECT_EQ(r.points[0].ucl, 16);
  EXPECT_EQ(r.points[0].lcl, 4);
  EXPECT_EQ(r.points[1].value, 10);  // the MR to the previous value 0.5 is kept
  EXPECT_NEAR(r.points[1].ucl, 2 * (2 / std::sqrt(M_PI) + 3 * std::sqrt(2 - 4 / M_PI)), 1e-9);

  // L other than 3 names the rule-1 zone "beyond limits", as BuildChart does.
  l.L = 2.5;
  ASSERT_TRUE(chart.SetLimits(l).ok());
  LiveChart wide = MakeChart({ChartType::kIMR, 1, std::nullopt, 0, Rules("we1")}, l);
  r.clear();
  ASSERT_TRUE(wide.Add(2.6, Sec(1), &r).ok());
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].zone, "beyond limits");
}

TEST(LiveChart, EwmaRestartsAtTheNewCenter) {
  LiveLimits l{ChartType::kEWMA, 1, 0, 1, 3, 0.5};
  LiveChart chart = MakeChart({ChartType::kEWMA, 1, std::nullopt, 0, Rules("we1")}, l);
  LiveResult r;
  ASSERT_TRUE(chart.Add(2, Sec(1), &r).ok());
  EXPECT_DOUBLE_EQ(r.points[0].value, 1);  // 0.5*2 + 0.5*0
  l.center = 4;
  ASSERT_TRUE(chart.SetLimits(l).ok());
  ASSERT_TRUE(chart.Add(2, Sec(2), &r).ok());
  EXPECT_DOUBLE_EQ(r.points[1].value, 3);  // z0 = 4 again: 0.5*2 + 0.5*4
  // Time-varying limits restart too: sigma_z = sqrt(λ/(2-λ) (1-(1-λ)²)) = 0.5 at the first point.
  EXPECT_DOUBLE_EQ(r.points[1].ucl, 4 + 3 * 0.5);
}

TEST(LiveChart, BaselinePhaseKeepsTheLastSubgroupsForEstimation) {
  LiveChartConfig config{ChartType::kXbarR, 4, std::nullopt, 0, Rules("nelson")};
  config.keep = 10;
  LiveChart chart = MakeChart(config);
  std::vector<double> x = Synthetic(1, 3);
  std::vector<Subgroup> groups = Group(x, 4);  // 50 subgroups
  LiveResult r = Feed(chart, groups);
  EXPECT_TRUE(r.violations.empty());
  for (const LivePoint& p : r.points) {
    EXPECT_FALSE(p.has_limits);
    EXPECT_EQ(p.ucl, 0);
  }
  std::vector<Subgroup> h = chart.RecentSubgroups();
  ASSERT_EQ(h.size(), 10u);
  EXPECT_EQ(chart.first_recent_index(), 41);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(h[i].values, groups[40 + i].values) << i;
  EXPECT_EQ(h[0].label, FormatRfc3339(Timestamp{(40 * 4 + 3) * kSecond}, 3));  // the closing value's time
  // The estimate equals the textbook formulas computed here: x̿ and R̄/d2(4).
  ChartOptions o;
  o.allow_autocorrelation = true;  // 10 means are too few to judge it
  Result<LiveProposal> p = LiveChart::EstimateLimits(config, h, o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  double sum = 0, rsum = 0;
  for (const Subgroup& g : h) {
    double lo = g.values[0], hi = g.values[0];
    for (double v : g.values) sum += v, lo = std::min(lo, v), hi = std::max(hi, v);
    rsum += hi - lo;
  }
  EXPECT_NEAR(p->limits.center, sum / 40, 1e-12);
  EXPECT_NEAR(p->limits.sigma, rsum / 10 / 2.059, 1e-3 * p->limits.sigma);  // d2(4) = 2.059
  // ClearLimits goes back to collecting.
  ASSERT_TRUE(chart.SetLimits(p->limits).ok());
  chart.ClearLimits();
  LiveResult more = Feed(chart, {groups[0]});
  ASSERT_EQ(more.points.size(), 2u);
  EXPECT_FALSE(more.points[0].has_limits);
  EXPECT_TRUE(more.violations.empty());
}

TEST(LiveChart, MemoryPerChartIsSmall) {
  LiveChart imr = MakeChart({ChartType::kIMR, 1, std::nullopt, 0, Rules("nelson")}, LiveLimits{ChartType::kIMR, 1, 0, 1});
  EXPECT_LT(imr.memory_bytes(), 4096u);
  // 101 values and 100 times are the history; the rest is the object itself.
  EXPECT_GE(imr.memory_bytes(), sizeof(LiveChart) + 101 * 8 + 100 * 8);
  LiveChart none = MakeChart({ChartType::kIMR, 1, std::nullopt, 0, Rules("nelson"), 0});
  EXPECT_LT(none.memory_bytes(), imr.memory_bytes() - 1500);
}

// ---- bad input ----

TEST(LiveChart, BadConfigAndLimitsArePreciseErrors) {
  auto err = [](LiveChartConfig c, std::optional<LiveLimits> l = std::nullopt) {
    Result<LiveChart> r = LiveChart::Create(c, l);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Status::Ok() : r.status();
  };
  Status s = err({.type = ChartType::kIMR, .subgroup_size = 5});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("subgroup_size 5"), std::string::npos) << s.message();
  s = err({.type = ChartType::kXbarR, .subgroup_size = 1});
  EXPECT_NE(s.message().find("subgroup_size 1 is outside 2..100000"), std::string::npos) << s.message();
  s = err({.type = ChartType::kP});
  EXPECT_NE(s.message().find("chart 'p'"), std::string::npos) << s.message();
  s = err({.type = ChartType::kXbarR, .subgroup_window = Duration(0)});
  EXPECT_NE(s.message().find("subgroup_window 0"), std::string::npos) << s.message();
  s = err({.type = ChartType::kXbarR, .subgroup_size = 5, .subgroup_window = std::chrono::seconds(60)});
  EXPECT_NE(s.message().find("not both"), std::string::npos) << s.message();
  s = err({.type = ChartType::kXbarR, .subgroup_size = 5, .min_window_values = 3});
  EXPECT_NE(s.message().find("min_window_values 3 applies to subgroup_window only"), std::string::npos);
  s = err({.type = ChartType::kXbarR, .subgroup_size = 5}, LiveLimits{ChartType::kXbarR, 5, 1, 0});
  EXPECT_NE(s.message().find("sigma 0 must be a finite number above 0"), std::string::npos) << s.message();
  s = err({.type = ChartType::kIMR}, LiveLimits{ChartType::kIMR, 1, NAN, 1});
  EXPECT_NE(s.message().find("center nan is not a finite number"), std::string::npos) << s.message();
  s = err({.type = ChartType::kIMR}, LiveLimits{ChartType::kXbarR, 5, 1, 1});
  EXPECT_NE(s.message().find("limits for a 'xbar_r' chart given to a 'imr' chart"), std::string::npos);
  LiveLimits e{ChartType::kEWMA, 1, 0, 1, 3, 1.5};
  s = err({.type = ChartType::kEWMA}, e);
  EXPECT_NE(s.message().find("lambda 1.5 is outside (0, 1]"), std::string::npos) << s.message();

  LiveChart chart = MakeChart({.type = ChartType::kIMR});
  EXPECT_EQ(chart.SetLimits({ChartType::kIMR, 1, 0, -1}).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(chart.limits().has_value());
}

TEST(LiveChart, NonFiniteValuesAreRefusedAndLeaveNoTrace) {
  LiveLimits l{ChartType::kXbarR, 3, 0, 1};
  LiveChart chart = MakeChart({ChartType::kXbarR, 3, std::nullopt, 0, Rules("nelson")}, l);
  LiveResult r;
  ASSERT_TRUE(chart.Add(1, Sec(1), &r).ok());
  Status s = chart.Add(NAN, Sec(2), &r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not a finite number"), std::string::npos) << s.message();
  EXPECT_EQ(chart.Add(INFINITY, Sec(2), &r).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(chart.Add(2, Sec(3), &r).ok());
  ASSERT_TRUE(chart.Add(4, Sec(4), &r).ok());
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].n, 3);
  EXPECT_DOUBLE_EQ(r.points[0].value, 7.0 / 3);
  EXPECT_DOUBLE_EQ(r.points[1].value, 3);
  EXPECT_EQ(chart.counters().rejected_values, 2);
  EXPECT_EQ(chart.counters().values, 3);
}

TEST(LiveChart, EstimateLimitsErrorsNameTheProblem) {
  LiveChartConfig config{ChartType::kIMR, 1, std::nullopt, 0, Rules("we")};
  Result<LiveProposal> empty = LiveChart::EstimateLimits(config, {});
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("no subgroups"), std::string::npos);
  std::vector<Subgroup> flat(10, Subgroup{"", {3.0}, 0});
  Result<LiveProposal> constant = LiveChart::EstimateLimits(config, flat);
  EXPECT_EQ(constant.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(constant.status().message().find("imr limits from 10 baseline subgroups"), std::string::npos)
      << constant.status().message();
  EXPECT_NE(constant.status().message().find("constant data"), std::string::npos) << constant.status().message();
  // An autocorrelated baseline is refused, as BuildChart refuses it (issue 5 point 4).
  std::vector<Subgroup> drift;
  for (int i = 0; i < 50; ++i) drift.push_back({"", {i + 0.3 * std::sin(i)}, 0});
  EXPECT_EQ(LiveChart::EstimateLimits(config, drift).status().code(), StatusCode::kFailedPrecondition);
}

// ---- the qcc textbook data (last: without ../shared they end the binary with 77) ----

TEST(LiveChart, PistonRingsXbarRFromBaselineToTheTextbookSignals) {
  if (!HaveQcc("pistonrings.csv")) GTEST_SKIP() << "no ../shared/data/spc_qcc";
  std::vector<Subgroup> rings = PistonRings();
  // Baseline phase: collect samples 1-25, then propose limits from them (Phase I).
  LiveChartConfig config{ChartType::kXbarR, 5, std::nullopt, 0, Rules("nelson1"), 25, 0};
  LiveChart chart = MakeChart(config);
  int64_t clock = 0;
  LiveResult baseline = Feed(chart, {rings.begin(), rings.begin() + 25}, &clock);
  EXPECT_TRUE(baseline.violations.empty());
  ASSERT_EQ(baseline.points.size(), 50u);
  EXPECT_FALSE(baseline.points[0].has_limits);
  EXPECT_EQ(baseline.points[0].chart, "xbar");
  EXPECT_NEAR(baseline.points[0].value, (74.030 + 74.002 + 74.019 + 73.992 + 74.008) / 5, 1e-12);
  EXPECT_EQ(baseline.points[1].chart, "r");
  EXPECT_NEAR(baseline.points[1].value, 74.030 - 73.992, 1e-12);

  std::vector<Subgroup> recent = chart.RecentSubgroups();
  ASSERT_EQ(recent.size(), 25u);
  EXPECT_EQ(chart.first_recent_index(), 1);
  Result<LiveProposal> p = LiveChart::EstimateLimits(config, recent);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const LiveLimits& l = p->limits;
  // SOURCE.md (Montgomery): x̿ = 74.00118, R̄ = 0.02276, UCL 74.01431, LCL 73.98805, R UCL 0.04811.
  EXPECT_NEAR(l.center, 74.00118, 5e-6);
  EXPECT_NEAR(l.sigma * 2.325929, 0.02276, 5e-6);  // sigma = R̄/d2(5)
  EXPECT_EQ(l.n, 5);
  ASSERT_TRUE(chart.SetLimits(l).ok());

  LiveResult phase2 = Feed(chart, {rings.begin() + 25, rings.end()}, &clock);
  ASSERT_EQ(phase2.points.size(), 30u);
  EXPECT_EQ(phase2.points[0].index, 26);
  // The textbook multiplies by the table constants A2 = 0.577 and D4 = 2.114 (3 decimals); the
  // exact constants move the limits by up to 1.5e-5.
  EXPECT_NEAR(phase2.points[0].ucl, 74.01431, 1e-5);
  EXPECT_NEAR(phase2.points[0].lcl, 73.98805, 1e-5);
  EXPECT_NEAR(phase2.points[1].ucl, 0.04811, 2e-5);
  EXPECT_EQ(phase2.points[1].lcl, 0);
  std::vector<int> out;
  for (const Violation& v : phase2.violations) {
    EXPECT_EQ(v.chart, "xbar");
    out.push_back(v.points[0]);
  }
  EXPECT_EQ(out, (std::vector<int>{37, 38, 39}));  // the published out-of-control subgroups
  EXPECT_EQ(chart.counters().points, 40);
  EXPECT_EQ(chart.counters().values, 200);
}

TEST(LiveChart, PistonRingsAllNelsonRulesEqualBuildChart) {
  if (!HaveQcc("pistonrings.csv")) GTEST_SKIP() << "no ../shared/data/spc_qcc";
  std::vector<Subgroup> rings = PistonRings();
  LiveLimits l{ChartType::kXbarR, 5, 74.00118, 0.02276 / 2.326};
  for (const char* spec : {"nelson", "we", "we1,nelson2,nelson3"}) {
    SCOPED_TRACE(spec);
    LiveChart chart = MakeChart({ChartType::kXbarR, 5, std::nullopt, 0, Rules(spec)}, l);
    LiveResult live = Feed(chart, rings);
    ExpectSameAsBatch(live, Batch(ChartType::kXbarR, rings, l, Rules(spec)));
  }
  // X̄-S too (s̄ = 0.009240 in SOURCE.md; sigma = s̄/c4(5)).
  LiveLimits s{ChartType::kXbarS, 5, 74.00118, 0.009240 / 0.9400};
  LiveChart chart = MakeChart({ChartType::kXbarS, 5, std::nullopt, 0, Rules("nelson")}, s);
  ExpectSameAsBatch(Feed(chart, rings), Batch(ChartType::kXbarS, rings, s, Rules("nelson")));
}

TEST(LiveChart, ViscosityImrFromBaselineAndEqualToBuildChart) {
  if (!HaveQcc("viscosity.csv")) GTEST_SKIP() << "no ../shared/data/spc_qcc";
  std::vector<Subgroup> visc = Viscosity();
  ASSERT_EQ(visc.size(), 35u);
  LiveChartConfig config{ChartType::kIMR, 1, std::nullopt, 0, Rules("nelson")};
  LiveChart chart = MakeChart(config);
  int64_t clock = 0;
  LiveResult baseline = Feed(chart, {visc.begin(), visc.begin() + 20}, &clock);
  ASSERT_EQ(baseline.points.size(), 39u);  // 20 values, 19 moving ranges
  EXPECT_EQ(baseline.points[1].chart, "i");
  EXPECT_EQ(baseline.points[2].chart, "mr");
  EXPECT_NEAR(baseline.points[2].value, 34.40 - 34.05, 1e-12);
  Result<LiveProposal> p = LiveChart::EstimateLimits(config, chart.RecentSubgroups());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // SOURCE.md (Montgomery 5th ed.): mean 34.088, MR̄ 0.5726, UCL 35.611, LCL 32.565.
  EXPECT_NEAR(p->limits.center, 34.088, 5e-4);
  EXPECT_NEAR(p->limits.sigma * 2 / std::sqrt(M_PI), 0.5726, 5e-5);  // d2(2) = 2/√π
  ASSERT_TRUE(chart.SetLimits(p->limits).ok());
  LiveResult phase2 = Feed(chart, {visc.begin() + 20, visc.end()}, &clock);
  ASSERT_FALSE(phase2.points.empty());
  EXPECT_EQ(phase2.points[0].index, 21);
  // The textbook uses E2 = 3/d2(2) = 2.66 (the exact 2.6587 moves the limits by 7.6e-4).
  EXPECT_NEAR(phase2.points[0].ucl, 35.611, 1e-3);
  EXPECT_NEAR(phase2.points[0].lcl, 32.565, 1e-3);
  EXPECT_NEAR(phase2.points[0].ucl, p->limits.center + 3 * 0.5726 / (2 / std::sqrt(M_PI)), 1e-4);
  EXPECT_EQ(phase2.points[1].chart, "mr");  // the MR of point 21 uses point 20, a real neighbour
  EXPECT_NEAR(phase2.points[1].value, 34.39 - 34.05, 1e-12);

  LiveChart fresh = MakeChart(config, p->limits);
  ExpectSameAsBatch(Feed(fresh, visc), Batch(ChartType::kIMR, visc, p->limits, Rules("nelson")));
}

}  // namespace
}  // namespace pf::spc
