#pragma once
// Time-domain condition indicators of one block of samples (units of the input, e.g. g).
// Definitions (x: samples, m: their mean, n: count):
//   rms = sqrt(mean(x^2))                peak = max|x|          peak_to_peak = max(x) - min(x)
//   crest = peak / rms                   shape = rms / mean|x|  impulse = peak / mean|x|
//   clearance = peak / mean(sqrt|x|)^2
//   skewness = m3 / m2^1.5 and kurtosis = m4 / m2^2 with central moments mk = mean((x-m)^k);
//   kurtosis is the plain (not excess) kurtosis: 3 for a Gaussian, 1.5 for a sine.
// Ratios whose denominator is 0 (an all-zero block) are reported as 0, never NaN or inf.
#include <span>

#include "core/status.h"

namespace pf::dsp {

struct TimeFeatures {
  double mean = 0;
  double rms = 0;
  double peak = 0;
  double peak_to_peak = 0;
  double crest_factor = 0;
  double kurtosis = 0;
  double skewness = 0;
  double shape_factor = 0;
  double impulse_factor = 0;
  double clearance_factor = 0;
};

// kInvalidArgument for an empty block or a non-finite sample (names its index).
Result<TimeFeatures> ComputeTimeFeatures(std::span<const float> x);

}  // namespace pf::dsp
