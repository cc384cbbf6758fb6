#include "dsp/spectrum.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace pf::dsp {
namespace {

double Mean(std::span<const float> x) {
  double s = 0;
  for (float v : x) s += v;
  return x.empty() ? 0 : s / static_cast<double>(x.size());
}

}  // namespace

Result<SpectrumAnalyzer> SpectrumAnalyzer::Create(double fs, std::size_t n, WindowKind window) {
  if (!(fs > 0) || !std::isfinite(fs)) return InvalidArgument("spectrum: sampling rate {} Hz must be > 0", fs);
  if (n < 4 || n % 2 != 0) return InvalidArgument("spectrum: block length {} must be even and >= 4", n);
  PF_ASSIGN_OR_RETURN(RealFft fft, RealFft::Create(n));
  SpectrumAnalyzer a(fs, n, std::move(fft));
  a.window_.resize(n);
  FillWindow(window, a.window_);
  for (float w : a.window_) {
    a.sum_w_ += w;
    a.sum_w2_ += double(w) * w;
  }
  return a;
}

SpectrumAnalyzer::SpectrumAnalyzer(double fs, std::size_t n, RealFft fft)
    : fs_(fs), n_(n), fft_(std::move(fft)), buf_(n), amplitude_(n / 2 + 1), power_(n / 2 + 1),
      spec_(n / 2 + 1) {}

Status SpectrumAnalyzer::Compute(std::span<const float> x) {
  if (x.size() != n_) return InvalidArgument("spectrum: block has {} samples, expected {}", x.size(), n_);
  const float mean = static_cast<float>(Mean(x));
  for (std::size_t i = 0; i < n_; ++i) buf_[i] = (x[i] - mean) * window_[i];
  fft_.Forward(buf_, spec_);
  const double amp_scale = 2.0 / sum_w_;
  const double pow_scale = 2.0 / (static_cast<double>(n_) * sum_w2_);
  for (std::size_t k = 0; k < spec_.size(); ++k) {
    const double m2 = std::norm(spec_[k]);
    const bool edge = k == 0 || k == n_ / 2;
    amplitude_[k] = static_cast<float>(std::sqrt(m2) * amp_scale * (edge ? 0.5 : 1.0));
    power_[k] = static_cast<float>(m2 * pow_scale * (edge ? 0.5 : 1.0));
  }
  return Status::Ok();
}

double SpectrumAnalyzer::BandRms(double f_lo, double f_hi) const {
  const double df = bin_hz();
  const auto k0 = static_cast<std::size_t>(std::max(0.0, std::ceil(f_lo / df)));
  const auto k1 = std::min(power_.size() - 1, static_cast<std::size_t>(std::max(0.0, std::floor(f_hi / df))));
  double s = 0;
  for (std::size_t k = k0; k <= k1 && k < power_.size(); ++k) s += power_[k];
  return std::sqrt(s);
}

double SpectrumAnalyzer::VelocityRmsMmPerS(double f_lo, double f_hi) const {
  const double df = bin_hz();
  const auto k0 = static_cast<std::size_t>(std::max(1.0, std::ceil(f_lo / df)));
  const auto k1 = std::min(power_.size() - 1, static_cast<std::size_t>(std::max(0.0, std::floor(f_hi / df))));
  double s = 0;
  for (std::size_t k = k0; k <= k1; ++k) {
    const double w = 2 * std::numbers::pi * static_cast<double>(k) * df;
    s += power_[k] / (w * w);
  }
  return std::sqrt(s) * kStandardGravity * 1000.0;
}

void SpectrumAnalyzer::OrderAmplitudes(double shaft_hz, double tolerance,
                                       std::span<OrderAmplitude> out) const {
  const double df = bin_hz();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int order = static_cast<int>(i) + 1;
    const double f = order * shaft_hz;
    const double half = std::max(df, std::abs(tolerance) * f);
    const auto k0 = static_cast<std::size_t>(std::max(0.0, std::ceil((f - half) / df)));
    const auto k1 = std::min(amplitude_.size() - 1, static_cast<std::size_t>(std::max(0.0, std::floor((f + half) / df))));
    OrderAmplitude r{order, f, 0, 0};
    for (std::size_t k = k0; k <= k1 && k < amplitude_.size(); ++k) {
      if (amplitude_[k] > r.amplitude) {
        r.amplitude = amplitude_[k];
        r.frequency_hz = static_cast<double>(k) * df;
      }
    }
    out[i] = r;
  }
}

Result<WelchPsd> WelchPsd::Create(double fs, WelchOptions o) {
  if (!(fs > 0) || !std::isfinite(fs)) return InvalidArgument("welch: sampling rate {} Hz must be > 0", fs);
  if (o.segment < 4 || o.segment % 2 != 0) return InvalidArgument("welch: segment {} must be even and >= 4", o.segment);
  if (!(o.overlap >= 0 && o.overlap < 1)) return InvalidArgument("welch: overlap {} must be in [0, 1)", o.overlap);
  PF_ASSIGN_OR_RETURN(RealFft fft, RealFft::Create(o.segment));
  WelchPsd w(fs, o, std::move(fft));
  FillWindow(o.window, w.window_);
  for (float v : w.window_) w.sum_w2_ += double(v) * v;
  return w;
}

WelchPsd::WelchPsd(double fs, WelchOptions o, RealFft fft)
    : fs_(fs), options_(o), fft_(std::move(fft)), window_(o.segment), buf_(o.segment), spec_(o.segment / 2 + 1) {}

Status WelchPsd::Compute(std::span<const float> x, std::span<double> psd) {
  const std::size_t n = options_.segment;
  if (x.size() < n) return InvalidArgument("welch: {} samples, need at least one segment of {}", x.size(), n);
  if (psd.size() != bins()) return InvalidArgument("welch: output has {} bins, expected {}", psd.size(), bins());
  const auto step = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(n * (1 - options_.overlap))));
  std::fill(psd.begin(), psd.end(), 0.0);
  std::size_t segments = 0;
  for (std::size_t start = 0; start + n <= x.size(); start += step, ++segments) {
    const auto seg = x.subspan(start, n);
    const float mean = static_cast<float>(Mean(seg));
    for (std::size_t i = 0; i < n; ++i) buf_[i] = (seg[i] - mean) * window_[i];
    fft_.Forward(buf_, spec_);
    for (std::size_t k = 0; k < spec_.size(); ++k) psd[k] += std::norm(spec_[k]);
  }
  const double scale = 2.0 / (fs_ * sum_w2_ * static_cast<double>(segments));
  for (std::size_t k = 0; k < psd.size(); ++k) {
    psd[k] *= scale * ((k == 0 || k == n / 2) ? 0.5 : 1.0);
  }
  return Status::Ok();
}

}  // namespace pf::dsp
