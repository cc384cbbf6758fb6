#include "dsp/feature_vector.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dsp/features.h"
#include "dsp/window.h"

namespace pf::dsp {
namespace {

constexpr int kEnvelopeBands = 3;
constexpr int kHarmonics = 3;
constexpr FaultLocation kLocations[] = {FaultLocation::kInnerRace, FaultLocation::kOuterRace, FaultLocation::kBall,
                                        FaultLocation::kCage};
constexpr double kFloor = 1e-12;
constexpr double kMaxSnrDb = 60;

}  // namespace

Result<BearingFeatureVector> BearingFeatureVector::Create(double fs, std::size_t n, const DefectFrequencies& multiples,
                                                          const FeatureVectorOptions& options) {
  if (!std::isfinite(fs) || fs <= 0) return InvalidArgument("feature vector: sampling rate {} Hz must be > 0", fs);
  if (n < 256 || n % 2) return InvalidArgument("feature vector: block of {} samples (must be even and >= 256)", n);
  if (options.spectrum_bands < 1 || options.spectrum_bands > 256)
    return InvalidArgument("feature vector: {} spectrum bands (1..256)", options.spectrum_bands);
  if (!(multiples.bpfi > 0 && multiples.bpfo > 0 && multiples.bsf > 0 && multiples.ftf > 0))
    return InvalidArgument("feature vector: the defect frequencies must all be > 0");
  PF_ASSIGN_OR_RETURN(RealFft fft, RealFft::Create(n));
  BearingFeatureVector v(fs, n, multiples, options, std::move(fft));
  const double lo = fs / 20, hi = 0.45 * fs, step = (hi - lo) / kEnvelopeBands;
  for (int b = 0; b < kEnvelopeBands; ++b) {
    PF_ASSIGN_OR_RETURN(EnvelopeSpectrum e, EnvelopeSpectrum::Create(fs, n));
    PF_RETURN_IF_ERROR(e.SetBand({lo + b * step, lo + (b + 1) * step}));
    v.envelopes_.push_back(std::move(e));
  }
  return v;
}

BearingFeatureVector::BearingFeatureVector(double fs, std::size_t n, DefectFrequencies multiples,
                                           FeatureVectorOptions options, RealFft fft)
    : fs_(fs), n_(n), multiples_(multiples), options_(options), fft_(std::move(fft)), window_(n), buf_(n), spec_(n / 2 + 1) {
  FillWindow(WindowKind::kHann, window_);
  names_ = {"log_rms", "kurtosis", "crest", "skewness", "shape", "impulse", "clearance"};
  for (int k = 0; k < options_.spectrum_bands; ++k) names_.push_back(fmt::format("spec_{}", k));
  for (int b = 0; b < kEnvelopeBands; ++b) {
    for (FaultLocation l : kLocations) {
      names_.push_back(fmt::format("env{}_{}_max", b, FaultLocationName(l)));
      names_.push_back(fmt::format("env{}_{}_mean", b, FaultLocationName(l)));
    }
  }
}

Status BearingFeatureVector::Compute(std::span<const float> x, double shaft_hz, std::span<float> out) {
  if (x.size() != n_) return InvalidArgument("feature vector: block of {} samples, expected {}", x.size(), n_);
  if (out.size() != names_.size()) return InvalidArgument("feature vector: {} outputs, expected {}", out.size(), names_.size());
  if (!std::isfinite(shaft_hz) || shaft_hz <= 0) return InvalidArgument("feature vector: shaft speed {} Hz must be > 0", shaft_hz);
  PF_ASSIGN_OR_RETURN(TimeFeatures t, ComputeTimeFeatures(x));
  std::size_t k = 0;
  out[k++] = static_cast<float>(std::log10(std::max(t.rms, kFloor)));
  out[k++] = static_cast<float>(t.kurtosis);
  out[k++] = static_cast<float>(t.crest_factor);
  out[k++] = static_cast<float>(t.skewness);
  out[k++] = static_cast<float>(t.shape_factor);
  out[k++] = static_cast<float>(t.impulse_factor);
  out[k++] = static_cast<float>(t.clearance_factor);

  // Band power fractions of the Hann-windowed block (mean removed).
  for (std::size_t i = 0; i < n_; ++i) buf_[i] = static_cast<float>((x[i] - t.mean) * window_[i]);
  fft_.Forward(buf_, spec_);
  const std::size_t bins = spec_.size();
  double total = 0;
  for (std::size_t i = 1; i < bins; ++i) total += std::norm(spec_[i]);
  const int nb = options_.spectrum_bands;
  for (int b = 0; b < nb; ++b) {
    // Bins 1 .. bins-1 (DC left out) in nb equal runs.
    const std::size_t i0 = 1 + b * (bins - 1) / nb, i1 = (b + 1) * (bins - 1) / nb;  // inclusive
    double p = 0;
    for (std::size_t i = i0; i <= i1; ++i) p += std::norm(spec_[i]);
    out[k++] = static_cast<float>(std::log10(std::max(total > 0 ? p / total : 0.0, kFloor)));
  }

  DiagnosisOptions o;
  o.harmonics = kHarmonics;
  for (auto& e : envelopes_) {
    PF_RETURN_IF_ERROR(e.Compute(x));
    PF_ASSIGN_OR_RETURN(Diagnosis d, DiagnoseBearing(e.ses(), e.bin_hz(), shaft_hz, multiples_, o));
    for (FaultLocation l : kLocations) {
      double mx = 0, sum = 0;
      int searched = 0;
      for (const auto& c : d.candidates) {
        if (c.location != l) continue;
        for (int h = 0; h < kHarmonics; ++h) {
          if (!c.harmonics[h].searched) continue;
          // A silent floor gives an infinite ratio: SNRs are held to +-kMaxSnrDb.
          const double snr = std::clamp(c.harmonics[h].snr_db, -kMaxSnrDb, kMaxSnrDb);
          mx = searched == 0 ? snr : std::max(mx, snr);
          sum += snr;
          ++searched;
        }
      }
      out[k++] = static_cast<float>(mx);
      out[k++] = static_cast<float>(searched ? sum / searched : 0.0);
    }
  }
  return Status::Ok();
}

}  // namespace pf::dsp
