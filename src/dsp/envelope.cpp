#include "dsp/envelope.h"

#include <algorithm>
#include <cmath>

#include "dsp/window.h"

namespace pf::dsp {
namespace {

void RemoveMean(std::span<const float> x, std::span<float> out) {
  double s = 0;
  for (float v : x) s += v;
  const auto mean = static_cast<float>(s / static_cast<double>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] - mean;
}

}  // namespace

Result<EnvelopeSpectrum> EnvelopeSpectrum::Create(double fs, std::size_t n) {
  if (!(fs > 0) || !std::isfinite(fs)) return InvalidArgument("envelope: sampling rate {} Hz must be > 0", fs);
  if (n < 16 || n % 2 != 0) return InvalidArgument("envelope: block length {} must be even and >= 16", n);
  PF_ASSIGN_OR_RETURN(RealFft fwd, RealFft::Create(n));
  PF_ASSIGN_OR_RETURN(ComplexFft inv, ComplexFft::Create(n));
  PF_ASSIGN_OR_RETURN(RealFft ses, RealFft::Create(n));
  EnvelopeSpectrum e(fs, n, std::move(fwd), std::move(inv), std::move(ses));
  FillWindow(WindowKind::kHann, e.window_);
  for (float w : e.window_) e.sum_w_ += w;
  PF_RETURN_IF_ERROR(e.SetBand({0, fs / 2}));
  return e;
}

EnvelopeSpectrum::EnvelopeSpectrum(double fs, std::size_t n, RealFft fwd, ComplexFft inv, RealFft ses_fft)
    : fs_(fs), n_(n), fwd_(std::move(fwd)), inv_(std::move(inv)), ses_fft_(std::move(ses_fft)), buf_(n),
      window_(n), ses_(n / 2 + 1), spec_(n / 2 + 1), base_(n), analytic_(n) {}

Status EnvelopeSpectrum::SetBand(FrequencyBand band) {
  if (!(band.lo_hz >= 0 && band.lo_hz < band.hi_hz && band.hi_hz <= fs_ / 2 + 1e-9)) {
    return InvalidArgument("envelope: band {}..{} Hz must satisfy 0 <= lo < hi <= fs/2 = {} Hz", band.lo_hz,
                           band.hi_hz, fs_ / 2);
  }
  const double df = bin_hz();
  const auto lo = static_cast<std::size_t>(std::max(1.0, std::ceil(band.lo_hz / df)));
  const auto hi = std::min(n_ / 2, static_cast<std::size_t>(std::floor(band.hi_hz / df)));
  if (hi < lo + 3) {
    return InvalidArgument("envelope: band {}..{} Hz holds fewer than 4 bins of {} Hz", band.lo_hz, band.hi_hz, df);
  }
  band_ = band;
  k_lo_ = lo;
  k_hi_ = hi;
  return Status::Ok();
}

Status EnvelopeSpectrum::Compute(std::span<const float> x) {
  if (x.size() != n_) return InvalidArgument("envelope: block has {} samples, expected {}", x.size(), n_);
  RemoveMean(x, buf_);
  fwd_.Forward(buf_, spec_);
  // Analytic signal of the band: positive-frequency bins doubled (2/n undoes the FFT's gain).
  const float scale = 2.0f / static_cast<float>(n_);
  std::fill(base_.begin(), base_.end(), Complex(0, 0));
  for (std::size_t k = k_lo_; k <= k_hi_; ++k) base_[k - k_lo_] = spec_[k] * scale;
  inv_.Inverse(base_, analytic_);
  double mean = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    buf_[i] = std::norm(analytic_[i]);
    mean += buf_[i];
  }
  mean /= static_cast<double>(n_);
  for (std::size_t i = 0; i < n_; ++i) buf_[i] = (buf_[i] - static_cast<float>(mean)) * window_[i];
  ses_fft_.Forward(buf_, spec_);
  const double amp = 2.0 / sum_w_;
  for (std::size_t k = 0; k < spec_.size(); ++k) ses_[k] = static_cast<float>(std::abs(spec_[k]) * amp);
  ses_[0] = static_cast<float>(mean);  // DC: the mean squared envelope (band power x 2)
  return Status::Ok();
}

Result<Kurtogram> Kurtogram::Create(double fs, std::size_t n, KurtogramOptions o) {
  if (!(fs > 0) || !std::isfinite(fs)) return InvalidArgument("kurtogram: sampling rate {} Hz must be > 0", fs);
  if (n < 64 || n % 2 != 0) return InvalidArgument("kurtogram: span length {} must be even and >= 64", n);
  if (!(o.min_bandwidth_hz > 0)) return InvalidArgument("kurtogram: min_bandwidth_hz {} must be > 0", o.min_bandwidth_hz);
  if (o.max_level < 0 || o.max_level > 20) return InvalidArgument("kurtogram: max_level {} must be in 0..20", o.max_level);
  PF_ASSIGN_OR_RETURN(RealFft fft, RealFft::Create(n));
  Kurtogram kg(fs, n, o, std::move(fft));
  const double nyquist = fs / 2, df = fs / static_cast<double>(n);
  std::size_t max_bins = 0;
  for (int k = 0; k <= o.max_level; ++k) {
    for (int third = 0; third < ((k >= 1 && o.third_levels) ? 2 : 1); ++third) {
      const double width = third ? nyquist / (3.0 * std::pow(2.0, k - 1)) : nyquist / std::pow(2.0, k);
      if (width < o.min_bandwidth_hz) continue;
      const std::size_t bins = PrevFastSize(static_cast<std::size_t>(std::floor(width / df)));
      if (bins < 8) continue;
      PF_ASSIGN_OR_RETURN(ComplexFft plan, ComplexFft::Create(bins));
      kg.levels_.push_back({width, k + (third ? 0.6 : 0.0), bins, std::move(plan)});
      max_bins = std::max(max_bins, bins);
    }
  }
  if (kg.levels_.empty()) {
    return InvalidArgument("kurtogram: no band of at least {} Hz fits below fs/2 = {} Hz with {} samples",
                           o.min_bandwidth_hz, nyquist, n);
  }
  kg.in_.resize(max_bins);
  kg.out_.resize(max_bins);
  return kg;
}

Kurtogram::Kurtogram(double fs, std::size_t n, KurtogramOptions o, RealFft fft)
    : fs_(fs), n_(n), options_(o), fft_(std::move(fft)), buf_(n), spec_(n / 2 + 1) {}

Result<KurtogramResult> Kurtogram::Compute(std::span<const float> x) {
  if (x.size() != n_) return InvalidArgument("kurtogram: span has {} samples, expected {}", x.size(), n_);
  RemoveMean(x, buf_);
  fft_.Forward(buf_, spec_);
  const double df = fs_ / static_cast<double>(n_);
  double total = 0;
  for (std::size_t k = 1; k < spec_.size(); ++k) total += std::norm(spec_[k]);
  const double mean_power = total / static_cast<double>(spec_.size() - 1);
  KurtogramResult best;
  best.kurtosis = -1e300;
  for (Level& level : levels_) {
    const auto bands = static_cast<int>(std::lround((fs_ / 2) / level.width_hz));
    const std::size_t band_bins = static_cast<std::size_t>(std::floor(level.width_hz / df));
    for (int b = 0; b < bands; ++b) {
      const double lo_hz = b * level.width_hz;
      // The band's central `bins` bins; DC is never taken.
      std::size_t first = static_cast<std::size_t>(std::ceil(lo_hz / df)) + (band_bins - level.bins) / 2;
      first = std::max<std::size_t>(first, 1);
      if (first + level.bins > spec_.size()) first = spec_.size() - level.bins;
      double power = 0;
      for (std::size_t i = 0; i < level.bins; ++i) {
        in_[i] = spec_[first + i];
        power += std::norm(in_[i]);
      }
      if (power <= 0 || power / static_cast<double>(level.bins) < options_.min_relative_power * mean_power) continue;
      const std::span<Complex> in(in_.data(), level.bins), out(out_.data(), level.bins);
      level.fft.Inverse(in, out);
      double m2 = 0, m4 = 0;
      for (const Complex& c : out) {
        const double p = std::norm(c);
        m2 += p;
        m4 += p * p;
      }
      m2 /= static_cast<double>(level.bins);
      m4 /= static_cast<double>(level.bins);
      const double sk = m4 / (m2 * m2) - 2.0;
      ++best.bands_searched;
      if (sk > best.kurtosis) {
        best.kurtosis = sk;
        best.level = level.label;
        best.band = {lo_hz, std::min(fs_ / 2, lo_hz + level.width_hz)};
      }
    }
  }
  if (best.bands_searched == 0) return FailedPrecondition("kurtogram: no band carries signal power");
  return best;
}

}  // namespace pf::dsp
