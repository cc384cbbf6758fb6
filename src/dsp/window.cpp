#include "dsp/window.h"

#include <cmath>
#include <numbers>

namespace pf::dsp {

std::string_view WindowKindName(WindowKind kind) {
  switch (kind) {
    case WindowKind::kRectangular: return "rectangular";
    case WindowKind::kHann: return "hann";
    case WindowKind::kHamming: return "hamming";
    case WindowKind::kBlackman: return "blackman";
    case WindowKind::kFlatTop: return "flattop";
  }
  return "unknown";
}

std::optional<WindowKind> ParseWindowKind(std::string_view name) {
  for (auto k : {WindowKind::kRectangular, WindowKind::kHann, WindowKind::kHamming,
                 WindowKind::kBlackman, WindowKind::kFlatTop}) {
    if (WindowKindName(k) == name) return k;
  }
  return std::nullopt;
}

void FillWindow(WindowKind kind, std::span<float> w) {
  const double n = static_cast<double>(w.size());
  // Cosine-sum coefficients a0 - a1 cos + a2 cos2 - a3 cos3 + a4 cos4.
  double a[5] = {1, 0, 0, 0, 0};
  switch (kind) {
    case WindowKind::kRectangular: break;
    case WindowKind::kHann: a[0] = 0.5; a[1] = 0.5; break;
    case WindowKind::kHamming: a[0] = 0.54; a[1] = 0.46; break;
    case WindowKind::kBlackman: a[0] = 0.42; a[1] = 0.5; a[2] = 0.08; break;
    case WindowKind::kFlatTop:
      a[0] = 0.21557895; a[1] = 0.41663158; a[2] = 0.277263158; a[3] = 0.083578947;
      a[4] = 0.006947368;
      break;
  }
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double x = 2 * std::numbers::pi * static_cast<double>(i) / n;
    w[i] = static_cast<float>(a[0] - a[1] * std::cos(x) + a[2] * std::cos(2 * x) -
                              a[3] * std::cos(3 * x) + a[4] * std::cos(4 * x));
  }
}

double CoherentGain(std::span<const float> w) {
  double s = 0;
  for (float v : w) s += v;
  return w.empty() ? 0 : s / static_cast<double>(w.size());
}

double NoiseBandwidthBins(std::span<const float> w) {
  double s = 0, s2 = 0;
  for (float v : w) {
    s += v;
    s2 += double(v) * v;
  }
  return s == 0 ? 0 : static_cast<double>(w.size()) * s2 / (s * s);
}

}  // namespace pf::dsp
