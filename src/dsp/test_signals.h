#pragma once
// Synthetic bearing signals for dsp tests (not part of the library): a train of impacts at the
// fault rate, each ringing a structural resonance, with random slip, optional amplitude
// modulation by the shaft (inner race), a 1x shaft line and Gaussian noise.
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace pf::dsp::testing {

struct FaultSignal {
  double fs = 12000;
  double seconds = 10;
  double shaft_hz = 29.95;
  double fault_hz = 0;        // impacts per second; 0: none
  double resonance_hz = 3000;
  double damping = 0.05;      // ratio of critical damping
  double impact = 1.0;        // g
  double shaft_modulation = 0;// 0..1: (1 + m cos(2 pi fr t)) on the impacts
  double slip = 0.01;         // random jitter of each period, fraction
  double noise_rms = 0.1;     // g
  double shaft_amplitude = 0.05;
  unsigned seed = 1;
};

inline std::vector<float> MakeFaultSignal(const FaultSignal& s) {
  const auto n = static_cast<std::size_t>(s.fs * s.seconds);
  std::vector<double> x(n, 0.0);
  std::mt19937 rng(s.seed);
  std::normal_distribution<double> g(0.0, 1.0);
  if (s.fault_hz > 0) {
    const double wn = 2 * std::numbers::pi * s.resonance_hz;
    const double ring = 8.0 / (s.damping * wn);  // ~ e^-8 after this long
    double t = 0.01;
    while (t < s.seconds) {
      const double a = s.impact * (1 + s.shaft_modulation * std::cos(2 * std::numbers::pi * s.shaft_hz * t));
      const auto i0 = static_cast<std::size_t>(std::ceil(t * s.fs));
      for (std::size_t i = i0; i < n && (i / s.fs - t) < ring; ++i) {
        const double dt = i / s.fs - t;
        x[i] += a * std::exp(-s.damping * wn * dt) * std::sin(wn * dt);
      }
      t += (1.0 / s.fault_hz) * (1 + s.slip * g(rng));
    }
  }
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(x[i] + s.noise_rms * g(rng) +
                                s.shaft_amplitude * std::sin(2 * std::numbers::pi * s.shaft_hz * i / s.fs));
  }
  return out;
}

}  // namespace pf::dsp::testing
