// GCC 12 flags free() in a replaced operator delete as mismatched with the replaced operator new
// (a false positive once both are inlined); the pair below is matched by construction.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "detect/baseline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>

// Counts heap allocations through operator new (std::string, std::vector, fmt) so that the
// "no allocation per Score call" contract is checked, not just promised. Score touches Eigen
// objects by coefficient only, which never allocates.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace pf::detect {
namespace {

BaselineConfig Config(int p, ThresholdMethod method = ThresholdMethod::kEmpirical) {
  BaselineConfig c;
  c.asset = "pump3";
  for (int j = 0; j < p; ++j) c.features.push_back(fmt::format("f{}", j));
  c.threshold = method;
  return c;
}

// Correlated Gaussian (or Student t with `dof` degrees of freedom when dof > 0) rows, p = 4.
class Source {
 public:
  Source(uint64_t seed, double dof = 0) : rng_(seed), dof_(dof) {
    Eigen::MatrixXd cov(4, 4);
    cov << 1.0, 0.8, 0.2, 0.0, 0.8, 2.0, 0.1, 0.3, 0.2, 0.1, 0.5, 0.0, 0.0, 0.3, 0.0, 3.0;
    l_ = cov.llt().matrixL();
  }
  std::vector<double> Next() {
    Eigen::Vector4d u;
    for (int j = 0; j < 4; ++j) u[j] = z_(rng_);
    if (dof_ > 0) u /= std::sqrt(std::chi_squared_distribution<double>(dof_)(rng_) / dof_);
    const Eigen::Vector4d x = Eigen::Vector4d(10, 20, -5, 100) + l_ * u;
    return {x[0], x[1], x[2], x[3]};
  }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<double> z_;
  double dof_;
  Eigen::Matrix4d l_;
};

Baseline Learn(const BaselineConfig& c, Source& s, int n) {
  auto t = BaselineTrainer::Create(c);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  for (int i = 0; i < n; ++i) EXPECT_TRUE(t->AddToRegime(s.Next(), 0).ok());
  auto b = t->Fit();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

// Central 95 % interval [lo, hi] of Binomial(n, p) from the exact pmf.
std::pair<int, int> BinomialInterval(int n, double p) {
  double cdf = 0;
  int lo = -1, hi = n;
  for (int k = 0; k <= n; ++k) {
    const double logpmf = std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) + k * std::log(p) +
                          (n - k) * std::log1p(-p);
    cdf += std::exp(logpmf);
    if (lo < 0 && cdf >= 0.025) lo = k;
    if (cdf >= 0.975) { hi = k; break; }
  }
  return {lo, hi};
}

// Realised false-alarm rate on fresh samples: `reps` independent baselines of n samples, each
// scoring `m` new samples from the same source. Returns the number of exceedances of reps * m.
int Exceedances(ThresholdMethod method, double dof, int reps, int n, int m, double alpha) {
  BaselineConfig c = Config(4, method);
  c.false_alarm_rate = alpha;
  int hits = 0;
  for (int r = 0; r < reps; ++r) {
    Source s(1000 + r, dof);
    Baseline b = Learn(c, s, n);
    for (int i = 0; i < m; ++i) {
      auto score = b.Score(s.Next(), 0);
      EXPECT_TRUE(score.ok());
      hits += score->exceeds;
    }
  }
  return hits;
}

TEST(BaselineFalseAlarms, EmpiricalThresholdOnGaussianDataHitsTheTargetRate) {
  // 1000 baselines of 1000 samples, 20 fresh samples each: 20000 Bernoulli trials. Each
  // baseline's threshold varies (conditional rate sd ~0.3 %), but averaged over 1000 baselines
  // that adds less than 2 % to the binomial variance.
  const int reps = 1000, m = 20;
  const auto [lo, hi] = BinomialInterval(reps * m, 0.01);
  EXPECT_EQ(lo, 173);  // R: qbinom(c(0.025, 0.975), 20000, 0.01)
  EXPECT_EQ(hi, 228);
  const int hits = Exceedances(ThresholdMethod::kEmpirical, 0, reps, 1000, m, 0.01);
  EXPECT_GE(hits, lo);
  EXPECT_LE(hits, hi);
  std::printf("empirical threshold, Gaussian: %d of %d exceed (target 1 %%: 95 %% interval [%d, %d])\n", hits, reps * m, lo, hi);
}

TEST(BaselineFalseAlarms, FLawThresholdOnGaussianDataHitsTheTargetRate) {
  const int reps = 1000, m = 20;
  const auto [lo, hi] = BinomialInterval(reps * m, 0.01);
  const int hits = Exceedances(ThresholdMethod::kFLaw, 0, reps, 1000, m, 0.01);
  EXPECT_GE(hits, lo);
  EXPECT_LE(hits, hi);
  std::printf("F-law threshold, Gaussian: %d of %d exceed (95 %% interval [%d, %d])\n", hits, reps * m, lo, hi);
}

TEST(BaselineFalseAlarms, HeavyTailsBreakTheFLawButNotTheEmpiricalThreshold) {
  // Multivariate t with 4 degrees of freedom: d^2 has a far heavier tail than the F law assumes.
  const int reps = 500, m = 20;
  const auto [lo, hi] = BinomialInterval(reps * m, 0.01);
  const int empirical = Exceedances(ThresholdMethod::kEmpirical, 4, reps, 1000, m, 0.01);
  const int f_law = Exceedances(ThresholdMethod::kFLaw, 4, reps, 1000, m, 0.01);
  EXPECT_GE(empirical, lo);
  EXPECT_LE(empirical, hi);
  EXPECT_GT(f_law, 2 * hi);
  std::printf("t(4) data: empirical %d, F law %d of %d exceed (95 %% interval [%d, %d])\n", empirical, f_law, reps * m, lo,
              hi);
}

TEST(Baseline, ScoreIsTheMahalanobisDistanceAndIsUnitFree) {
  Source s(5);
  Baseline b = Learn(Config(4), s, 2000);
  const RegimeModel* m = b.model(0);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kept, (std::vector<int>{0, 1, 2, 3}));
  const Eigen::MatrixXd inv = m->cov.inverse();
  // The same data in other units (feature 3 in mV instead of V) give the same distances.
  BaselineConfig c = Config(4);
  auto t = BaselineTrainer::Create(c);
  Source s2(5);
  for (int i = 0; i < 2000; ++i) {
    auto x = s2.Next();
    x[3] *= 1000;
    ASSERT_TRUE(t->AddToRegime(x, 0).ok());
  }
  auto scaled = t->Fit();
  ASSERT_TRUE(scaled.ok());
  Source probe(99);
  for (int i = 0; i < 50; ++i) {
    auto x = probe.Next();
    Eigen::Vector4d z;
    for (int j = 0; j < 4; ++j) z[j] = (x[j] - m->median[j]) / m->scale[j] - m->mean[j];
    auto r = b.Score(x, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->d2, z.dot(inv * z), 1e-9 * (1 + r->d2));
    EXPECT_EQ(r->exceeds, r->d2 > m->threshold);
    EXPECT_DOUBLE_EQ(r->ratio, r->d2 / m->threshold);
    x[3] *= 1000;
    EXPECT_NEAR(scaled->Score(x, 0)->d2, r->d2, 1e-7 * (1 + r->d2));
  }
}

TEST(Baseline, ScoreDoesNotAllocate) {
  Source s(6);
  Baseline b = Learn(Config(4), s, 500);
  std::vector<std::vector<double>> probes;
  for (int i = 0; i < 100; ++i) probes.push_back(s.Next());
  double sum = 0;
  const long before = g_allocations.load();
  for (const auto& x : probes) sum += b.Score(x, 0)->d2;
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(sum, 0);
}

TEST(Baseline, ConstantFeaturesAreDroppedWithTheReason) {
  BaselineConfig c = Config(4);
  c.features = {"T24", "setpoint", "bleed", "P30"};
  auto t = BaselineTrainer::Create(c);
  Source s(8);
  for (int i = 0; i < 300; ++i) {
    auto x = s.Next();
    x[1] = 100.0;                          // never moves
    x[2] = i % 100 == 7 ? 21.60 : 21.61;   // moves 3 times in 300: MAD 0
    ASSERT_TRUE(t->AddToRegime(x, 0).ok());
  }
  auto b = t->Fit();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const RegimeModel* m = b->model(0);
  EXPECT_EQ(m->kept, (std::vector<int>{0, 3}));
  ASSERT_EQ(m->dropped.size(), 2u);
  EXPECT_EQ(m->dropped[0].feature, "setpoint");
  EXPECT_EQ(m->dropped[0].reason, "MAD is 0: 300 of 300 samples equal 100 (sd 0)");
  EXPECT_EQ(m->dropped[1].feature, "bleed");
  // sd of 3 values 0.01 below 297 others: sqrt(3 * 297 / 300 * 1e-4 / 299) = 0.00099666.
  EXPECT_EQ(m->dropped[1].reason, "MAD is 0: 297 of 300 samples equal 21.61 (sd 0.000997)");
  // A feature that moves only by rounding noise around a large value.
  c.features = {"T24", "P30", "counter", "f3"};
  auto n = BaselineTrainer::Create(c);
  Source s2(8);
  for (int i = 0; i < 300; ++i) {
    auto x = s2.Next();
    x[2] = 1e6 + ((i % 4 == 0) ? -1e-6 : (i % 4 == 3) ? 1e-6 : 0.0);
    ASSERT_TRUE(n->AddToRegime(x, 0).ok());
  }
  auto nb = n->Fit();
  ASSERT_TRUE(nb.ok()) << nb.status().ToString();
  ASSERT_EQ(nb->model(0)->dropped.size(), 1u);
  const std::string& why = nb->model(0)->dropped[0].reason;
  EXPECT_EQ(why.rfind("near-constant: robust scale 7.41e-07 is below 0.001 (1e-09 x max(1, |median 1e+06|))", 0), 0u) << why;
  // A dropped feature may be NaN when scoring; a kept one may not.
  std::vector<double> x = {10, std::nan(""), std::nan(""), 100};
  EXPECT_TRUE(b->Score(x, 0).ok());
  x[3] = INFINITY;
  EXPECT_EQ(b->Score(x, 0).status(), Status(StatusCode::kInvalidArgument, "baseline 'pump3': feature 'P30' is infinite"));
}

TEST(Baseline, TooFewSamplesSaysHowManyAreNeeded) {
  BaselineConfig c = Config(4);
  auto t = BaselineTrainer::Create(c);
  Source s(9);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(t->AddToRegime(s.Next(), 0).ok());
  EXPECT_EQ(t->Fit().status(),
            Status(StatusCode::kFailedPrecondition,
                   "baseline 'pump3': regime 'all': 50 samples, at least 99 needed (4 features need 20; an empirical "
                   "1 % threshold needs 99)"));
  // The F law needs no tail samples, only enough for the covariance.
  c.threshold = ThresholdMethod::kFLaw;
  c.min_samples = 60;
  auto f = BaselineTrainer::Create(c);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(f->AddToRegime(s.Next(), 0).ok());
  EXPECT_EQ(f->Fit().status().message(),
            "baseline 'pump3': regime 'all': 50 samples, at least 60 needed (4 features need 20; min_samples is 60)");
}

TEST(Baseline, RegimesAndTransientsPerAsset) {
  BaselineConfig c = Config(4);
  c.regimes.variables = {{"speed", {0, 1000, 2000}}};
  c.regimes.transient = {0, 1800, 0.2, 50};  // below 360 rpm or faster than 50 rpm/s
  c.false_alarm_rate = 0.05;                 // needs 19 samples per regime; 4 features need 20
  auto t = BaselineTrainer::Create(c);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Source s(10);
  double time = 0;
  auto add = [&](double speed, double offset) {
    auto x = s.Next();
    for (double& v : x) v += offset;
    std::vector<double> r = {speed};
    return *t->Add(x, r, time += 1.0);
  };
  for (int i = 0; i < 10; ++i) EXPECT_EQ(add(30.0 * i, 0), RegimeState::kLowSpeed);  // run-up: 0..270 rpm
  EXPECT_EQ(add(500, 0), RegimeState::kFastChange);                                 // 230 rpm in 1 s
  for (int i = 0; i < 200; ++i) EXPECT_EQ(add(500 + (i % 3), 0), RegimeState::kSteady);
  EXPECT_EQ(add(1500, 50), RegimeState::kFastChange);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(add(1500 + (i % 2), 50), RegimeState::kSteady);
  EXPECT_EQ(add(2500, 0), RegimeState::kFastChange);  // the rate rule comes before the bins
  EXPECT_EQ(add(2510, 0), RegimeState::kOutOfRange);
  EXPECT_EQ(t->counts().Summary(), "230 steady, 10 low_speed, 3 fast_change, 1 out_of_range");
  EXPECT_EQ(t->samples(0), 200u);
  EXPECT_EQ(t->samples(1), 30u);
  auto b = t->Fit();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // Each regime has its own centre: a low-speed sample scored against the high-speed model is far.
  auto x = s.Next();
  EXPECT_LT(b->Score(x, 0)->d2, 60);
  EXPECT_GT(b->Score(x, 1)->d2, 1000);
  EXPECT_EQ(b->training_counts().by_state[static_cast<int>(RegimeState::kLowSpeed)], 10u);
  // Errors.
  EXPECT_EQ(b->Score(x, 2).status(), Status(StatusCode::kOutOfRange, "baseline 'pump3': regime 2 outside [0, 2)"));
  x.pop_back();
  EXPECT_EQ(b->Score(x, 0).status().message(), "baseline 'pump3': 3 feature values, expected 4");
}

TEST(Baseline, ARegimeWithoutSamplesHasNoModelAndAShortOneIsAnError) {
  BaselineConfig c = Config(4);
  c.regimes.variables = {{"load", {0, 0.5, 1.0, 1.5}}};
  auto t = BaselineTrainer::Create(c);
  Source s(12);
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(t->AddToRegime(s.Next(), 0).ok());
  auto b = t->Fit();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->model(1), nullptr);
  EXPECT_EQ(b->Score(s.Next(), 1).status(),
            Status(StatusCode::kFailedPrecondition, "baseline 'pump3': regime 'load[0.5, 1)' has no model (no training samples)"));
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(t->AddToRegime(s.Next(), 2).ok());
  EXPECT_EQ(t->Fit().status().message(),
            "baseline 'pump3': regime 'load[1, 1.5)': 30 samples, at least 99 needed (4 features need 20; an empirical 1 % "
            "threshold needs 99)");
}

TEST(Baseline, CollinearFeaturesAreAnErrorThatNamesThem) {
  BaselineConfig c = Config(3);
  c.features = {"current_a", "current_b", "current_sum"};
  auto t = BaselineTrainer::Create(c);
  Source s(13);
  for (int i = 0; i < 200; ++i) {
    auto x = s.Next();
    x[2] = x[0] + x[1];
    x.pop_back();
    ASSERT_TRUE(t->AddToRegime(x, 0).ok());
  }
  const Status st = t->Fit().status();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message().rfind("baseline 'pump3': regime 'all': calibration fold 1 of 5: covariance is singular", 0), 0u)
      << st.message();
  EXPECT_NE(st.message().find("'current_sum'"), std::string::npos) << st.message();
}

TEST(Baseline, ConfigAndInputErrors) {
  BaselineConfig c = Config(2);
  c.features[1] = "f0";
  EXPECT_EQ(BaselineTrainer::Create(c).status().message(), "baseline 'pump3': feature 'f0' is listed twice");
  c = Config(2);
  c.false_alarm_rate = 0.5;
  EXPECT_EQ(BaselineTrainer::Create(c).status().message(), "baseline 'pump3': false alarm rate 0.5 is outside (0, 0.5)");
  c = Config(2);
  c.regimes.variables = {{"speed", {2, 1}}};
  EXPECT_EQ(BaselineTrainer::Create(c).status().message(),
            "baseline 'pump3': regime variable 'speed': edges must be strictly ascending, but edge 1 (1) <= edge 0 (2)");
  auto t = BaselineTrainer::Create(Config(2));
  std::vector<double> x = {1, NAN};
  EXPECT_EQ(t->AddToRegime(x, 0).message(), "baseline 'pump3': training sample 0: feature 'f1' is NaN");
  EXPECT_EQ(t->AddToRegime({}, 0).message(), "baseline 'pump3': 0 feature values, expected 2");
  EXPECT_EQ(t->AddToRegime(x, 1).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(t->Fit().status().message(), "baseline 'pump3': no steady samples to learn from (0 steady)");
}

TEST(ConsecutiveExceedances, AlarmAtTheKthInARow) {
  ConsecutiveExceedances a(3);
  const bool in[] = {true, true, false, true, true, true, true, false};
  const bool out[] = {false, false, false, false, false, true, true, false};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(a.Update(in[i]), out[i]) << i;
}

}  // namespace
}  // namespace pf::detect
