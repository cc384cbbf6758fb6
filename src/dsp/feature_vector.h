#pragma once
// A fixed-length feature vector of one vibration block, the input of feature-based bearing models
// (issue 9: the CWRU feature model and the tree student distilled from it). Every value is
// dimensionless or a log, so one model can serve machines of different sensitivity and speed:
//   time (7):      log10 rms, kurtosis, crest, skewness, shape, impulse and clearance factors
//                  (dsp/features.h);
//   spectrum (B):  log10 of the fraction of the block's power in B equal bands from 0 to fs/2
//                  (Hann-windowed FFT; 1e-12 floor), "spec_<k>";
//   envelope (24): for each of 3 demodulation bands (the thirds of [fs/20, 0.45 fs]) and each fault
//                  location (inner race, outer race, ball, cage), the largest and the mean SNR in dB
//                  of the first 3 harmonics of its defect frequency in the squared-envelope spectrum
//                  (dsp::DiagnoseBearing's line evidence at the block's shaft speed),
//                  "env<b>_<location>_max|mean".
// Names() lists them in order. Compute() never allocates after Create(). Not thread-safe.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "dsp/bearing.h"
#include "dsp/diagnosis.h"
#include "dsp/envelope.h"
#include "dsp/fft.h"

namespace pf::dsp {

struct FeatureVectorOptions {
  int spectrum_bands = 16;  // 1..256
};

class BearingFeatureVector {
 public:
  // fs > 0; n even and >= 256; multiples: the bearing's defect frequencies per shaft Hz.
  static Result<BearingFeatureVector> Create(double fs, std::size_t n, const DefectFrequencies& multiples,
                                             const FeatureVectorOptions& options = {});
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return names_.size(); }
  std::size_t block_size() const { return n_; }
  // x.size() == block_size(), shaft_hz > 0, out.size() == size(). Errors: a non-finite sample
  // (its index), a wrong size.
  Status Compute(std::span<const float> x, double shaft_hz, std::span<float> out);

 private:
  BearingFeatureVector(double fs, std::size_t n, DefectFrequencies multiples, FeatureVectorOptions options, RealFft fft);
  double fs_;
  std::size_t n_;
  DefectFrequencies multiples_;
  FeatureVectorOptions options_;
  RealFft fft_;
  std::vector<EnvelopeSpectrum> envelopes_;
  std::vector<float> window_, buf_;
  std::vector<Complex> spec_;
  std::vector<std::string> names_;
};

}  // namespace pf::dsp
