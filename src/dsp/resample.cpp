#include "dsp/resample.h"

#include <cmath>
#include <numbers>

namespace pf::dsp {

Result<std::vector<float>> DecimationFilter(int q) {
  if (q < 2 || q > 64) return InvalidArgument("decimate: factor {} must be in 2..64", q);
  const int taps = 64 * q + 1;
  // Blackman transition width is about 5.5/taps cycles/sample; put its end on 0.5/q.
  const double fc = 0.5 / q - 2.75 / taps;
  std::vector<float> h(taps);
  double sum = 0;
  const double mid = (taps - 1) / 2.0;
  for (int i = 0; i < taps; ++i) {
    const double t = i - mid;
    const double sinc = t == 0 ? 2 * fc : std::sin(2 * std::numbers::pi * fc * t) / (std::numbers::pi * t);
    const double x = 2 * std::numbers::pi * i / (taps - 1);
    const double w = 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x);
    h[i] = static_cast<float>(sinc * w);
    sum += h[i];
  }
  for (float& v : h) v = static_cast<float>(v / sum);
  return h;
}

Result<std::vector<float>> Decimate(std::span<const float> x, int q) {
  PF_ASSIGN_OR_RETURN(std::vector<float> h, DecimationFilter(q));
  if (x.size() < h.size()) return InvalidArgument("decimate: {} samples, need at least {} (the filter length)", x.size(), h.size());
  const auto half = static_cast<std::ptrdiff_t>(h.size() / 2);
  const auto n = static_cast<std::ptrdiff_t>(x.size());
  std::vector<float> out;
  out.reserve(x.size() / q + 1);
  for (std::ptrdiff_t i = 0; i < n; i += q) {
    double acc = 0;
    for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(h.size()); ++j) {
      const std::ptrdiff_t k = i + half - j;
      if (k >= 0 && k < n) acc += double(h[j]) * x[k];
    }
    out.push_back(static_cast<float>(acc));
  }
  return out;
}

}  // namespace pf::dsp
