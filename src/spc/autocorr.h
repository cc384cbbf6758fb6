#pragma once
// Autocorrelation of a series of individual values (or subgroup means) and a first-order
// autoregressive model for it.
//
// Why: fast-polled tags are positively autocorrelated, so Shewhart limits computed from them are
// too tight and alarm all day. Phase I (in the chart code) reports Lag1Autocorrelation and refuses
// Shewhart limits above 0.5 unless overridden; the remedy it offers is an EWMA (or any chart) on
// the AR(1) residuals, which are close to independent when the AR(1) model fits.
//
// AR(1) model: x_t - mean = phi (x_{t-1} - mean) + e_t, e_t independent N(0, residual_sigma^2).
// FitAr1 uses the Yule-Walker estimates, the same as R's
// ar.yw(x, aic = FALSE, order.max = 1, demean = TRUE):
//   mean = x-bar, phi = r1 (the lag-1 sample autocorrelation below, so |phi| < 1: stationary),
//   residual_sigma^2 = c0 (1 - phi^2) n / (n - 2), c0 = sum (x_t - x-bar)^2 / n.
// Pure functions; thread-safe.
#include <vector>

#include "core/status.h"

namespace pf::spc {

// The standard sample autocorrelation at lag 1 (R's acf(x)$acf[2]):
//   r1 = sum_{t=1}^{n-1} (x_t - x-bar)(x_{t+1} - x-bar) / sum_{t=1}^{n} (x_t - x-bar)^2, in [-1, 1].
// Undefined cases return 0 (never NaN): fewer than 2 values, all values equal, or a value that
// is NaN or infinite. Callers that must tell these apart validate first (FitAr1 does).
double Lag1Autocorrelation(const std::vector<double>& x);

struct Ar1Fit {
  double phi = 0, mean = 0, residual_sigma = 0;
};

// Yule-Walker AR(1) fit (see above). kInvalidArgument for fewer than 3 values ("AR(1) fit needs
// at least 3 values, got 2"), a NaN or infinite value ("value 4 of 30 is NaN"), or constant data.
[[nodiscard]] Result<Ar1Fit> FitAr1(const std::vector<double>& x);

// One-step-ahead prediction errors e_t = (x_t - mean) - phi (x_{t-1} - mean) for t = 2..n:
// x.size() - 1 values (none for fewer than 2), residuals[i] belongs to x[i + 1]; the first value
// has no predecessor and therefore no residual. x must be finite (FitAr1 checks the same x).
std::vector<double> Ar1Residuals(const std::vector<double>& x, const Ar1Fit& fit);

// The residual of one new value given the previous one, for charts fed sample by sample.
inline double Ar1Residual(double previous, double current, const Ar1Fit& fit) {
  return (current - fit.mean) - fit.phi * (previous - fit.mean);
}

}  // namespace pf::spc
