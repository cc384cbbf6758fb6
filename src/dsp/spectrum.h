#pragma once
// Spectra of one block: the one-sided amplitude and power spectrum, band RMS, 1x/2x/3x order
// amplitudes, velocity RMS by frequency-domain integration; and Welch's averaged PSD.
//
// Scaling (one-sided, bins k = 0 .. n/2, df = fs/n):
//   amplitude[k] = 2|X_k| / sum(w)           a sine of amplitude A reads A at its bin (exact for a
//                                            sine on a bin centre; flat top: within 0.01 dB anywhere)
//   power[k]     = 2|X_k|^2 / (n * sum(w^2)) mean square in the bin, so that the sum over a band is
//                                            the band's mean square (Parseval) for sines and noise
//                                            alike; DC and Nyquist without the factor 2
//   Welch psd[k] = power averaged over segments / df, in units^2/Hz.
// Plans and buffers are made once in Create(); Compute() never allocates. Not thread-safe.
#include <cstddef>
#include <span>
#include <vector>

#include "core/status.h"
#include "dsp/fft.h"
#include "dsp/window.h"

namespace pf::dsp {

// Standard gravity, m/s^2 per g (ISO 80000-3).
inline constexpr double kStandardGravity = 9.80665;

struct OrderAmplitude {
  int order = 0;            // 1, 2, 3 (x shaft speed)
  double expected_hz = 0;   // order * shaft speed
  double frequency_hz = 0;  // the highest bin within the speed tolerance
  double amplitude = 0;     // peak amplitude, input units
};

class SpectrumAnalyzer {
 public:
  // n: block length (even, >= 4); fs > 0.
  static Result<SpectrumAnalyzer> Create(double fs, std::size_t n, WindowKind window);

  // x.size() must equal n (else kInvalidArgument). The mean is removed first.
  Status Compute(std::span<const float> x);

  double fs() const { return fs_; }
  std::size_t size() const { return n_; }
  double bin_hz() const { return fs_ / static_cast<double>(n_); }
  std::span<const float> amplitude() const { return amplitude_; }
  std::span<const float> power() const { return power_; }

  // sqrt of the summed power of the bins whose centre lies in [f_lo, f_hi] Hz.
  double BandRms(double f_lo, double f_hi) const;
  // Velocity RMS in mm/s over [f_lo, f_hi] when the input is acceleration in g: each bin's power is
  // divided by (2 pi f)^2 (integration in the frequency domain) and scaled by g0 and 1000.
  double VelocityRmsMmPerS(double f_lo = 10, double f_hi = 1000) const;
  // Amplitudes at order * shaft_hz for orders 1..count, searching +-tolerance (fraction of speed,
  // e.g. 0.02) and at least +-1 bin. out.size() >= count.
  void OrderAmplitudes(double shaft_hz, double tolerance, std::span<OrderAmplitude> out) const;

 private:
  SpectrumAnalyzer(double fs, std::size_t n, RealFft fft);
  double fs_;
  std::size_t n_;
  RealFft fft_;
  std::vector<float> window_, buf_, amplitude_, power_;
  std::vector<Complex> spec_;
  double sum_w_ = 0, sum_w2_ = 0;
};

struct WelchOptions {
  std::size_t segment = 1024;  // samples per segment (even)
  double overlap = 0.5;        // fraction in [0, 1)
  WindowKind window = WindowKind::kHann;
};

// Welch power spectral density (mean removed per segment), one-sided, units^2/Hz, n/2+1 bins.
class WelchPsd {
 public:
  static Result<WelchPsd> Create(double fs, WelchOptions options);
  // x must hold at least one segment; psd.size() must be segment/2+1. Never allocates.
  Status Compute(std::span<const float> x, std::span<double> psd);
  std::size_t bins() const { return options_.segment / 2 + 1; }
  double bin_hz() const { return fs_ / static_cast<double>(options_.segment); }

 private:
  WelchPsd(double fs, WelchOptions o, RealFft fft);
  double fs_;
  WelchOptions options_;
  RealFft fft_;
  std::vector<float> window_, buf_;
  std::vector<Complex> spec_;
  double sum_w2_ = 0;
};

}  // namespace pf::dsp
