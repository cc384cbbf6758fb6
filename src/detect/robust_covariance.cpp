#include "detect/robust_covariance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "detect/distributions.h"

namespace pf::detect {
namespace {

double Median(std::vector<double>& v) {
  const size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double hi = v[mid];
  if (n % 2 == 1) return hi;
  return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + mid));
}

// Croux & Haesbroeck (1999): the covariance of the Gaussian points with d^2 <= chi2_p(q) is
// P(chi2_{p+2} <= chi2_p(q)) / q times the true one; this factor undoes that.
double ConsistencyFactor(double q, int p) {
  const double cut = ChiSquareQuantile(q, p);
  const double frac = ChiSquareCdf(cut, p + 2);
  return frac > 0.0 ? q / frac : 1.0;
}

struct Fit {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  double log_det = std::numeric_limits<double>::infinity();
};

Fit MeanCov(const Eigen::MatrixXd& x, const std::vector<int>& rows, double shrinkage) {
  Fit f;
  const int p = static_cast<int>(x.cols());
  f.mean = Eigen::VectorXd::Zero(p);
  for (int r : rows) f.mean += x.row(r).transpose();
  f.mean /= static_cast<double>(rows.size());
  f.cov = Eigen::MatrixXd::Zero(p, p);
  for (int r : rows) {
    const Eigen::VectorXd d = x.row(r).transpose() - f.mean;
    f.cov.selfadjointView<Eigen::Lower>().rankUpdate(d);
  }
  f.cov = f.cov.selfadjointView<Eigen::Lower>();
  f.cov /= static_cast<double>(rows.size() - 1);
  if (shrinkage > 0) {
    const Eigen::VectorXd diag = f.cov.diagonal();
    f.cov *= 1.0 - shrinkage;
    f.cov.diagonal() += shrinkage * diag;
  }
  Eigen::LLT<Eigen::MatrixXd> llt(f.cov);
  if (llt.info() == Eigen::Success) {
    f.log_det = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  }
  return f;
}

// Indices of the h smallest entries of d.
std::vector<int> Smallest(const Eigen::VectorXd& d, size_t h) {
  std::vector<int> idx(d.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::nth_element(idx.begin(), idx.begin() + (h - 1), idx.end(),
                   [&](int a, int b) { return d[a] < d[b] || (d[a] == d[b] && a < b); });
  idx.resize(h);
  std::sort(idx.begin(), idx.end());
  return idx;
}

// C-steps from an initial subset until the determinant stops falling.
Fit Concentrate(const Eigen::MatrixXd& x, std::vector<int> subset, size_t h, int max_steps,
                double shrinkage) {
  Fit best = MeanCov(x, subset, shrinkage);
  for (int step = 0; step < max_steps && std::isfinite(best.log_det); ++step) {
    std::vector<int> next = Smallest(SquaredDistances(x, best.mean, best.cov), h);
    if (next == subset) break;
    Fit f = MeanCov(x, next, shrinkage);
    if (!(f.log_det < best.log_det)) break;
    best = std::move(f);
    subset = std::move(next);
  }
  return best;
}

std::string Name(std::span<const std::string> names, int i) {
  return i < static_cast<int>(names.size()) ? "'" + names[i] + "'" : fmt::format("#{}", i);
}

// A singular covariance: names the features that load on the null direction.
Status SingularError(const Eigen::MatrixXd& cov, std::span<const std::string> names) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  const Eigen::VectorXd v = eig.eigenvectors().col(0);
  std::vector<int> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  std::string who;
  for (size_t k = 0; k < order.size() && k < 3 && std::fabs(v[order[k]]) > 0.1; ++k) {
    who += (k ? " and " : "") + Name(names, order[k]);
  }
  return FailedPrecondition(
      "covariance is singular (smallest eigenvalue {:.3g}, largest {:.3g}): features {} are (nearly) "
      "collinear; drop one of them or set shrinkage > 0",
      eig.eigenvalues()(0), eig.eigenvalues()(eig.eigenvalues().size() - 1), who);
}

bool WellConditioned(const Eigen::MatrixXd& cov) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov, Eigen::EigenvaluesOnly);
  const auto& ev = eig.eigenvalues();
  return ev(0) > 1e-12 * std::max(ev(ev.size() - 1), 1e-300);
}

}  // namespace

MedianMad ColumnMedianMad(const Eigen::MatrixXd& x) {
  MedianMad out;
  out.median.resize(x.cols());
  out.mad.resize(x.cols());
  std::vector<double> v(x.rows());
  for (int j = 0; j < x.cols(); ++j) {
    for (int i = 0; i < x.rows(); ++i) v[i] = x(i, j);
    const double med = Median(v);
    for (int i = 0; i < x.rows(); ++i) v[i] = std::fabs(x(i, j) - med);
    out.median(j) = med;
    out.mad(j) = kMadToSigma * Median(v);
  }
  return out;
}

Eigen::VectorXd SquaredDistances(const Eigen::MatrixXd& x, const Eigen::VectorXd& mean,
                                 const Eigen::MatrixXd& cov) {
  Eigen::LLT<Eigen::MatrixXd> llt(cov);
  Eigen::MatrixXd centred = (x.rowwise() - mean.transpose()).transpose();  // p x n
  llt.matrixL().solveInPlace(centred);
  return centred.colwise().squaredNorm().transpose();
}

Result<RobustEstimate> FitMcd(const Eigen::MatrixXd& x, const McdOptions& o,
                              std::span<const std::string> names) {
  const int n = static_cast<int>(x.rows()), p = static_cast<int>(x.cols());
  if (!(o.coverage >= 0.5 && o.coverage <= 1.0)) {
    return InvalidArgument("mcd coverage {} is outside [0.5, 1]", o.coverage);
  }
  if (!(o.reweight_quantile > 0.5 && o.reweight_quantile < 1.0)) {
    return InvalidArgument("reweight quantile {} is outside (0.5, 1)", o.reweight_quantile);
  }
  if (!(o.shrinkage >= 0.0 && o.shrinkage < 1.0)) {
    return InvalidArgument("shrinkage {} is outside [0, 1)", o.shrinkage);
  }
  if (p < 1 || n <= p + 1) return InvalidArgument("{} samples of {} features: need more samples than features + 1", n, p);
  const size_t h = std::max<size_t>(static_cast<size_t>(std::ceil(o.coverage * n)), (n + p + 2) / 2);

  // Deterministic starts: the h points nearest the coordinatewise median (in MAD units), and the h
  // points nearest the classical mean in the classical metric.
  const MedianMad mm = ColumnMedianMad(x);
  Eigen::VectorXd d0(n);
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < p; ++j) {
      const double z = (x(i, j) - mm.median(j)) / (mm.mad(j) > 0 ? mm.mad(j) : 1.0);
      s += z * z;
    }
    d0(i) = s;
  }
  std::vector<Fit> fits;
  fits.push_back(Concentrate(x, Smallest(d0, h), h, o.max_csteps, o.shrinkage));
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  const Fit classical = MeanCov(x, all, o.shrinkage);
  if (std::isfinite(classical.log_det)) {
    fits.push_back(Concentrate(x, Smallest(SquaredDistances(x, classical.mean, classical.cov), h), h,
                                o.max_csteps, o.shrinkage));
  }
  const Fit* best = &fits[0];
  for (const Fit& f : fits) if (f.log_det < best->log_det) best = &f;
  if (!std::isfinite(best->log_det)) return SingularError(best->cov, names);

  // Raw MCD made consistent, then reweighting: keep the points within the chi-square cutoff of the
  // current estimate, re-estimate, repeat until the kept set stops changing. The raw factor assumes
  // the h points are the central h / n of a Gaussian; under contamination they are a larger share
  // of the clean points, so one step alone overstates the covariance (by about 5 % with 20 %
  // outliers); the fixed point keeps the central 97.5 % of the clean points, as the final factor
  // assumes.
  const double coverage = static_cast<double>(h) / n;
  const double cut = ChiSquareQuantile(o.reweight_quantile, p);
  const double final_factor = ConsistencyFactor(o.reweight_quantile, p);
  Eigen::VectorXd mean = best->mean;
  Eigen::MatrixXd cov = best->cov * ConsistencyFactor(coverage, p);
  std::vector<int> keep;
  for (int step = 0; step < 20; ++step) {
    const Eigen::VectorXd d = SquaredDistances(x, mean, cov);
    std::vector<int> next;
    for (int i = 0; i < n; ++i) if (d(i) <= cut) next.push_back(i);
    if (static_cast<int>(next.size()) <= p + 1) next = Smallest(d, h);
    if (next == keep) break;
    keep = std::move(next);
    Fit rw = MeanCov(x, keep, o.shrinkage);
    if (!std::isfinite(rw.log_det)) return SingularError(rw.cov, names);
    mean = rw.mean;
    cov = rw.cov * final_factor;
  }
  RobustEstimate out;
  out.mean = mean;
  out.cov = cov;
  if (!WellConditioned(out.cov)) return SingularError(out.cov, names);
  out.inliers = keep.size();
  out.h = h;
  return out;
}

}  // namespace pf::detect
