#pragma once
// Bearing fault location from a squared-envelope spectrum (SES), with the evidence.
//
// For each candidate location the kinematic fault frequency f (BPFO, BPFI, BSF, FTF scaled by the
// shaft speed) and its harmonics h*f, h = 1..harmonics, are searched in the SES within
// +-(speed_tolerance*h*f + bin/2). A harmonic that falls within that window of a shaft harmonic
// m*fr is skipped (shaft-rate lines cannot be told from it). Each line's evidence is its peak
// amplitude over the local noise floor, the median SES over +-max(floor_min_bins,
// floor_halfwidth_fraction*h*f) bins, as snr_db = 20 log10(peak / floor).
//   score    = sum over searched harmonics of max(0, snr_db) / h   (dB, fundamentals weigh most)
//   detected = at least min_detected_harmonics harmonics with snr_db >= detection_snr_db
// Sidebands are searched and reported as evidence (not scored): inner race +-fr (the defect turns
// with the shaft through the load zone), ball +-FTF (the ball turns with the cage). An inner race
// is only `detected` with at least inner_race_min_sidebands of its +-fr sidebands found as well:
// that modulation is what tells an inner-race defect from any other line near BPFI (under a
// fixed-direction load; set 0 for loads that turn with the shaft, e.g. unbalance-dominated).
// Decision: the candidate with the highest score; `none` when it is not detected; `ambiguous`
// when it is detected but the runner-up's score is within margin_db; else its location.
// One parameter set for all machines; nothing is learned from fault data.
#include <array>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "dsp/bearing.h"

namespace pf::dsp {

enum class FaultLocation { kNone, kInnerRace, kOuterRace, kBall, kCage, kAmbiguous };
std::string_view FaultLocationName(FaultLocation l);  // "none", "inner_race", "outer_race", "ball", "cage", "ambiguous"

inline constexpr int kMaxHarmonics = 5;

struct DiagnosisOptions {
  double speed_tolerance = 0.005;      // fraction of the stated speed (slip, speed-tag error)
  int harmonics = 3;                   // 1..kMaxHarmonics
  double detection_snr_db = 9.5;       // a line counts as found at 3x the local floor
  int min_detected_harmonics = 2;      // lines a location needs before it is named
  double margin_db = 6.0;              // best minus runner-up score needed to name a location
  int inner_race_min_sidebands = 1;    // +-fr sidebands an inner race needs (0: none)
  double floor_halfwidth_fraction = 0.1;
  int floor_min_bins = 5;
};
Status ValidateDiagnosisOptions(const DiagnosisOptions& o);

struct LineEvidence {
  double expected_hz = 0;
  double found_hz = 0;     // the highest SES bin in the search window
  double amplitude = 0;    // SES amplitude there (input units^2)
  double floor = 0;        // local median
  double snr_db = 0;
  bool searched = false;   // false: outside the spectrum or on a shaft harmonic
  bool shaft_coincident = false;
};

struct CandidateEvidence {
  FaultLocation location = FaultLocation::kNone;
  double fundamental_hz = 0;
  std::array<LineEvidence, kMaxHarmonics> harmonics{};      // [h-1]
  std::array<LineEvidence, 2 * kMaxHarmonics> sidebands{};  // [2(h-1)] lower, [2(h-1)+1] upper
  double sideband_spacing_hz = 0;                           // 0: none searched
  int harmonics_detected = 0;
  int sidebands_detected = 0;
  double score = 0;
  bool detected = false;
};

struct Diagnosis {
  FaultLocation location = FaultLocation::kNone;
  std::array<CandidateEvidence, 4> candidates{};  // best score first
  double best_score = 0, second_score = 0, margin = 0;
};

// ses: amplitude SES from bin 0 at bin_hz spacing; shaft_hz > 0; defects: multiples of fr.
Result<Diagnosis> DiagnoseBearing(std::span<const float> ses, double bin_hz, double shaft_hz,
                                  const DefectFrequencies& defects, const DiagnosisOptions& options);

// One line per candidate, for logs and reports (allocates; not for the hot path).
std::string DescribeDiagnosis(const Diagnosis& d);

}  // namespace pf::dsp
