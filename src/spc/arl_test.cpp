// Average run lengths by Monte Carlo with known parameters (μ0 = 0, σ = 1), fixed seeds and
// 10,000 runs per case, against the published values:
//   Shewhart, rule 1 only (3 sigma):  ARL0 = 1/0.0027 = 370.4;  1σ shift: 1/(Φ(-2) + Φ(-4)) = 43.9
//   EWMA λ = 0.2, L = 2.962, asymptotic limits: 500 and 10.5    (Lucas & Saccucci 1990; Montgomery Table 9.11)
//   tabular CUSUM k = 0.5, h = 5, no FIR:         465 and 10.4  (Montgomery Table 9.4; Hawkins 1993)
// Each within 5%. The library's own monitors run the charts: RuleMonitor (rule 1), EwmaMonitor,
// CusumMonitor. Runs are capped at 100,000 observations.
#include <gtest/gtest.h>

#include <random>

#include "spc/ewma_cusum.h"
#include "spc/rules.h"

namespace pf::spc {
namespace {

constexpr int kRuns = 10000;
constexpr int64_t kCap = 100000;

// Mean run length of `signal` (true at the first out-of-control observation) over kRuns runs.
template <typename MakeChart>
double AverageRunLength(uint64_t seed, double shift, MakeChart make) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(shift, 1.0);
  double total = 0;
  for (int run = 0; run < kRuns; ++run) {
    auto signal = make();
    int64_t n = 1;
    while (n < kCap && !signal(normal(rng), n)) ++n;
    total += n;
  }
  return total / kRuns;
}

auto Shewhart() {
  return [] {
    auto monitor = std::make_shared<RuleMonitor>(*ParseRuleSet("we1"), "i");
    auto out = std::make_shared<std::vector<Violation>>();
    return [monitor, out](double x, int64_t n) {
      monitor->Add({static_cast<int>(n), x, 0, 3, -3, 1}, out.get());
      return !out->empty();
    };
  };
}

auto Ewma() {
  return [] {
    auto m = std::make_shared<EwmaMonitor>(EwmaParams{0, 1, 0.2, 2.962, true});
    return [m](double x, int64_t) { return m->Add(x).beyond; };
  };
}

auto Cusum() {
  return [] {
    auto m = std::make_shared<CusumMonitor>(CusumParams{0, 1, 0.5, 5, false});
    return [m](double x, int64_t) {
      auto s = m->Add(x);
      return s.beyond_upper || s.beyond_lower;
    };
  };
}

void ExpectWithin5Percent(double arl, double published) {
  EXPECT_NEAR(arl, published, 0.05 * published) << "ARL " << arl << " against " << published;
  std::printf("ARL %.2f (published %.1f, %+.1f%%)\n", arl, published, 100 * (arl / published - 1));
}

TEST(Arl, ShewhartRuleOne) {
  ExpectWithin5Percent(AverageRunLength(20260101, 0.0, Shewhart()), 370.4);
  ExpectWithin5Percent(AverageRunLength(20260102, 1.0, Shewhart()), 43.9);
}

TEST(Arl, EwmaLambda02L2962Asymptotic) {
  ExpectWithin5Percent(AverageRunLength(20260103, 0.0, Ewma()), 500);
  ExpectWithin5Percent(AverageRunLength(20260104, 1.0, Ewma()), 10.5);
}

TEST(Arl, CusumK05H5NoFir) {
  ExpectWithin5Percent(AverageRunLength(20260105, 0.0, Cusum()), 465);
  ExpectWithin5Percent(AverageRunLength(20260106, 1.0, Cusum()), 10.4);
}

}  // namespace
}  // namespace pf::spc
