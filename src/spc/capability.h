#pragma once
// Process capability of one quality characteristic against its specification limits.
//
// Indices (mu = sample mean; sigma_within is the caller's short-term estimate, e.g. R-bar/d2,
// S-bar/c4 or MR-bar/d2; sigma_overall is the sample standard deviation with n - 1):
//   Cp  = (USL - LSL) / (6 sigma_within)              Pp  = same with sigma_overall
//   Cpu = (USL - mu) / (3 sigma_within), Cpl = (mu - LSL) / (3 sigma_within), Cpk = min(Cpu, Cpl)
//                                                     Ppu, Ppl, Ppk = same with sigma_overall
//   Cpm = min(T - LSL, USL - T) / (3 tau), tau = sqrt(sigma_overall^2 + (mu - T)^2)
//         (Taguchi index, Montgomery's estimator; with T at the middle of the specs this is
//         (USL - LSL) / (6 tau)). T = `target`, else the middle of LSL and USL.
// One-sided specs: Cpk = Cpu or Cpl (Ppk likewise); Cp, Pp are nullopt; Cpm needs `target`.
//
// Confidence intervals at `confidence` (two-sided, equal tails):
//   Cp, Pp:   chi-square: C * sqrt(chi2_{a/2, n-1} / (n-1)) .. C * sqrt(chi2_{1-a/2, n-1} / (n-1)).
//             For Cp the n - 1 degrees of freedom ignore that sigma_within came from ranges or
//             moving ranges (as Montgomery and qcc do); the interval is then slightly narrow.
//   Cpk, Ppk: Bissell's (1990) normal approximation: C -/+ z_{1-a/2} sqrt(1/(9n) + C^2/(2(n-1))).
//
// Expected ppm under a normal model: 1e6 Phi((LSL - mu)/sigma) below, 1e6 (1 - Phi((USL - mu)/sigma))
// above, for sigma_within (expected_ppm_*) and sigma_overall (expected_ppm_*_overall); a missing
// limit contributes 0. Observed ppm: the share of values strictly outside the limits, times 1e6.
//
// Normality: Anderson-Darling A^2 with the estimated mean and sigma_overall, adjusted for small
// samples A*^2 = A^2 (1 + 0.75/n + 2.25/n^2), with D'Agostino & Stephens' (1986, table 4.9)
// p-value approximation (the one R's nortest::ad.test uses). normal = p >= ad_alpha.
// For n < 8 the p-value approximation is unreliable; a warning says so.
//
// Percentile indices (ISO 22514-2, percentile method): with the empirical 0.135 %, 50 % and
// 99.865 % quantiles X_l, X_m, X_u of the data (Hyndman & Fan type 7: linear interpolation
// between order statistics at h = (n - 1) p, as R's quantile() default),
//   percentile_pp  = (USL - LSL) / (X_u - X_l)
//   percentile_ppk = min((USL - X_m) / (X_u - X_m), (X_m - LSL) / (X_m - X_l)).
// They are always computed; they matter when normality is rejected. With 741 values or fewer
// X_l and X_u are interpolated between the two smallest / largest values (a warning says so).
//
// Errors (all kInvalidArgument): fewer than 2 values; a NaN or infinite value ("value 17 of 125
// is NaN"); sigma_within not finite and > 0; constant data (sigma_overall = 0); no spec limit;
// LSL >= USL; a non-finite limit or target; a target outside [LSL, USL]; confidence or ad_alpha
// outside (0, 1). Results never hold NaN or infinity.
// Pure functions; thread-safe.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pf::spc {

struct CapabilityOptions {
  std::optional<double> lsl{}, usl{}, target{};
  double confidence = 0.95;  // of the intervals, in (0, 1)
  double ad_alpha = 0.05;    // Anderson-Darling significance level, in (0, 1)
};

struct Interval {
  double low, high;
};

struct CapabilityResult {
  size_t n = 0;
  double mean = 0, sigma_within = 0, sigma_overall = 0;
  std::optional<double> lsl, usl, target;  // target: as given, else the middle when both limits exist
  double confidence = 0.95;

  std::optional<double> cp, cpk, pp, ppk, cpm;  // nullopt when a needed spec limit is missing
  std::optional<double> cpu, cpl, ppu, ppl;     // the one-sided parts of Cpk and Ppk
  std::optional<Interval> cp_ci, cpk_ci, pp_ci, ppk_ci;  // at `confidence`

  // Normal model, parts per million of units below LSL / above USL / both.
  double expected_ppm_below = 0, expected_ppm_above = 0, expected_ppm_total = 0;  // sigma_within
  double expected_ppm_below_overall = 0, expected_ppm_above_overall = 0, expected_ppm_total_overall = 0;
  double observed_ppm_below = 0, observed_ppm_above = 0, observed_ppm_total = 0;

  double anderson_darling = 0;  // A*^2 (small-sample adjusted)
  double ad_p_value = 1;
  bool normal = true;           // ad_p_value >= ad_alpha

  double percentile_low = 0, percentile_median = 0, percentile_high = 0;  // 0.135 %, 50 %, 99.865 %
  std::optional<double> percentile_pp, percentile_ppk;
  std::vector<std::string> warnings;
};

[[nodiscard]] Result<CapabilityResult> ComputeCapability(const std::vector<double>& values, double sigma_within,
                                                         const CapabilityOptions& options);

// One JSON object with the field names above (snake_case); nullopt is null, an Interval is
// {"low": x, "high": y}, warnings an array of strings.
std::string CapabilityJson(const CapabilityResult& result);

// Anderson-Darling normality test with estimated mean and standard deviation (n - 1).
// Needs at least 2 finite values that are not all equal (else kInvalidArgument).
struct NormalityTest {
  double a2 = 0;          // A^2
  double a2_adjusted = 0; // A*^2 = A^2 (1 + 0.75/n + 2.25/n^2)
  double p_value = 1;     // D'Agostino & Stephens approximation from A*^2, in [0, 1]
};
[[nodiscard]] Result<NormalityTest> AndersonDarlingNormal(const std::vector<double>& values);

// Empirical quantile, Hyndman & Fan type 7 (R's default): sorted must be sorted ascending and
// non-empty, p in [0, 1].
double EmpiricalQuantile(const std::vector<double>& sorted, double p);

}  // namespace pf::spc
