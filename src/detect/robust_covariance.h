#pragma once
// Robust location and scatter for baseline learning.
//
// Why robust: a baseline window of a real machine nearly always holds a few samples that are not
// normal operation (a sensor glitch, an unflagged transient, a process upset). The classical
// mean and covariance are pulled towards them, which both inflates the covariance (masking later
// faults) and shrinks the distance of the outliers themselves. Two layers:
//   1. ColumnMedianMad: each feature is centred on its median and scaled by its MAD (x 1.4826,
//      the factor that makes the MAD estimate a Gaussian sigma). Unit-free features, 50 %
//      breakdown per feature, and the place where near-constant features show up (MAD 0).
//   2. FitMcd: the Minimum Covariance Determinant estimator (Rousseeuw 1984) by C-steps
//      (Rousseeuw & Van Driessen 1999, "A fast algorithm for the MCD estimator"): the h-subset
//      (h = coverage * n) whose covariance has the smallest determinant, found by iterating
//      "take the h points closest to the current fit" from deterministic starts (in the spirit of
//      DetMCD, Hubert, Rousseeuw & Verdonck 2012, so that a baseline is reproducible: no random
//      subsets). The raw estimate is made consistent at the Gaussian (Croux & Haesbroeck 1999),
//      then reweighted: the points within the 0.975 chi-square quantile are kept and their mean and
//      covariance (again made consistent) are the next estimate, iterated until the kept set no
//      longer changes (at most 20 steps; why: see FitMcd). Breakdown 1 - coverage.
//   An optional shrinkage towards the diagonal, S = (1 - l) S + l diag(S), applied to every
//   covariance the algorithm forms, keeps near-collinear features usable; with l = 0 a singular
//   covariance is an error that names the features.
// Cost: O(starts * steps * n * p^2); a few milliseconds for n = 2400, p = 14. Fit time only.
// Pure and thread-safe (no shared state).
#include <span>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "core/status.h"

namespace pf::detect {

constexpr double kMadToSigma = 1.482602218505602;  // 1 / Phi^-1(3/4)

struct MedianMad {
  Eigen::VectorXd median;
  Eigen::VectorXd mad;  // already multiplied by kMadToSigma
};
// Per column of x (rows = samples). x must have at least one row.
MedianMad ColumnMedianMad(const Eigen::MatrixXd& x);

struct McdOptions {
  double coverage = 0.75;          // h / n, in [0.5, 1]; 1 - coverage is the breakdown point
  double reweight_quantile = 0.975;  // chi-square quantile that decides the reweighting inliers
  double shrinkage = 0.0;          // l in [0, 1): weight of diag(S) in the final covariance
  int max_csteps = 200;
};

struct RobustEstimate {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  size_t inliers = 0;  // points kept by the last reweighting step
  size_t h = 0;        // size of the MCD subset
};

// x: n x p with n > p. names (p entries, or empty) only serve the error messages.
// Errors: kInvalidArgument for bad options or n <= p; kFailedPrecondition when the covariance
// is singular ("... features 's9' and 's14' are (nearly) collinear ...").
Result<RobustEstimate> FitMcd(const Eigen::MatrixXd& x, const McdOptions& options,
                              std::span<const std::string> names = {});

// Squared Mahalanobis distances of the rows of x from (mean, cov); cov must be positive definite.
Eigen::VectorXd SquaredDistances(const Eigen::MatrixXd& x, const Eigen::VectorXd& mean,
                                 const Eigen::MatrixXd& cov);

}  // namespace pf::detect
