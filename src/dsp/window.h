#pragma once
// Spectral windows (periodic form, for FFT analysis) and the two gains that correct a windowed
// spectrum: the coherent gain sum(w)/n (amplitude of a sine) and the equivalent noise bandwidth
// n*sum(w^2)/sum(w)^2 in bins (power of broadband noise).
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace pf::dsp {

enum class WindowKind {
  kRectangular,
  kHann,
  kHamming,
  kBlackman,
  kFlatTop,  // ISO 18431-1 / HFT-style 5-term flat top (Heinzel, Rudiger, Schilling 2002, "FTSRS"
             // coefficients as in MATLAB flattopwin): scallop loss < 0.01 dB, for amplitudes
};

std::string_view WindowKindName(WindowKind kind);  // "rectangular", "hann", ...
std::optional<WindowKind> ParseWindowKind(std::string_view name);

// Fills w (any size >= 1) with the periodic window: w[i] = f(2*pi*i/n).
void FillWindow(WindowKind kind, std::span<float> w);

// sum(w) / n.
double CoherentGain(std::span<const float> w);
// n * sum(w^2) / sum(w)^2, in bins (Hann: 1.5).
double NoiseBandwidthBins(std::span<const float> w);

}  // namespace pf::dsp
