#pragma once
// Envelope analysis for bearing diagnosis (Randall & Antoni 2011, MSSP 25(2):485).
//
// EnvelopeSpectrum: the squared-envelope spectrum (SES) of one block. The band [lo, hi] is cut
// out of the block's FFT (an ideal FFT-domain band-pass), shifted to baseband and inverse
// transformed: that is the analytic signal of the band-passed block (the Hilbert transform done
// in the frequency domain), frequency-shifted, which leaves its magnitude unchanged. The squared
// magnitude (mean removed, Hann window) is transformed again: ses[k] is the amplitude of the
// squared envelope at k*fs/n, in input units^2. Example: x = (1 + m cos(2 pi fm t)) cos(2 pi fc t)
// with fc in the band gives ses(fm) = 2m and ses(2 fm) = m^2/2.
//
// Kurtogram: the fast kurtogram of Antoni (2007, MSSP 21(1):108) on the "1/3-binary" tree of band
// widths (fs/2)/2^k and (fs/2)/(3*2^(k-1)), computed in the FFT domain: each band's complex
// envelope comes from an inverse FFT of its bins (rectangular filters instead of Antoni's
// quasi-analytic FIR bank), and its spectral kurtosis is E|c|^4 / (E|c|^2)^2 - 2 (0 for Gaussian
// noise, large for repetitive impulses). Bands narrower than min_bandwidth_hz are not searched:
// a band must hold the fault frequency's sidebands, which needs a few times the highest fault
// frequency. Bands whose mean power is below min_relative_power of the whole spectrum's are
// skipped (an empty band, e.g. above an anti-alias filter, can show a large kurtosis of noise).
//
// Both make their plans and buffers in Create() and never allocate afterwards. Not thread-safe.
#include <cstddef>
#include <span>
#include <vector>

#include "core/status.h"
#include "dsp/fft.h"

namespace pf::dsp {

struct FrequencyBand {
  double lo_hz = 0;
  double hi_hz = 0;
};

class EnvelopeSpectrum {
 public:
  // n: block length (even, >= 16).
  static Result<EnvelopeSpectrum> Create(double fs, std::size_t n);
  // kInvalidArgument unless 0 <= lo < hi <= fs/2 and the band holds at least 4 bins.
  Status SetBand(FrequencyBand band);
  const FrequencyBand& band() const { return band_; }
  // x.size() == n. Fills ses() (n/2 + 1 bins, bin_hz() apart).
  Status Compute(std::span<const float> x);
  std::span<const float> ses() const { return ses_; }
  double bin_hz() const { return fs_ / static_cast<double>(n_); }
  std::size_t size() const { return n_; }

 private:
  EnvelopeSpectrum(double fs, std::size_t n, RealFft fwd, ComplexFft inv, RealFft ses_fft);
  double fs_;
  std::size_t n_;
  RealFft fwd_;
  ComplexFft inv_;
  RealFft ses_fft_;
  FrequencyBand band_;
  std::size_t k_lo_ = 0, k_hi_ = 0;  // band bins, inclusive
  std::vector<float> buf_, window_, ses_;
  std::vector<Complex> spec_, base_, analytic_;
  double sum_w_ = 0;
};

struct KurtogramOptions {
  double min_bandwidth_hz = 400;    // narrowest band searched
  int max_level = 10;               // deepest binary level k
  bool third_levels = true;         // also the 1/3 levels (widths (fs/2)/(3*2^(k-1)))
  double min_relative_power = 1e-4; // skip bands 40 dB below the average power density
};

struct KurtogramResult {
  FrequencyBand band;
  double kurtosis = 0;     // spectral kurtosis of the chosen band
  double level = 0;        // k for binary levels, k + 0.6 for 1/3 levels (Antoni's labels)
  int bands_searched = 0;
};

class Kurtogram {
 public:
  // n: the length of the signal spans that Compute will take (even).
  static Result<Kurtogram> Create(double fs, std::size_t n, KurtogramOptions options);
  // x.size() == n. kFailedPrecondition when no band qualifies (e.g. an all-zero span).
  Result<KurtogramResult> Compute(std::span<const float> x);
  std::size_t size() const { return n_; }

 private:
  struct Level {
    double width_hz;
    double label;
    std::size_t bins;  // bins taken per band (a fast FFT size)
    ComplexFft fft;
  };
  Kurtogram(double fs, std::size_t n, KurtogramOptions o, RealFft fft);
  double fs_;
  std::size_t n_;
  KurtogramOptions options_;
  RealFft fft_;
  std::vector<Level> levels_;
  std::vector<float> buf_;
  std::vector<Complex> spec_, in_, out_;
};

}  // namespace pf::dsp
