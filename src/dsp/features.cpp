#include "dsp/features.h"

#include <algorithm>
#include <cmath>

namespace pf::dsp {
namespace {
double Ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
}  // namespace

Result<TimeFeatures> ComputeTimeFeatures(std::span<const float> x) {
  if (x.empty()) return InvalidArgument("time features: empty block");
  double sum = 0, sum2 = 0, sum_abs = 0, sum_sqrt = 0;
  float lo = x[0], hi = x[0];
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) return InvalidArgument("time features: sample {} is not finite ({})", i, v);
    sum += v;
    sum2 += double(v) * v;
    sum_abs += std::abs(v);
    sum_sqrt += std::sqrt(std::abs(double(v)));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double n = static_cast<double>(x.size());
  TimeFeatures f;
  f.mean = sum / n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (float v : x) {
    const double d = v - f.mean;
    const double d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  f.rms = std::sqrt(sum2 / n);
  f.peak = std::max(std::abs(double(lo)), std::abs(double(hi)));
  f.peak_to_peak = double(hi) - double(lo);
  const double mean_abs = sum_abs / n;
  const double mean_sqrt = sum_sqrt / n;
  f.crest_factor = Ratio(f.peak, f.rms);
  f.shape_factor = Ratio(f.rms, mean_abs);
  f.impulse_factor = Ratio(f.peak, mean_abs);
  f.clearance_factor = Ratio(f.peak, mean_sqrt * mean_sqrt);
  f.skewness = Ratio(m3, std::pow(m2, 1.5));
  f.kurtosis = Ratio(m4, m2 * m2);
  return f;
}

}  // namespace pf::dsp
