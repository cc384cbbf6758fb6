#include "detect/baseline.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "detect/distributions.h"

namespace pf::detect {
namespace {

std::string_view NonFiniteName(double v) { return std::isnan(v) ? "NaN" : "infinite"; }

// The regime's samples as an n x F matrix.
Eigen::MatrixXd ToMatrix(const std::vector<double>& flat, size_t f) {
  const size_t n = flat.size() / f;
  Eigen::MatrixXd x(n, f);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < f; ++j) x(i, j) = flat[i * f + j];
  return x;
}

// Why column j cannot be standardised, or "" when it can.
std::string ConstantReason(const Eigen::VectorXd& col, double median, double mad, double rel_tol) {
  const double mean = col.mean();
  const double sd = col.size() > 1 ? std::sqrt((col.array() - mean).square().sum() / (col.size() - 1)) : 0.0;
  if (mad == 0.0) {
    const auto same = (col.array() == median).count();
    return fmt::format("MAD is 0: {} of {} samples equal {:g} (sd {:.3g})", same, col.size(), median, sd);
  }
  const double floor = rel_tol * std::max(1.0, std::fabs(median));
  if (mad < floor) {
    return fmt::format("near-constant: robust scale {:.3g} is below {:.3g} ({:g} x max(1, |median {:g}|))", mad, floor,
                       rel_tol, median);
  }
  return "";
}

// Order-statistic threshold with the finite-sample correction: the ceil((n + 1)(1 - alpha))-th
// smallest score. The 1e-9 keeps (n + 1)(1 - alpha) = 99.000000000001 from becoming 100.
double EmpiricalThreshold(std::vector<double> scores, double alpha) {
  const size_t n = scores.size();
  size_t k = static_cast<size_t>(std::ceil((n + 1) * (1.0 - alpha) - 1e-9));
  k = std::clamp<size_t>(k, 1, n);
  std::nth_element(scores.begin(), scores.begin() + (k - 1), scores.end());
  return scores[k - 1];
}

// n windows with hop / window = f span (n - 1) f + 1 windows' worth of signal: that many are independent.
double EffectiveSamples(size_t n, double f) { return n == 0 ? 0.0 : static_cast<double>(n - 1) * f + 1.0; }

// n_in may be fractional: the effective number of independent samples.
double FLawThreshold(double n_in, size_t p_in, double alpha) {
  const double n = n_in, p = static_cast<double>(p_in);
  return p * (n + 1) * (n - 1) / (n * (n - p)) * FQuantile(1.0 - alpha, p, n - p);
}

}  // namespace

std::string_view ThresholdMethodName(ThresholdMethod m) {
  return m == ThresholdMethod::kFLaw ? "f_law" : "empirical";
}

Status BaselineConfig::Validate() const {
  const std::string who = fmt::format("baseline '{}'", asset);
  if (asset.empty()) return InvalidArgument("baseline: asset name is empty");
  if (features.empty()) return InvalidArgument("{}: no features", who);
  std::set<std::string> seen;
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].empty()) return InvalidArgument("{}: feature #{} has an empty name", who, i);
    if (!seen.insert(features[i]).second) return InvalidArgument("{}: feature '{}' is listed twice", who, features[i]);
  }
  if (!(false_alarm_rate > 0 && false_alarm_rate < 0.5)) {
    return InvalidArgument("{}: false alarm rate {:g} is outside (0, 0.5)", who, false_alarm_rate);
  }
  if (calibration_folds < 2) return InvalidArgument("{}: calibration folds {} < 2", who, calibration_folds);
  if (!(mcd.coverage >= 0.5 && mcd.coverage <= 1.0)) return InvalidArgument("{}: mcd coverage {:g} is outside [0.5, 1]", who, mcd.coverage);
  if (!(mcd.reweight_quantile > 0.5 && mcd.reweight_quantile < 1.0)) {
    return InvalidArgument("{}: reweight quantile {:g} is outside (0.5, 1)", who, mcd.reweight_quantile);
  }
  if (!(mcd.shrinkage >= 0 && mcd.shrinkage < 1)) return InvalidArgument("{}: shrinkage {:g} is outside [0, 1)", who, mcd.shrinkage);
  if (!(effective_sample_fraction > 0 && effective_sample_fraction <= 1)) {
    return InvalidArgument("{}: effective sample fraction {:g} is outside (0, 1]", who, effective_sample_fraction);
  }
  if (!(constant_rel_tol >= 0)) return InvalidArgument("{}: constant tolerance {:g} < 0", who, constant_rel_tol);
  PF_RETURN_IF_ERROR_CTX(regimes.Validate(), "{}", who);
  return Status::Ok();
}

size_t RequiredSamples(const BaselineConfig& c, size_t p, std::string* why) {
  // n / p >= 5 is the usual rule of thumb for a stable robust covariance (Rousseeuw & van Zomeren 1990).
  const size_t by_features = std::max<size_t>(5 * p, p + 2);
  size_t by_threshold = 0;
  if (c.threshold == ThresholdMethod::kEmpirical) {
    by_threshold = static_cast<size_t>(std::ceil((1.0 - c.false_alarm_rate) / c.false_alarm_rate - 1e-9));
  }
  const size_t need = std::max({by_features, by_threshold, c.min_samples});
  if (why) {
    *why = fmt::format("{} features need {}", p, by_features);
    if (by_threshold) *why += fmt::format("; an empirical {:g} % threshold needs {}", 100 * c.false_alarm_rate, by_threshold);
    if (c.min_samples) *why += fmt::format("; min_samples is {}", c.min_samples);
  }
  return need;
}

Status RegimeModel::Prepare() {
  const Eigen::Index p = static_cast<Eigen::Index>(kept.size());
  if (median.size() != p || scale.size() != p || mean.size() != p || cov.rows() != p || cov.cols() != p) {
    return Internal("regime '{}': model vectors do not match {} kept features", name, p);
  }
  Eigen::LLT<Eigen::MatrixXd> llt(cov);
  if (llt.info() != Eigen::Success) return FailedPrecondition("regime '{}': covariance is not positive definite", name);
  Eigen::MatrixXd l = llt.matrixL();
  whitening = l.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(p, p));
  work = Eigen::VectorXd::Zero(p);
  return Status::Ok();
}

const RegimeModel* Baseline::model(int regime) const {
  if (regime < 0 || regime >= static_cast<int>(model_of_.size()) || model_of_[regime] < 0) return nullptr;
  return &models_[model_of_[regime]];
}

Result<AnomalyScore> Baseline::Score(std::span<const double> features, int regime) const {
  if (features.size() != config_.features.size()) {
    return InvalidArgument("baseline '{}': {} feature values, expected {}", config_.asset, features.size(),
                           config_.features.size());
  }
  if (regime < 0 || regime >= static_cast<int>(model_of_.size())) {
    return OutOfRange("baseline '{}': regime {} outside [0, {})", config_.asset, regime, model_of_.size());
  }
  const RegimeModel* m = model(regime);
  if (!m) {
    return FailedPrecondition("baseline '{}': regime '{}' has no model (no training samples)", config_.asset,
                              config_.regimes.RegimeName(regime));
  }
  const size_t p = m->kept.size();
  for (size_t j = 0; j < p; ++j) {
    const double x = features[m->kept[j]];
    if (!std::isfinite(x)) {
      return InvalidArgument("baseline '{}': feature '{}' is {}", config_.asset, config_.features[m->kept[j]],
                             NonFiniteName(x));
    }
    m->work[j] = (x - m->median[j]) / m->scale[j] - m->mean[j];
  }
  // d^2 = |L^-1 (z - mean)|^2, with the lower-triangular L^-1 precomputed.
  double d2 = 0;
  for (size_t i = 0; i < p; ++i) {
    double s = 0;
    for (size_t j = 0; j <= i; ++j) s += m->whitening(i, j) * m->work[j];
    d2 += s * s;
  }
  AnomalyScore out;
  out.d2 = d2;
  out.threshold = m->threshold;
  out.ratio = d2 / m->threshold;
  out.exceeds = d2 > m->threshold;
  return out;
}

BaselineTrainer::BaselineTrainer(BaselineConfig config)
    : config_(std::move(config)), classifier_(config_.regimes), rows_(config_.regimes.RegimeCount()) {}

Result<BaselineTrainer> BaselineTrainer::Create(BaselineConfig config) {
  PF_RETURN_IF_ERROR(config.Validate());
  return BaselineTrainer(std::move(config));
}

size_t BaselineTrainer::samples(int regime) const { return rows_[regime].size() / config_.features.size(); }

Status BaselineTrainer::CheckFeatures(std::span<const double> features) const {
  if (features.size() != config_.features.size()) {
    return InvalidArgument("baseline '{}': {} feature values, expected {}", config_.asset, features.size(),
                           config_.features.size());
  }
  for (size_t j = 0; j < features.size(); ++j) {
    if (!std::isfinite(features[j])) {
      return InvalidArgument("baseline '{}': training sample {}: feature '{}' is {}", config_.asset,
                             counts_.by_state[0] + counts_.excluded(), config_.features[j], NonFiniteName(features[j]));
    }
  }
  return Status::Ok();
}

Result<RegimeState> BaselineTrainer::Add(std::span<const double> features, std::span<const double> regime_values,
                                         double t_seconds) {
  if (regime_values.size() != config_.regimes.variables.size()) {
    return InvalidArgument("baseline '{}': {} regime values, expected {}", config_.asset, regime_values.size(),
                           config_.regimes.variables.size());
  }
  PF_RETURN_IF_ERROR(CheckFeatures(features));
  const RegimeVerdict v = classifier_.Classify(regime_values, t_seconds);
  ++counts_.by_state[static_cast<int>(v.state)];
  if (v.state == RegimeState::kSteady) rows_[v.regime].insert(rows_[v.regime].end(), features.begin(), features.end());
  return v.state;
}

Status BaselineTrainer::AddToRegime(std::span<const double> features, int regime) {
  if (regime < 0 || regime >= static_cast<int>(rows_.size())) {
    return OutOfRange("baseline '{}': regime {} outside [0, {})", config_.asset, regime, rows_.size());
  }
  PF_RETURN_IF_ERROR(CheckFeatures(features));
  ++counts_.by_state[0];
  rows_[regime].insert(rows_[regime].end(), features.begin(), features.end());
  return Status::Ok();
}

namespace {

// d^2 of each row of z from a fit on the other blocks: `folds` contiguous blocks in arrival order
// (why contiguous and why out-of-fold: see baseline.h).
Result<std::vector<double>> OutOfFoldScores(const Eigen::MatrixXd& z, const BaselineConfig& c,
                                            std::span<const std::string> names) {
  const Eigen::Index n = z.rows(), p = z.cols();
  const int folds = c.calibration_folds;
  std::vector<double> oof(n);
  for (int k = 0; k < folds; ++k) {
    const Eigen::Index lo = n * k / folds, hi = n * (k + 1) / folds;
    Eigen::MatrixXd train(n - (hi - lo), p);
    train.topRows(lo) = z.topRows(lo);
    train.bottomRows(n - hi) = z.bottomRows(n - hi);
    auto fit = FitMcd(train, c.mcd, names);
    if (!fit.ok()) return fit.status().WithContext(fmt::format("calibration fold {} of {}", k + 1, folds));
    const Eigen::VectorXd d = SquaredDistances(z.middleRows(lo, hi - lo), fit->mean, fit->cov);
    for (Eigen::Index i = lo; i < hi; ++i) oof[i] = d[i - lo];
  }
  return oof;
}

// Learns one regime from x (n x F). Errors carry the regime's name.
Result<RegimeModel> FitRegime(const BaselineConfig& c, int regime, const Eigen::MatrixXd& x) {
  RegimeModel m;
  m.regime = regime;
  m.name = c.regimes.RegimeName(regime);
  m.samples = static_cast<size_t>(x.rows());
  const MedianMad mm = ColumnMedianMad(x);
  for (int j = 0; j < x.cols(); ++j) {
    std::string reason = ConstantReason(x.col(j), mm.median(j), mm.mad(j), c.constant_rel_tol);
    if (reason.empty()) m.kept.push_back(j);
    else m.dropped.push_back({c.features[j], std::move(reason)});
  }
  const size_t p = m.kept.size();
  if (p == 0) return FailedPrecondition("regime '{}': every feature is constant, nothing to learn", m.name);
  std::string why;
  const size_t need = RequiredSamples(c, p, &why);
  const double independent = EffectiveSamples(m.samples, c.effective_sample_fraction);
  if (independent + 1e-9 < static_cast<double>(need)) {
    if (c.effective_sample_fraction < 1) {
      return FailedPrecondition(
          "regime '{}': {} overlapping samples are {:.1f} independent ones (fraction {:g}), at least {} needed ({})",
          m.name, m.samples, independent, c.effective_sample_fraction, need, why);
    }
    return FailedPrecondition("regime '{}': {} samples, at least {} needed ({})", m.name, m.samples, need, why);
  }
  m.median.resize(p);
  m.scale.resize(p);
  std::vector<std::string> names;
  Eigen::MatrixXd z(x.rows(), p);
  for (size_t j = 0; j < p; ++j) {
    m.median[j] = mm.median(m.kept[j]);
    m.scale[j] = mm.mad(m.kept[j]);
    z.col(j) = (x.col(m.kept[j]).array() - m.median[j]) / m.scale[j];
    names.push_back(c.features[m.kept[j]]);
  }
  auto scores = OutOfFoldScores(z, c, names);
  if (!scores.ok()) return scores.status().WithContext(fmt::format("regime '{}'", m.name));
  const std::vector<double>& oof = *scores;
  const Eigen::Index n = z.rows();
  auto fit = FitMcd(z, c.mcd, names);
  if (!fit.ok()) return fit.status().WithContext(fmt::format("regime '{}'", m.name));
  m.mean = fit->mean;
  m.cov = fit->cov;
  m.inliers = fit->inliers;
  m.threshold = c.threshold == ThresholdMethod::kEmpirical ? EmpiricalThreshold(oof, c.false_alarm_rate)
                                                           : FLawThreshold(EffectiveSamples(m.inliers, c.effective_sample_fraction), p,
                                                                           c.false_alarm_rate);
  m.calibration_exceedance =
      static_cast<double>(std::count_if(oof.begin(), oof.end(), [&](double d) { return d > m.threshold; })) / n;
  PF_RETURN_IF_ERROR(m.Prepare());
  return m;
}

}  // namespace

Result<Baseline> BaselineTrainer::Fit() const {
  Baseline b;
  b.config_ = config_;
  b.counts_ = counts_;
  b.model_of_.assign(rows_.size(), -1);
  std::vector<std::string> errors;
  bool any = false;
  for (size_t r = 0; r < rows_.size(); ++r) {
    if (rows_[r].empty()) continue;
    any = true;
    auto m = FitRegime(config_, static_cast<int>(r), ToMatrix(rows_[r], config_.features.size()));
    if (!m.ok()) {
      if (m.status().code() != StatusCode::kFailedPrecondition) return m.status().WithContext(fmt::format("baseline '{}'", config_.asset));
      errors.push_back(m.status().message());
      continue;
    }
    b.model_of_[r] = static_cast<int>(b.models_.size());
    b.models_.push_back(std::move(m).value());
  }
  if (!any) return FailedPrecondition("baseline '{}': no steady samples to learn from ({})", config_.asset, counts_.Summary());
  if (!errors.empty()) return FailedPrecondition("baseline '{}': {}", config_.asset, fmt::join(errors, "; "));
  return b;
}

}  // namespace pf::detect
