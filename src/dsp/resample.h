#pragma once
// Integer-factor decimation with an anti-alias low-pass: a linear-phase windowed-sinc FIR
// (Blackman window, 64*q+1 taps, about 74 dB stopband) whose stopband starts at the output
// Nyquist frequency fs/(2q); the passband reaches about 0.83 fs/(2q) (for 48 kHz -> 12 kHz:
// flat to about 5 kHz, rejected from 6 kHz). The filter is centred (zero delay); the ends
// are filtered as if the signal were zero outside it.
#include <span>
#include <vector>

#include "core/status.h"

namespace pf::dsp {

// The low-pass taps for factor q (sum 1).
Result<std::vector<float>> DecimationFilter(int q);
// out = every q-th sample of the low-passed x. kInvalidArgument for q < 2 or q > 64 or an
// x shorter than the filter.
Result<std::vector<float>> Decimate(std::span<const float> x, int q);

}  // namespace pf::dsp
