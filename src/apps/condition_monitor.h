#pragma once
// ConditionMonitor: condition monitoring of one vibration channel of one rotating machine, on live
// data. Pure: waveform blocks and speed in; derived values, alert condition updates (with their
// evidence) and events out. No I/O, no threads, no clock (every time comes from the data).
//
// The waveform arrives in source blocks of any length; the monitor cuts it into analysis windows
// of block_s seconds, one every hop_s seconds (hop < block overlaps them, which gives a short
// record more windows for the baseline). A gap or a change of sample rate restarts the window.
// Each window, in this order:
//   1. Sensor health (dsp/sensor_health.h): a faulty sensor is its own alert (cause
//      "<name>.sensor.<code>") and never a machine fault: while the sensor health says
//      suppress_diagnosis, nothing below runs (no zone, diagnosis, learning or score).
//   2. Speed: the speed input (rpm) or the fixed rpm. Below min_speed_fraction of nominal_rpm
//      (start-up, coast-down, stopped) only the time features and velocity are published; no
//      machine alert changes state and nothing is learned or scored.
//   3. dsp::BlockProcessor: time features, velocity RMS (mm/s, input in g) and ISO zone, envelope
//      spectrum and bearing diagnosis. Zone C and zone D are conditions "<name>.zone.C" (active in
//      C and D) and "<name>.zone.D". A named bearing location held for diagnosis_blocks windows is
//      "<name>.bearing.<location>" (inner_race, outer_race, ball, cage); an ambiguous verdict is
//      "<name>.bearing.ambiguous" with both candidates. Their evidence (lines, amplitudes, SNR,
//      margin) is a JSON object beside the update.
//   4. Baseline (detect/baseline.h) on the features kBaselineFeatures, per speed regime: learned
//      from the first baseline_blocks steady windows, or from the windows that start inside
//      [baseline_from, baseline_to); then every steady window is scored (d^2 and the threshold
//      from the target false-alarm rate) and anomaly_blocks consecutive exceedances are the
//      condition "<name>.anomaly". A refused fit is an event and learning goes on for another
//      baseline_blocks windows. The learned baseline is JSON (BaselineJson / RestoreBaseline) so
//      the runtime can keep it across restarts.
// With hop < block, windows share samples: the envelope diagnosis runs on disjoint windows only
// (one every block / hop windows), and anomaly_blocks counts disjoint windows, i.e. k of them are
// (k - 1) * block / hop + 1 consecutive overlapping windows over the threshold. The baseline
// counts overlapping windows as hop / block independent samples each (its minimum sample count
// and the F-law threshold use that), so 41 windows cut from 3 s of signal are not taken for 41
// observations of the machine.
// Conditions are reported active on every window they hold and inactive once when they clear.
//
// Not thread-safe: one monitor per channel, used by one thread.
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_types.h"
#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"
#include "core/time.h"
#include "detect/baseline.h"
#include "dsp/block_processor.h"
#include "dsp/sensor_health.h"

namespace pf::apps {

// The derived values of each window, published as tags "<tag>.<suffix>".
enum class Derived { kVelocityRms, kZone, kKurtosis, kCrest, kAnomalyScore, kAnomalyThreshold, kSensorOk };
inline constexpr int kDerivedCount = 7;
// "velocity_rms", "zone", "kurtosis", "crest", "anomaly_score", "anomaly_threshold", "sensor_ok"
std::string_view DerivedSuffix(Derived d);
std::string_view DerivedUnit(Derived d);  // "mm/s", "", ...

// The baseline's feature vector, in order.
// The overall RMS in g is left out: over 10-1000 Hz velocity and broadband RMS move together on
// most machines, and two nearly collinear features make the covariance of a short baseline
// near-singular (a tiny change in their ratio then scores as a large anomaly).
inline constexpr std::array<std::string_view, 3> kBaselineFeatures = {"velocity_rms", "kurtosis", "crest"};

struct ConditionPriorities {
  alerts::Priority zone_c = alerts::Priority::kMedium;
  alerts::Priority zone_d = alerts::Priority::kHigh;
  alerts::Priority bearing = alerts::Priority::kHigh;
  alerts::Priority anomaly = alerts::Priority::kMedium;
  alerts::Priority sensor = alerts::Priority::kLow;
};

struct ConditionMonitorConfig {
  std::string name;   // names the conditions: "<name>.zone.C", "<name>.bearing.inner_race", ...
  std::string asset;  // asset of the alerts and the baseline
  std::string tag;    // the waveform tag (messages only)
  double sample_rate_hz = 0;  // 0: the first block's rate
  double block_s = 1.0;       // analysis window
  double hop_s = 0;           // 0: block_s (no overlap)
  std::optional<double> fixed_rpm;  // no speed input: the machine runs at this speed
  double nominal_rpm = 0;           // 0: fixed_rpm (required with a speed input)
  double min_speed_fraction = 0.5;  // below it: start-up / coast-down, suppressed
  double speed_timeout_s = 10;      // an older speed sample counts as missing
  dsp::BearingGeometry bearing;
  dsp::ZoneBoundaries zones = dsp::DefaultZoneBoundaries(dsp::MachineGroup::kGroup2, dsp::Foundation::kRigid);
  std::optional<dsp::FrequencyBand> envelope_band;  // else the kurtogram's
  int kurtogram_blocks = 10;
  // The kurtogram (the one expensive step) runs on the windows where count % kurtogram_blocks ==
  // phase; the runtime gives its monitors phases round-robin so that they do not all fall on one window.
  int kurtogram_phase = 0;
  int ses_average_blocks = 10;
  int diagnosis_blocks = 3;   // consecutive diagnoses (disjoint windows) naming one location before it is raised
  dsp::SensorHealthOptions sensor;
  // baseline
  int baseline_blocks = 200;                  // steady windows learned (when no time range)
  std::optional<Timestamp> baseline_from, baseline_to;
  std::vector<double> regime_rpm_edges;       // empty: one regime over all steady speeds
  double false_alarm_rate = 0.01;
  detect::ThresholdMethod threshold = detect::ThresholdMethod::kEmpirical;
  int anomaly_blocks = 3;                     // consecutive disjoint windows over the threshold before the alert
  ConditionPriorities priorities;

  Status Validate() const;  // precise errors: "block_s: must be above 0, got -1"
};

// One condition update and its evidence (a JSON object; "" when none).
struct ConditionChange {
  alerts::ConditionUpdate update;
  std::string evidence_json;
};

// The outcome of one analysis window.
struct MonitorStep {
  Timestamp time;  // end of the window
  std::array<std::optional<double>, kDerivedCount> values{};  // index: Derived; nullopt: not published
  std::vector<ConditionChange> conditions;
  std::vector<Event> events;  // baseline learned / refused
  // For tests and the API.
  bool suppressed = false;   // sensor fault or low speed
  bool learning = false;     // the window went to the baseline trainer
  dsp::FaultLocation diagnosis = dsp::FaultLocation::kNone;
  std::string note;          // why an analysis step failed ("" normally)
};

class ConditionMonitor {
 public:
  static Result<std::unique_ptr<ConditionMonitor>> Create(ConditionMonitorConfig config);
  ~ConditionMonitor();

  // A speed sample in rpm (NaN or <= 0 counts as missing).
  void OnSpeed(double rpm, Timestamp t);
  // A waveform block (acceleration in g) starting at `start`. Appends one step per completed
  // window. kInvalidArgument when the rate differs from the configured sample_rate_hz.
  Status OnBlock(std::span<const float> values, double sample_rate_hz, Timestamp start, Quality quality,
                 std::vector<MonitorStep>& out);

  // The learned baseline as JSON; nullopt while learning.
  std::optional<std::string> BaselineJson() const;
  // A baseline saved by BaselineJson (a restart): scoring starts at once. The error names what
  // does not fit (other features, other regimes).
  Status RestoreBaseline(std::string_view json);
  bool has_baseline() const;
  // True once after the baseline changed (learned or restored), for persistence.
  bool TakeBaselineChanged();

  const ConditionMonitorConfig& config() const;
  std::string StatusText() const;  // "learning: 37 of 200 windows", "scoring", ...

  struct State;

 private:
  explicit ConditionMonitor(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace pf::apps
