#pragma once
// A learned normal baseline per asset and per operating regime, and its anomaly score.
//
// Learning (BaselineTrainer -> Baseline), per regime:
//   1. Features that are near-constant in the regime's samples are dropped with a reason: a MAD
//      of 0 (more than half the samples share one value, e.g. a setpoint or a quantised sensor that
//      never moves), or a robust scale below constant_rel_tol * max(1, |median|) (numerical noise
//      around a constant). They cannot be standardised and carry no information about health.
//   2. The kept features are standardised by median and MAD (unit-free, robust per feature).
//   3. Location and covariance of the standardised features by the reweighted MCD
//      (robust_covariance.h: why MCD rather than the classical estimate is explained there).
//   4. The score of a sample is its squared Mahalanobis distance d^2 from that fit.
//   5. The threshold is set for a target false-alarm rate alpha on the baseline, by one of:
//      kEmpirical (default): the k-th smallest of n calibration scores with k = ceil((n + 1)(1 -
//        alpha)). For n exchangeable scores and a new one from the same distribution this order
//        statistic is exceeded with probability at most alpha (and more than alpha - 1 / (n + 1)),
//        whatever the distribution: the split-conformal finite-sample correction (Vovk et al. 2005;
//        Lei et al. 2018). The calibration scores are out-of-fold: the samples are cut into
//        `calibration_folds` contiguous blocks in arrival order, and each block is scored by a fit
//        on the other blocks. In-sample distances are biased low (the fit has seen the point),
//        which would set the threshold too low; contiguous blocks (rather than interleaved ones)
//        keep autocorrelated neighbours, and in a fleet baseline whole assets, out of the fit that
//        scores them. Needs n >= (1 - alpha) / alpha samples (99 for 1 %).
//      kFLaw: for Gaussian data, a new point's d^2 with mean and covariance estimated from n points
//        satisfies n (n - p) / (p (n + 1)(n - 1)) d^2 ~ F(p, n - p) (Hotelling's T^2 prediction law;
//        Tracy, Young & Mason 1992), so the threshold is p (n + 1)(n - 1) / (n (n - p)) F^-1(1 -
//        alpha; p, n - p), with n the reweighting inliers. Exact for the classical estimate on
//        Gaussian data and close for the reweighted MCD there; wrong for skewed or heavy-tailed
//        features. Use it only when the features are known to be near Gaussian (averages of many
//        raw samples) and samples are few. calibration_exceedance (below) shows the misfit.
//   Either way the out-of-fold exceedance of the chosen threshold is stored as
//   calibration_exceedance, so an engineer can compare it with alpha.
//   A regime that received samples but fewer than it needs is an error that names the regime and
//   says how many it has and how many it needs (counted in independent samples: see
//   effective_sample_fraction); a regime that received none has no model and
//   Score() on it is kFailedPrecondition.
//
// Scoring: Baseline::Score(features, regime) standardises, whitens with the precomputed inverse
// Cholesky factor and returns d^2, the threshold and their ratio: ordinary numbers the caller
// publishes as tags (so SPC can chart them). It does not allocate (a per-regime workspace is
// reused), so a Baseline is not thread-safe: one per scoring thread (copies are cheap).
//
// Persistence: ToJson() / Baseline::FromJson() (baseline_json.cpp), format documented there.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Dense>

#include "core/status.h"
#include "detect/regime.h"
#include "detect/robust_covariance.h"

namespace pf::detect {

enum class ThresholdMethod : uint8_t { kEmpirical, kFLaw };
std::string_view ThresholdMethodName(ThresholdMethod m);  // "empirical", "f_law"

struct BaselineConfig {
  std::string asset;                  // "pump3": names the baseline in messages and JSON
  std::vector<std::string> features;  // feature names, in the order of every feature vector
  RegimeConfig regimes;
  double false_alarm_rate = 0.01;     // alpha, per scored sample, in (0, 0.5)
  ThresholdMethod threshold = ThresholdMethod::kEmpirical;
  int calibration_folds = 5;          // kEmpirical: contiguous out-of-fold blocks, >= 2
  McdOptions mcd;
  size_t min_samples = 0;             // per regime, on top of the statistical minimum
  // Samples are overlapping analysis windows with hop / window = this fraction (1-s windows every
  // 0.05 s: 0.05). n of them span (n - 1) f + 1 windows of signal, and that is the number of
  // independent samples the sample-size minimums and the F-law's n use: 41 windows cut from 3 s of
  // signal are 3 independent samples, however many windows they are cut into.
  double effective_sample_fraction = 1.0;  // in (0, 1]
  double constant_rel_tol = 1e-9;

  Status Validate() const;
};

struct DroppedFeature {
  std::string feature;
  std::string reason;  // "MAD is 0: 2399 of 2400 samples equal 21.61 (sd 0.0014)"
};

// One regime's learned model. Vectors have one entry per kept feature.
struct RegimeModel {
  int regime = -1;
  std::string name;           // RegimeConfig::RegimeName(regime)
  size_t samples = 0;         // learned from
  size_t inliers = 0;         // kept by the MCD reweighting
  std::vector<int> kept;      // indices into BaselineConfig::features
  std::vector<DroppedFeature> dropped;
  Eigen::VectorXd median, scale;  // standardisation: z = (x - median) / scale
  Eigen::VectorXd mean;           // MCD location of z
  Eigen::MatrixXd cov;            // MCD covariance of z
  double threshold = 0;           // on d^2
  double calibration_exceedance = 0;  // share of out-of-fold scores above threshold

  // Derived (not serialised): whitening = L^-1 with cov = L L^T; work is Score's workspace.
  Eigen::MatrixXd whitening;
  mutable Eigen::VectorXd work;
  Status Prepare();  // computes whitening and sizes the workspace; kFailedPrecondition if cov is not PD
};

struct AnomalyScore {
  double d2 = 0;         // squared Mahalanobis distance
  double threshold = 0;  // d2 above it is an exceedance
  double ratio = 0;      // d2 / threshold: 1 is the threshold, in every regime
  bool exceeds = false;
};

class Baseline {
 public:
  Baseline() = default;

  // features: one value per BaselineConfig::features (dropped ones are ignored); regime: from a
  // RegimeClassifier built on config().regimes. Errors: kInvalidArgument for a wrong feature
  // count or a non-finite kept feature ("feature 's3' is NaN"), kOutOfRange for a regime index
  // outside the configuration, kFailedPrecondition for a regime without a model. No allocation
  // on success.
  Result<AnomalyScore> Score(std::span<const double> features, int regime) const;

  const BaselineConfig& config() const { return config_; }
  // nullptr when the regime has no model.
  const RegimeModel* model(int regime) const;
  const std::vector<RegimeModel>& models() const { return models_; }
  const RegimeCounts& training_counts() const { return counts_; }

  std::string ToJson() const;
  static Result<Baseline> FromJson(std::string_view text);

 private:
  friend class BaselineTrainer;
  BaselineConfig config_;
  std::vector<RegimeModel> models_;  // sorted by regime
  std::vector<int> model_of_;        // regime -> index into models_, -1 when none
  RegimeCounts counts_;
};

class BaselineTrainer {
 public:
  // Validates the configuration (precise errors from BaselineConfig::Validate()).
  static Result<BaselineTrainer> Create(BaselineConfig config);

  // One training sample: features (one per configured feature) and regime values (one per regime
  // variable) at t_seconds. Transients and out-of-range samples are counted, not learned: the
  // returned state says which. Errors (kInvalidArgument) for wrong sizes or a non-finite feature.
  Result<RegimeState> Add(std::span<const double> features, std::span<const double> regime_values,
                          double t_seconds);
  // Skips the classifier: the caller knows the regime (e.g. a single-regime fleet baseline).
  Status AddToRegime(std::span<const double> features, int regime);

  // Learns every regime that has samples. kFailedPrecondition listing each regime that has too
  // few ("regime 'speed[900, 1200)': 43 samples, at least 99 needed (...)").
  Result<Baseline> Fit() const;

  const RegimeCounts& counts() const { return counts_; }
  size_t samples(int regime) const;

 private:
  explicit BaselineTrainer(BaselineConfig config);
  Status CheckFeatures(std::span<const double> features) const;

  BaselineConfig config_;
  RegimeClassifier classifier_;
  std::vector<std::vector<double>> rows_;  // per regime: samples x features, row-major
  RegimeCounts counts_;
};

// Minimum number of samples a regime needs with p kept features, and why (for messages).
size_t RequiredSamples(const BaselineConfig& config, size_t p, std::string* why = nullptr);

// Alarm debouncing: an alarm is raised at the k-th consecutive exceedance and cleared by the
// first non-exceedance. Pure, no allocation.
class ConsecutiveExceedances {
 public:
  explicit ConsecutiveExceedances(int k) : k_(k < 1 ? 1 : k) {}
  // Returns true while in alarm.
  bool Update(bool exceeds) {
    run_ = exceeds ? run_ + 1 : 0;
    return run_ >= k_;
  }
  void Reset() { run_ = 0; }
  int k() const { return k_; }

 private:
  int k_;
  int run_ = 0;
};

}  // namespace pf::detect
