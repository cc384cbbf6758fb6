#include "dsp/diagnosis.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace pf::dsp {
namespace {

constexpr int kMaxFloorBins = 4096;

// Median of ses[lo..hi] without allocating (the window is capped at kMaxFloorBins).
double LocalFloor(std::span<const float> ses, std::size_t lo, std::size_t hi) {
  std::array<float, kMaxFloorBins> scratch;
  std::size_t n = 0;
  for (std::size_t k = lo; k <= hi && n < scratch.size(); ++k) scratch[n++] = ses[k];
  if (n == 0) return 0;
  auto mid = scratch.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(scratch.begin(), mid, scratch.begin() + static_cast<std::ptrdiff_t>(n));
  return *mid;
}

LineEvidence FindLine(std::span<const float> ses, double bin_hz, double f, double tolerance,
                      const DiagnosisOptions& o) {
  LineEvidence e;
  e.expected_hz = f;
  const double half = tolerance * f + 0.5 * bin_hz;
  const double lo_hz = f - half, hi_hz = f + half;
  if (lo_hz <= bin_hz || static_cast<std::size_t>(std::ceil(hi_hz / bin_hz)) + 1 >= ses.size()) return e;
  const auto k0 = static_cast<std::size_t>(std::ceil(lo_hz / bin_hz));
  const auto k1 = std::max(k0, static_cast<std::size_t>(std::floor(hi_hz / bin_hz)));
  std::size_t kbest = k0;
  for (std::size_t k = k0; k <= k1; ++k) {
    if (ses[k] > ses[kbest]) kbest = k;
  }
  const auto fk = static_cast<std::size_t>(std::lround(f / bin_hz));
  const auto hw = static_cast<std::size_t>(std::max<double>(o.floor_min_bins, std::round(o.floor_halfwidth_fraction * f / bin_hz)));
  const std::size_t flo = fk > hw ? fk - hw : 1;
  const std::size_t fhi = std::min(ses.size() - 1, fk + hw);
  e.searched = true;
  e.found_hz = static_cast<double>(kbest) * bin_hz;
  e.amplitude = ses[kbest];
  e.floor = LocalFloor(ses, std::max<std::size_t>(flo, 1), fhi);
  if (e.floor > 0 && e.amplitude > 0) {
    e.snr_db = 20 * std::log10(e.amplitude / e.floor);
  }
  return e;
}

bool OnShaftHarmonic(double f, double shaft_hz, double half) {
  const double m = std::round(f / shaft_hz);
  return m >= 1 && std::abs(f - m * shaft_hz) < half;
}

CandidateEvidence Evaluate(FaultLocation loc, double f, double sideband_hz, std::span<const float> ses,
                           double bin_hz, double shaft_hz, const DiagnosisOptions& o) {
  CandidateEvidence c;
  c.location = loc;
  c.fundamental_hz = f;
  c.sideband_spacing_hz = sideband_hz;
  for (int h = 1; h <= o.harmonics; ++h) {
    const double fh = h * f;
    const double half = o.speed_tolerance * fh + 0.5 * bin_hz;
    LineEvidence& line = c.harmonics[h - 1];
    if (OnShaftHarmonic(fh, shaft_hz, half + 0.5 * bin_hz)) {
      line.expected_hz = fh;
      line.shaft_coincident = true;
      continue;
    }
    line = FindLine(ses, bin_hz, fh, o.speed_tolerance, o);
    if (!line.searched) continue;
    c.score += std::max(0.0, line.snr_db) / h;
    if (line.snr_db >= o.detection_snr_db) ++c.harmonics_detected;
    if (sideband_hz > 0) {
      for (int side = 0; side < 2; ++side) {
        const double fs = fh + (side == 0 ? -sideband_hz : sideband_hz);
        LineEvidence sb = FindLine(ses, bin_hz, fs, o.speed_tolerance, o);
        if (sb.searched && sb.snr_db >= o.detection_snr_db) ++c.sidebands_detected;
        c.sidebands[2 * (h - 1) + side] = sb;
      }
    }
  }
  c.detected = c.harmonics_detected >= o.min_detected_harmonics;
  if (loc == FaultLocation::kInnerRace && c.sidebands_detected < o.inner_race_min_sidebands) c.detected = false;
  return c;
}

}  // namespace

std::string_view FaultLocationName(FaultLocation l) {
  switch (l) {
    case FaultLocation::kNone: return "none";
    case FaultLocation::kInnerRace: return "inner_race";
    case FaultLocation::kOuterRace: return "outer_race";
    case FaultLocation::kBall: return "ball";
    case FaultLocation::kCage: return "cage";
    case FaultLocation::kAmbiguous: return "ambiguous";
  }
  return "unknown";
}

Status ValidateDiagnosisOptions(const DiagnosisOptions& o) {
  if (!(o.speed_tolerance >= 0 && o.speed_tolerance < 0.2)) {
    return InvalidArgument("diagnosis: speed_tolerance {} must be in [0, 0.2)", o.speed_tolerance);
  }
  if (o.harmonics < 1 || o.harmonics > kMaxHarmonics) {
    return InvalidArgument("diagnosis: harmonics {} must be in 1..{}", o.harmonics, kMaxHarmonics);
  }
  if (o.min_detected_harmonics < 1 || o.min_detected_harmonics > o.harmonics) {
    return InvalidArgument("diagnosis: min_detected_harmonics {} must be in 1..harmonics ({})",
                           o.min_detected_harmonics, o.harmonics);
  }
  if (o.inner_race_min_sidebands < 0 || o.inner_race_min_sidebands > 2 * o.harmonics) {
    return InvalidArgument("diagnosis: inner_race_min_sidebands {} must be in 0..2*harmonics ({})",
                           o.inner_race_min_sidebands, 2 * o.harmonics);
  }
  if (!(o.margin_db >= 0) || !std::isfinite(o.detection_snr_db) || !(o.floor_halfwidth_fraction > 0) ||
      o.floor_min_bins < 2) {
    return InvalidArgument("diagnosis: margin_db {} must be >= 0, floor_halfwidth_fraction {} > 0, floor_min_bins {} >= 2",
                           o.margin_db, o.floor_halfwidth_fraction, o.floor_min_bins);
  }
  return Status::Ok();
}

Result<Diagnosis> DiagnoseBearing(std::span<const float> ses, double bin_hz, double shaft_hz,
                                  const DefectFrequencies& defects, const DiagnosisOptions& o) {
  PF_RETURN_IF_ERROR(ValidateDiagnosisOptions(o));
  if (!(shaft_hz > 0) || !std::isfinite(shaft_hz)) return InvalidArgument("diagnosis: shaft speed {} Hz must be > 0", shaft_hz);
  if (!(bin_hz > 0) || !std::isfinite(bin_hz)) return InvalidArgument("diagnosis: bin width {} Hz must be > 0", bin_hz);
  if (ses.size() < 16) return InvalidArgument("diagnosis: envelope spectrum has {} bins, need >= 16", ses.size());
  for (std::size_t k = 0; k < ses.size(); ++k) {
    if (!std::isfinite(ses[k])) return InvalidArgument("diagnosis: envelope spectrum bin {} is not finite", k);
  }
  const DefectFrequencies f = defects.Scaled(shaft_hz);
  Diagnosis d;
  d.candidates = {
      Evaluate(FaultLocation::kOuterRace, f.bpfo, 0, ses, bin_hz, shaft_hz, o),
      Evaluate(FaultLocation::kInnerRace, f.bpfi, shaft_hz, ses, bin_hz, shaft_hz, o),
      Evaluate(FaultLocation::kBall, f.bsf, f.ftf, ses, bin_hz, shaft_hz, o),
      Evaluate(FaultLocation::kCage, f.ftf, 0, ses, bin_hz, shaft_hz, o),
  };
  // Stable insertion sort by score (std::stable_sort may allocate a buffer).
  for (std::size_t i = 1; i < d.candidates.size(); ++i) {
    for (std::size_t j = i; j > 0 && d.candidates[j].score > d.candidates[j - 1].score; --j) {
      std::swap(d.candidates[j], d.candidates[j - 1]);
    }
  }
  d.best_score = d.candidates[0].score;
  d.second_score = d.candidates[1].score;
  d.margin = d.best_score - d.second_score;
  if (!d.candidates[0].detected) {
    d.location = FaultLocation::kNone;
  } else if (d.margin < o.margin_db) {
    d.location = FaultLocation::kAmbiguous;
  } else {
    d.location = d.candidates[0].location;
  }
  return d;
}

std::string DescribeDiagnosis(const Diagnosis& d) {
  std::string s = fmt::format("{} (best {:.1f} dB, second {:.1f} dB, margin {:.1f} dB)", FaultLocationName(d.location),
                              d.best_score, d.second_score, d.margin);
  for (const auto& c : d.candidates) {
    s += fmt::format("\n  {:<10} f={:.2f} Hz score={:.1f} dB lines={} sidebands={}{}:", FaultLocationName(c.location),
                     c.fundamental_hz, c.score, c.harmonics_detected, c.sidebands_detected, c.detected ? " detected" : "");
    for (const auto& h : c.harmonics) {
      if (h.shaft_coincident) {
        s += fmt::format(" [{:.1f} Hz on a shaft harmonic]", h.expected_hz);
      } else if (h.searched) {
        s += fmt::format(" [{:.1f}->{:.1f} Hz {:.1f} dB]", h.expected_hz, h.found_hz, h.snr_db);
      }
    }
  }
  return s;
}

}  // namespace pf::dsp
