#include "spc/autocorr.h"

#include <cmath>

namespace pf::spc {
namespace {

double Mean(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v;
  return sum / static_cast<double>(x.size());
}

// Lag-0 and lag-1 sums of centred products (the autocovariances times n).
struct Sums {
  double lag0 = 0, lag1 = 0;
};
Sums CentredSums(const std::vector<double>& x, double mean) {
  Sums s;
  for (size_t t = 0; t < x.size(); ++t) {
    double d = x[t] - mean;
    s.lag0 += d * d;
    if (t + 1 < x.size()) s.lag1 += d * (x[t + 1] - mean);
  }
  return s;
}

}  // namespace

double Lag1Autocorrelation(const std::vector<double>& x) {
  if (x.size() < 2) return 0;
  for (double v : x) {
    if (!std::isfinite(v)) return 0;
  }
  Sums s = CentredSums(x, Mean(x));
  if (!(s.lag0 > 0) || !std::isfinite(s.lag0) || !std::isfinite(s.lag1)) return 0;
  return s.lag1 / s.lag0;
}

Result<Ar1Fit> FitAr1(const std::vector<double>& x) {
  if (x.size() < 3) return InvalidArgument("AR(1) fit needs at least 3 values, got {}", x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      return InvalidArgument("AR(1) fit: value {} of {} is {}", i + 1, x.size(), std::isnan(x[i]) ? "NaN" : "infinite");
    }
  }
  Ar1Fit fit;
  fit.mean = Mean(x);
  Sums s = CentredSums(x, fit.mean);
  if (!(s.lag0 > 0)) return InvalidArgument("AR(1) fit: all {} values are equal ({})", x.size(), x.front());
  if (!std::isfinite(s.lag0) || !std::isfinite(s.lag1)) {
    return InvalidArgument("AR(1) fit: the values are too large to compute with (a sum overflowed)");
  }
  double n = static_cast<double>(x.size());
  fit.phi = s.lag1 / s.lag0;
  double c0 = s.lag0 / n;
  fit.residual_sigma = std::sqrt(c0 * (1 - fit.phi * fit.phi) * n / (n - 2));
  return fit;
}

std::vector<double> Ar1Residuals(const std::vector<double>& x, const Ar1Fit& fit) {
  std::vector<double> e;
  if (x.size() < 2) return e;
  e.reserve(x.size() - 1);
  for (size_t t = 1; t < x.size(); ++t) e.push_back(Ar1Residual(x[t - 1], x[t], fit));
  return e;
}

}  // namespace pf::spc
