#include "dsp/sensor_health.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace pf::dsp {
namespace {

constexpr double kMadToSigma = 1.4826;  // sigma of a Gaussian over its median absolute deviation
constexpr std::size_t kMaxSpikes = 64;
constexpr int kRateFloorHalfwidthBins = 8;

template <typename... Args>
void AddFault(SensorHealthReport* r, SensorFaultCode code, double value, double threshold,
              fmt::format_string<Args...> f, Args&&... args) {
  if (r->fault_count >= kSensorFaultCodes) return;
  SensorFault& fault = r->faults[static_cast<std::size_t>(r->fault_count++)];
  fault.code = code;
  fault.suppress_diagnosis = true;
  fault.value = value;
  fault.threshold = threshold;
  const std::string_view name = SensorFaultCodeName(code);
  auto res = fmt::format_to_n(fault.message.data(), fault.message.size() - 1, "{}: ", name);
  std::size_t used = std::min(res.size, fault.message.size() - 1);
  auto rest = fmt::format_to_n(fault.message.data() + used, fault.message.size() - 1 - used, f,
                               std::forward<Args>(args)...);
  used = std::min(used + rest.size, fault.message.size() - 1);
  fault.message[used] = '\0';
}

double Db(double ratio) { return ratio > 0 ? 20.0 * std::log10(ratio) : -300.0; }

// Calls f(i, deviation, isolated) for each local maximum of |x - median| above threshold, one per
// +-isolation_samples neighbourhood. Isolated: the samples of the neighbourhood that reach
// isolation_ratio of it (itself included) span at most max_width samples.
// Runs of identical consecutive samples: the longest (stuck), and those of at least min_run.
struct ConstantRuns {
  long longest = 0;
  double longest_value = 0;
  long long_runs = 0, long_run_samples = 0;
};

ConstantRuns FindConstantRuns(std::span<const float> x, long min_run) {
  ConstantRuns r;
  long run = 1;
  for (std::size_t i = 1; i <= x.size(); ++i) {
    if (i < x.size() && x[i] == x[i - 1]) {
      ++run;
      continue;
    }
    if (run > r.longest) {
      r.longest = run;
      r.longest_value = x[i - 1];
    }
    if (run >= min_run) {
      ++r.long_runs;
      r.long_run_samples += run;
    }
    run = 1;
  }
  return r;
}

template <typename F>
void ForEachPeakImpl(std::span<const float> x, double median, double threshold, std::size_t w, std::size_t max_width,
                     double isolation_ratio, F&& f) {
  const std::size_t n = x.size();
  auto dev = [&](std::size_t i) { return std::fabs(x[i] - median); };
  for (std::size_t i = 0; i < n; ++i) {
    const double d = dev(i);
    if (d <= threshold) continue;
    const std::size_t a = i >= w ? i - w : 0, b = std::min(n - 1, i + w);
    bool local_max = true;
    std::size_t lo = i, hi = i;
    for (std::size_t j = a; j <= b && local_max; ++j) {
      if (j == i) continue;
      const double dj = dev(j);
      if (dj > d || (dj == d && j < i)) local_max = false;
      if (dj >= isolation_ratio * d) {
        lo = std::min(lo, j);
        hi = std::max(hi, j);
      }
    }
    if (!local_max) continue;  // a larger sample follows within the neighbourhood: judge that one
    f(i, d, hi - lo + 1 <= max_width);
    i = b;
  }
}

}  // namespace

std::string_view SensorFaultCodeName(SensorFaultCode code) {
  switch (code) {
    case SensorFaultCode::kNan: return "nan";
    case SensorFaultCode::kClipping: return "clipping";
    case SensorFaultCode::kFlatLine: return "flat_line";
    case SensorFaultCode::kLooseMounting: return "loose_mounting";
    case SensorFaultCode::kCableSpike: return "cable_spike";
    case SensorFaultCode::kDropout: return "dropout";
    case SensorFaultCode::kSampleRate: return "sample_rate";
    case SensorFaultCode::kSpeedMissing: return "speed_missing";
  }
  return "unknown";
}

bool SensorHealthReport::Has(SensorFaultCode code) const {
  for (const SensorFault& f : Faults()) {
    if (f.code == code) return true;
  }
  return false;
}

Status ValidateSensorHealthOptions(const SensorHealthOptions& o) {
  auto positive = [](double v) { return std::isfinite(v) && v > 0; };
  if (!(std::isfinite(o.flat_max_peak_to_peak) && o.flat_max_peak_to_peak >= 0))
    return InvalidArgument("sensor health: flat_max_peak_to_peak {} must be >= 0", o.flat_max_peak_to_peak);
  if (o.flat_max_levels < 1) return InvalidArgument("sensor health: flat_max_levels {} must be >= 1", o.flat_max_levels);
  if (!(o.flat_min_run_fraction > 0 && o.flat_min_run_fraction <= 1))
    return InvalidArgument("sensor health: flat_min_run_fraction {} must be in (0, 1]", o.flat_min_run_fraction);
  if (!positive(o.dropout_min_run_s)) return InvalidArgument("sensor health: dropout_min_run_s {} must be > 0", o.dropout_min_run_s);
  if (!(o.clip_tolerance > 0 && o.clip_tolerance < 0.25))
    return InvalidArgument("sensor health: clip_tolerance {} must be in (0, 0.25)", o.clip_tolerance);
  if (o.clip_min_run < 1 || o.clip_min_samples < 1 || !positive(o.clip_min_ratio))
    return InvalidArgument("sensor health: clip_min_run {}, clip_min_samples {} and clip_min_ratio {} must be >= 1, >= 1, > 0",
                           o.clip_min_run, o.clip_min_samples, o.clip_min_ratio);
  if (!positive(o.spike_threshold_sigma) || o.spike_isolation_samples < 1 || !(o.spike_isolation_ratio > 0 && o.spike_isolation_ratio < 1) ||
      o.spike_max_width < 1 || o.spike_max_width > o.spike_isolation_samples)
    return InvalidArgument("sensor health: spike options: threshold {} > 0, isolation {} >= 1 samples, ratio {} in (0, 1), "
                           "width {} in [1, isolation]", o.spike_threshold_sigma, o.spike_isolation_samples,
                           o.spike_isolation_ratio, o.spike_max_width);
  if (!(std::isfinite(o.spike_over_impacts) && o.spike_over_impacts >= 1))
    return InvalidArgument("sensor health: spike_over_impacts {} must be >= 1", o.spike_over_impacts);
  if (o.spike_periodic_min < 3 || !(o.spike_periodic_tolerance > 0 && o.spike_periodic_tolerance < 0.5) ||
      !(o.spike_periodic_fraction > 0 && o.spike_periodic_fraction <= 1))
    return InvalidArgument("sensor health: spike_periodic_min {} must be >= 3, spike_periodic_tolerance {} in (0, 0.5) and "
                           "spike_periodic_fraction {} in (0, 1]", o.spike_periodic_min, o.spike_periodic_tolerance,
                           o.spike_periodic_fraction);
  if (!(std::isfinite(o.floor_lo_hz) && o.floor_lo_hz >= 0 && std::isfinite(o.floor_hi_hz) && o.floor_hi_hz >= 0))
    return InvalidArgument("sensor health: floor band [{}, {}] Hz must be >= 0", o.floor_lo_hz, o.floor_hi_hz);
  if (!(std::isfinite(o.noise_floor_reference) && o.noise_floor_reference >= 0))
    return InvalidArgument("sensor health: noise_floor_reference {} must be >= 0 (0: learned)", o.noise_floor_reference);
  if (o.reference_blocks < 1) return InvalidArgument("sensor health: reference_blocks {} must be >= 1", o.reference_blocks);
  if (!(o.loose_max_kurtosis > 0)) return InvalidArgument("sensor health: loose_max_kurtosis {} must be > 0", o.loose_max_kurtosis);
  if (!positive(o.loose_floor_rise_db) || !positive(o.loose_subharmonic_snr_db))
    return InvalidArgument("sensor health: loose_floor_rise_db {} and loose_subharmonic_snr_db {} must be > 0",
                           o.loose_floor_rise_db, o.loose_subharmonic_snr_db);
  if (o.rate_harmonics < 2 || o.rate_harmonics > 20 || o.rate_min_harmonics < 2 || o.rate_min_harmonics > o.rate_harmonics)
    return InvalidArgument("sensor health: rate_harmonics {} must be in [2, 20] and rate_min_harmonics {} in [2, rate_harmonics]",
                           o.rate_harmonics, o.rate_min_harmonics);
  if (!(o.rate_search > 0 && o.rate_search < 0.5) || !positive(o.rate_step) || o.rate_step > o.rate_search ||
      !(o.rate_tolerance > 0 && o.rate_tolerance < o.rate_search) || !positive(o.rate_line_snr_db))
    return InvalidArgument("sensor health: rate_search {} in (0, 0.5), rate_step {} in (0, search], rate_tolerance {} in "
                           "(0, search), rate_line_snr_db {} > 0", o.rate_search, o.rate_step, o.rate_tolerance, o.rate_line_snr_db);
  if (!(std::isfinite(o.min_vibration_rms) && o.min_vibration_rms >= 0))
    return InvalidArgument("sensor health: min_vibration_rms {} must be >= 0", o.min_vibration_rms);
  if (o.hold_blocks < 0) return InvalidArgument("sensor health: hold_blocks {} must be >= 0", o.hold_blocks);
  return Status::Ok();
}

Result<SensorHealth> SensorHealth::Create(double fs, std::size_t block_size, SensorHealthOptions options) {
  if (!(fs > 0) || !std::isfinite(fs)) return InvalidArgument("sensor health: sampling rate {} Hz must be > 0", fs);
  if (block_size < 64 || block_size % 2 != 0)
    return InvalidArgument("sensor health: block length {} must be even and >= 64", block_size);
  PF_RETURN_IF_ERROR(ValidateSensorHealthOptions(options));
  if (options.floor_hi_hz == 0) options.floor_hi_hz = 0.4 * fs;
  if (!(options.floor_lo_hz < options.floor_hi_hz && options.floor_hi_hz <= fs / 2))
    return InvalidArgument("sensor health: floor band [{}, {}] Hz must be increasing and below fs/2 = {} Hz",
                           options.floor_lo_hz, options.floor_hi_hz, fs / 2);
  if ((options.floor_hi_hz - options.floor_lo_hz) * static_cast<double>(block_size) / fs < 8)
    return InvalidArgument("sensor health: floor band [{}, {}] Hz holds fewer than 8 bins", options.floor_lo_hz, options.floor_hi_hz);
  PF_ASSIGN_OR_RETURN(SpectrumAnalyzer spectrum, SpectrumAnalyzer::Create(fs, block_size, WindowKind::kHann));
  return SensorHealth(fs, block_size, options, std::move(spectrum));
}

SensorHealth::SensorHealth(double fs, std::size_t n, SensorHealthOptions o, SpectrumAnalyzer spectrum)
    : fs_(fs), n_(n), options_(o), spectrum_(std::move(spectrum)), scratch_(n), floor_(n / 2 + 1),
      spike_at_(kMaxSpikes), levels_(static_cast<std::size_t>(o.flat_max_levels) + 1) {
  if (o.noise_floor_reference > 0) {
    reference_ = o.noise_floor_reference;
    reference_ready_ = true;
  }
}

Status SensorHealth::Check(std::span<const float> x, std::optional<double> shaft_hz, SensorHealthReport* out) {
  if (x.size() != n_) return InvalidArgument("sensor health: block has {} samples, expected {}", x.size(), n_);
  if (out == nullptr) return InvalidArgument("sensor health: no report to fill");
  out->fault_count = 0;
  out->figures = SensorHealthFigures{};
  SensorHealthFigures& fig = out->figures;

  for (std::size_t i = 0; i < n_; ++i) {
    if (!std::isfinite(x[i])) {
      if (fig.nonfinite++ == 0) fig.first_nonfinite = static_cast<long>(i);
    }
  }
  const bool speed_known = shaft_hz.has_value() && std::isfinite(*shaft_hz) && *shaft_hz > 0;
  const bool speed_zero = shaft_hz.has_value() && *shaft_hz == 0;
  if (fig.nonfinite > 0) {
    AddFault(out, SensorFaultCode::kNan, static_cast<double>(fig.nonfinite), 0,
             "{} of {} samples are NaN or infinite (first at sample {}); other checks skipped", fig.nonfinite, n_,
             fig.first_nonfinite);
  } else {
    CheckLevels(x, out);
    const bool flat = out->Has(SensorFaultCode::kFlatLine);
    if (flat && speed_zero) out->fault_count = 0;  // a stopped machine may be that quiet: not a sensor fault
    if (!flat) {
      CheckClipping(x, out);
      CheckSpikes(x, out);
      if (!speed_known && fig.rms >= options_.min_vibration_rms) ReportSpeedMissing(shaft_hz, out);
      PF_RETURN_IF_ERROR(spectrum_.Compute(x));
      CheckSpectrum(speed_known ? *shaft_hz : 0, speed_known, out);
    }
  }

  if (out->fault_count > 0) {
    blocks_since_fault_ = 0;
  } else if (blocks_since_fault_ < std::numeric_limits<int>::max()) {
    ++blocks_since_fault_;
  }
  out->suppress_diagnosis = blocks_since_fault_ <= options_.hold_blocks;
  return Status::Ok();
}

void SensorHealth::ReportSpeedMissing(std::optional<double> shaft_hz, SensorHealthReport* out) {
  const double rms = out->figures.rms;
  if (!shaft_hz.has_value()) {
    AddFault(out, SensorFaultCode::kSpeedMissing, 0, 0, "no speed tag while vibration is present (RMS {:.4g})", rms);
  } else if (std::isnan(*shaft_hz)) {
    AddFault(out, SensorFaultCode::kSpeedMissing, 0, 0, "speed tag is NaN while vibration is present (RMS {:.4g})", rms);
  } else {
    const double v = std::isfinite(*shaft_hz) ? *shaft_hz : 0;
    AddFault(out, SensorFaultCode::kSpeedMissing, v, 0, "speed tag is {} Hz while vibration is present (RMS {:.4g})",
             *shaft_hz, rms);
  }
}

void SensorHealth::CheckLevels(std::span<const float> x, SensorHealthReport* out) {
  SensorHealthFigures& fig = out->figures;
  double sum = 0, sum2 = 0;
  float lo = x[0], hi = x[0];
  for (float v : x) {
    sum += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double mean = sum / static_cast<double>(n_);
  double sum4 = 0;
  for (float v : x) {
    const double d2 = (v - mean) * (v - mean);
    sum2 += d2;
    sum4 += d2 * d2;
  }
  fig.rms = std::sqrt(sum2 / static_cast<double>(n_));
  fig.kurtosis = sum2 > 0 ? sum4 * static_cast<double>(n_) / (sum2 * sum2) : 0;
  fig.peak_to_peak = static_cast<double>(hi) - lo;

  // Distinct values, counted only up to one past the flat-line limit (a live signal stops early).
  fig.levels = 0;
  for (std::size_t i = 0; i < n_ && fig.levels <= options_.flat_max_levels; ++i) {
    const auto seen = levels_.begin() + fig.levels;
    if (std::find(levels_.begin(), seen, x[i]) == seen) levels_[static_cast<std::size_t>(fig.levels++)] = x[i];
  }
  std::copy(x.begin(), x.end(), scratch_.begin());
  auto mid = scratch_.begin() + static_cast<std::ptrdiff_t>(n_ / 2);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  fig.median = *mid;  // the upper median for an even n
  for (std::size_t i = 0; i < n_; ++i) scratch_[i] = static_cast<float>(std::fabs(x[i] - fig.median));
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  fig.robust_sigma = kMadToSigma * *mid;
  fig.peak = std::max(std::fabs(hi - fig.median), std::fabs(lo - fig.median));

  const auto dropout_min = static_cast<long>(std::ceil(options_.dropout_min_run_s * fs_));
  const ConstantRuns runs = FindConstantRuns(x, dropout_min);
  fig.longest_run = runs.longest;
  fig.longest_run_value = runs.longest_value;
  const long dropouts = runs.long_runs, dropout_samples = runs.long_run_samples;

  const double run_fraction = static_cast<double>(fig.longest_run) / static_cast<double>(n_);
  if (fig.peak_to_peak <= options_.flat_max_peak_to_peak) {
    AddFault(out, SensorFaultCode::kFlatLine, fig.peak_to_peak, options_.flat_max_peak_to_peak,
             "peak-to-peak {:.3g} <= {:.3g} over {} samples (value {:.6g})", fig.peak_to_peak,
             options_.flat_max_peak_to_peak, n_, fig.median);
  } else if (fig.levels <= options_.flat_max_levels) {
    AddFault(out, SensorFaultCode::kFlatLine, fig.levels, options_.flat_max_levels,
             "only {} distinct values in {} samples (quantisation noise only, peak-to-peak {:.3g})", fig.levels, n_,
             fig.peak_to_peak);
  } else if (run_fraction >= options_.flat_min_run_fraction) {
    AddFault(out, SensorFaultCode::kFlatLine, run_fraction, options_.flat_min_run_fraction,
             "stuck at {:.6g} for {} of {} samples ({:.0f} %)", fig.longest_run_value, fig.longest_run, n_,
             100 * run_fraction);
  } else if (dropouts > 0) {
    const long longest_dropout = runs.longest;
    const double dropout_value = runs.longest_value;
    AddFault(out, SensorFaultCode::kDropout, static_cast<double>(longest_dropout), static_cast<double>(dropout_min),
             "{} run(s) of identical samples >= {} samples ({:.1f} ms), {} samples in all; longest {} at {:.6g}{}",
             dropouts, dropout_min, 1000.0 * dropout_min / fs_, dropout_samples, longest_dropout, dropout_value,
             dropout_value == 0 ? " (exact zeros)" : " (a step to a constant)");
  }
}

void SensorHealth::CheckClipping(std::span<const float> x, SensorHealthReport* out) {
  SensorHealthFigures& fig = out->figures;
  float lo = x[0], hi = x[0];
  for (float v : x) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double tol = options_.clip_tolerance * 0.5 * (static_cast<double>(hi) - lo);
  if (!(tol > 0)) return;
  long rail = 0, rail_run = 0, shoulder = 0, run = 0;
  int run_side = 0;
  auto close_run = [&] {
    if (run >= options_.clip_min_run) rail_run += run;
    run = 0;
  };
  for (float v : x) {
    const double d_hi = hi - static_cast<double>(v), d_lo = static_cast<double>(v) - lo;
    const int side = d_hi <= tol ? 1 : (d_lo <= tol ? -1 : 0);
    if (side != 0) {
      ++rail;
      if (side != run_side) close_run();
      run_side = side;
      ++run;
    } else {
      close_run();
      run_side = 0;
      if (d_hi <= 4 * tol || d_lo <= 4 * tol) ++shoulder;
    }
  }
  close_run();
  fig.rail_samples = rail;
  fig.rail_run_samples = rail_run;
  fig.shoulder_samples = shoulder;
  const double ratio = static_cast<double>(rail) / static_cast<double>(std::max<long>(shoulder, 1));
  if (rail_run >= options_.clip_min_samples && ratio >= options_.clip_min_ratio) {
    AddFault(out, SensorFaultCode::kClipping, static_cast<double>(rail) / static_cast<double>(n_),
             options_.clip_min_ratio,
             "{} samples ({:.2f} %) at the rails [{:.4g}, {:.4g}], {} in flat runs >= {}; {:.1f}x the {} samples just "
             "inside (>= {:.1f}x)", rail, 100.0 * rail / static_cast<double>(n_), lo, hi, rail_run, options_.clip_min_run,
             ratio, shoulder, options_.clip_min_ratio);
  }
}

void SensorHealth::CheckSpikes(std::span<const float> x, SensorHealthReport* out) {
  SensorHealthFigures& fig = out->figures;
  if (!(fig.robust_sigma > 0)) return;
  const double threshold = options_.spike_threshold_sigma * fig.robust_sigma;
  auto for_each_peak = [&](double thr, auto&& f) {
    ForEachPeakImpl(x, fig.median, thr, static_cast<std::size_t>(options_.spike_isolation_samples),
                    static_cast<std::size_t>(options_.spike_max_width), options_.spike_isolation_ratio, f);
  };
  double ringing = 0;  // the largest peak above the threshold that rings (an impact)
  for_each_peak(threshold, [&](std::size_t, double d, bool isolated) {
    if (!isolated) ringing = std::max(ringing, d);
  });
  fig.ringing_peak_sigma = ringing / fig.robust_sigma;
  const double floor = std::max(threshold, options_.spike_over_impacts * ringing);
  std::size_t stored = 0;
  int spikes = 0;
  for_each_peak(floor, [&](std::size_t i, double d, bool isolated) {
    if (!isolated) return;
    ++spikes;
    fig.max_spike_sigma = std::max(fig.max_spike_sigma, d / fig.robust_sigma);
    if (stored < kMaxSpikes) spike_at_[stored++] = static_cast<long>(i);
  });
  fig.spikes = spikes;
  if (spikes == 0) return;
  if (static_cast<int>(stored) >= options_.spike_periodic_min) fig.spikes_periodic = SpikesPeriodic(stored);
  if (fig.spikes_periodic) return;
  AddFault(out, SensorFaultCode::kCableSpike, fig.max_spike_sigma, floor / fig.robust_sigma,
           "{} isolated spike(s) up to {:.1f} robust sigmas (sigma {:.4g}; threshold {:.1f}, or {:.1f}x the largest ringing "
           "impact at {:.1f}), first at sample {}, not periodic", spikes, fig.max_spike_sigma, fig.robust_sigma,
           options_.spike_threshold_sigma, options_.spike_over_impacts, fig.ringing_peak_sigma, spike_at_[0]);
}

// Impacts rarely all pass the isolation test, so the isolated ones are a periodic train with gaps:
// each interval is tried as the period, and the train is periodic when enough intervals are
// near-integer multiples of it.
bool SensorHealth::SpikesPeriodic(std::size_t stored) const {
  const std::size_t intervals = stored - 1;
  for (std::size_t p = 1; p < stored; ++p) {
    const double period = static_cast<double>(spike_at_[p] - spike_at_[p - 1]);
    std::size_t fit = 0;
    for (std::size_t k = 1; k < stored; ++k) {
      const double m = static_cast<double>(spike_at_[k] - spike_at_[k - 1]) / period;
      fit += m > 0.5 && std::fabs(m - std::round(m)) <= options_.spike_periodic_tolerance;
    }
    if (static_cast<double>(fit) >= options_.spike_periodic_fraction * static_cast<double>(intervals)) return true;
  }
  return false;
}

double SensorHealth::LocalSnrDb(double f_hz, double halfwidth_hz) const {
  const auto amp = spectrum_.amplitude();
  const double df = spectrum_.bin_hz();
  const auto last = static_cast<long>(amp.size()) - 1;
  const long k0 = std::max(2L, std::lround((f_hz - halfwidth_hz) / df));
  const long k1 = std::min(last, std::max(k0, std::lround((f_hz + halfwidth_hz) / df)));
  if (k0 > last) return 0;
  float peak = 0;
  for (long k = k0; k <= k1; ++k) peak = std::max(peak, amp[static_cast<std::size_t>(k)]);
  // Median of the neighbourhood outside the search window: at least 5 bins each side.
  const long side = std::max(5L, std::lround(0.3 * f_hz / df));
  float vals[512];
  int m = 0;
  for (long k = std::max(2L, k0 - side); k <= std::min(last, k1 + side) && m < 512; ++k) {
    if (k < k0 || k > k1) vals[m++] = amp[static_cast<std::size_t>(k)];
  }
  if (m == 0) return 0;
  std::nth_element(vals, vals + m / 2, vals + m);
  return Db(peak / std::max(vals[m / 2], std::numeric_limits<float>::min()));
}

void SensorHealth::CheckSpectrum(double shaft_hz, bool speed_known, SensorHealthReport* out) {
  SensorHealthFigures& fig = out->figures;
  const auto power = spectrum_.power();
  const double df = spectrum_.bin_hz();
  const auto k0 = static_cast<std::size_t>(std::ceil(options_.floor_lo_hz / df));
  const auto k1 = std::min(power.size() - 1, static_cast<std::size_t>(std::floor(options_.floor_hi_hz / df)));
  const std::size_t m = k1 - k0 + 1;
  std::copy(power.begin() + static_cast<std::ptrdiff_t>(k0), power.begin() + static_cast<std::ptrdiff_t>(k1 + 1),
            scratch_.begin());
  std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(m / 2),
                   scratch_.begin() + static_cast<std::ptrdiff_t>(m));
  fig.noise_floor = scratch_[m / 2];

  bool loose = false;
  if (reference_ready_ && reference_ > 0) {
    fig.noise_floor_reference = reference_;
    fig.floor_rise_db = 10 * std::log10(std::max(fig.noise_floor, 1e-30) / reference_);
    if (fig.floor_rise_db >= options_.loose_floor_rise_db && fig.kurtosis < options_.loose_max_kurtosis) {
      loose = true;
      AddFault(out, SensorFaultCode::kLooseMounting, fig.floor_rise_db, options_.loose_floor_rise_db,
               "noise floor {:.3g}/bin over {:.0f}-{:.0f} Hz is {:.1f} dB above the reference {:.3g} (>= {:.1f} dB), "
               "kurtosis {:.1f} (not impulsive)",
               fig.noise_floor, options_.floor_lo_hz, options_.floor_hi_hz, fig.floor_rise_db, reference_,
               options_.loose_floor_rise_db, fig.kurtosis);
    }
  }
  if (speed_known) {
    const double tol = std::max(df, 0.01 * shaft_hz);
    fig.subharmonic_snr_db[0] = LocalSnrDb(shaft_hz / 2, tol / 2);
    fig.subharmonic_snr_db[1] = LocalSnrDb(shaft_hz / 3, tol / 3);
    const int which = fig.subharmonic_snr_db[0] >= fig.subharmonic_snr_db[1] ? 0 : 1;
    const double snr = fig.subharmonic_snr_db[which];
    if (!loose && snr >= options_.loose_subharmonic_snr_db) {
      loose = true;
      AddFault(out, SensorFaultCode::kLooseMounting, snr, options_.loose_subharmonic_snr_db,
               "sub-harmonic at 1/{}x = {:.2f} Hz stands {:.1f} dB over its neighbourhood (>= {:.1f} dB); noise floor {:+.1f} dB",
               which + 2, shaft_hz / (which + 2), snr, options_.loose_subharmonic_snr_db, fig.floor_rise_db);
    }
    CheckRate(shaft_hz, out);
  }
  if (!reference_ready_ && out->fault_count == 0) {
    reference_sum_ += fig.noise_floor;
    if (++reference_count_ >= options_.reference_blocks) {
      reference_ = reference_sum_ / reference_count_;
      reference_ready_ = true;
    }
  }
}

void SensorHealth::CheckRate(double shaft_hz, SensorHealthReport* out) {
  SensorHealthFigures& fig = out->figures;
  const auto amp = spectrum_.amplitude();
  const double df = spectrum_.bin_hz();
  const int harmonics = options_.rate_harmonics;
  const double f_max = 0.45 * fs_;
  const auto k_max = std::min(amp.size() - 1, static_cast<std::size_t>(
      std::ceil(harmonics * shaft_hz * (1 + options_.rate_search) / df)) + kRateFloorHalfwidthBins + 2);
  if (shaft_hz * (1 + options_.rate_search) * 2 > f_max || shaft_hz * (1 - options_.rate_search) < 4 * df) return;
  // Local median of the amplitude spectrum, for each bin the comb may touch.
  for (std::size_t k = 1; k <= k_max; ++k) {
    float vals[2 * kRateFloorHalfwidthBins + 1];
    int m = 0;
    for (long j = static_cast<long>(k) - kRateFloorHalfwidthBins; j <= static_cast<long>(k) + kRateFloorHalfwidthBins; ++j) {
      if (j >= 1 && j < static_cast<long>(amp.size())) vals[m++] = amp[static_cast<std::size_t>(j)];
    }
    std::nth_element(vals, vals + m / 2, vals + m);
    floor_[k] = std::max(vals[m / 2], std::numeric_limits<float>::min());
  }
  const double line_ratio = std::pow(10.0, options_.rate_line_snr_db / 20);
  // Harmonics found on the comb h * fr * r; none unless the 1x line itself is among them.
  auto comb = [&](double r, double* sum_db) {
    int found = 0;
    *sum_db = 0;
    for (int h = 1; h <= harmonics; ++h) {
      const double f = h * shaft_hz * r;
      if (f > f_max) break;
      const auto ka = static_cast<std::size_t>(std::floor(f / df));
      const std::size_t kb = std::min(ka + 1, k_max);
      if (ka < 1 || ka > k_max) break;
      const double snr = std::max(amp[ka] / floor_[ka], amp[kb] / floor_[kb]);
      if (snr >= line_ratio) {
        ++found;
        *sum_db += std::min(Db(snr), 40.0);
      } else if (h == 1) {
        return 0;
      }
    }
    return found;
  };
  const int steps = static_cast<int>(std::floor(options_.rate_search / options_.rate_step));
  int best = -1, best_nominal = 0;
  double best_db = 0, best_r = 1, nominal_db = 0;
  for (int s = -steps; s <= steps; ++s) {
    const double r = 1 + s * options_.rate_step;
    double db = 0;
    const int found = comb(r, &db);
    if (found > best || (found == best && db > best_db)) {
      best = found;
      best_db = db;
      best_r = r;
    }
    if (std::fabs(r - 1) <= options_.rate_tolerance / 2 && (found > best_nominal || (found == best_nominal && db > nominal_db))) {
      best_nominal = found;
      nominal_db = db;
    }
  }
  fig.rate_checked = true;
  fig.rate_ratio = best_r;
  fig.rate_harmonics = best;
  fig.rate_harmonics_nominal = best_nominal;
  if (std::fabs(best_r - 1) >= options_.rate_tolerance && best >= options_.rate_min_harmonics && best > best_nominal) {
    AddFault(out, SensorFaultCode::kSampleRate, best_r, options_.rate_tolerance,
             "shaft harmonics found at {:.3f}x the speed tag ({} of {} lines, {} at the tag): 1x at {:.2f} Hz for a {:.2f} Hz "
             "tag; the true sampling rate is about {:.0f} Hz, not {:.0f} Hz", best_r, best, harmonics, best_nominal,
             shaft_hz * best_r, shaft_hz, fs_ / best_r, fs_);
  }
}

}  // namespace pf::dsp
