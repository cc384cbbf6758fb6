#pragma once
// OverallMonitor: condition monitoring of one overall vibration value of one rotating machine, the
// velocity RMS in mm/s that a vibration transmitter computes itself and a PLC or gateway serves
// over Modbus or OPC UA (issue 7, item 4). No waveform: each sample goes straight to the ISO zone
// and the baseline. Pure: samples, speed and time in; derived values, alert condition updates (with
// their evidence) and events out. No I/O, no threads, no clock (every time comes from the caller).
//
// Each sample of the overall tag, in this order:
//   1. Sensor: quality not good -> "<name>.sensor.bad_quality"; NaN or infinite (or not a number)
//      -> "<name>.sensor.not_finite"; below 0 -> "<name>.sensor.negative". A sensor condition is a
//      sensor fault, never a machine fault: nothing below runs for such a sample, and the machine
//      conditions keep the state they had. No sample (of any quality) for stale_after is
//      "<name>.sensor.stale", raised by Tick(); with a speed tag, no speed sample for
//      speed_timeout_s is "<name>.sensor.speed_missing". A good sample clears them.
//   2. Speed (when a speed tag is configured): below min_speed_fraction of nominal_rpm (start-up,
//      coast-down, stopped) the zone is published but no machine condition changes state and
//      nothing is learned or scored.
//   3. ISO 10816-3 zone (dsp/iso_severity.h, the boundaries of the waveform monitor): "<name>.zone.C"
//      (active in C and D) and "<name>.zone.D", evidence {value_mm_s, zone, boundaries,
//      machine_group, foundation}. Published as "<tag>.zone": 0 = A, 1 = B, 2 = C, 3 = D (the
//      encoding of ConditionMonitor).
//   4. Baseline (detect/baseline.h) on the one feature "velocity_rms", per speed regime
//      (regime_rpm_edges) when a speed tag is configured, else one regime: learned from the first
//      baseline_samples fresh samples or from those in [baseline_from, baseline_to); then every
//      steady sample is scored (d^2 and the threshold from the target false-alarm rate) and
//      anomaly_samples consecutive fresh exceedances are "<name>.anomaly".
// Fresh samples: a transmitter updates slowly and a poller reads the value it holds many times, so
// successive samples are not independent measurements. Only a sample at least min_spacing_s after
// the last fresh one and not exactly equal to the previous sample is fresh: only fresh samples are
// learned, and only they count towards (or break) a run of exceedances. Every good sample is still
// zoned and scored (the derived tags follow the value).
// Conditions are reported active on every sample they hold and inactive once when they clear.
//
// Not thread-safe: one monitor per overall tag, used by one thread.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_types.h"
#include "apps/condition_monitor.h"
#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"
#include "core/time.h"
#include "detect/baseline.h"
#include "dsp/iso_severity.h"

namespace pf::apps {

// The derived values, published as tags "<tag>.<suffix>".
enum class OverallDerived { kZone, kAnomalyScore, kAnomalyThreshold, kSensorOk };
inline constexpr int kOverallDerivedCount = 4;
std::string_view OverallDerivedSuffix(OverallDerived d);  // "zone", "anomaly_score", "anomaly_threshold", "sensor_ok"

struct OverallPriorities {
  alerts::Priority zone_c = alerts::Priority::kMedium;
  alerts::Priority zone_d = alerts::Priority::kHigh;
  alerts::Priority anomaly = alerts::Priority::kMedium;
  alerts::Priority sensor = alerts::Priority::kLow;
};

struct OverallMonitorConfig {
  std::string name;   // names the conditions: "<name>.zone.C", "<name>.anomaly", ...
  std::string asset;  // asset of the alerts and the baseline
  std::string tag;    // the overall-value tag (messages and evidence only)
  dsp::ZoneBoundaries zones = dsp::DefaultZoneBoundaries(dsp::MachineGroup::kGroup2, dsp::Foundation::kRigid);
  std::string machine_group = "2", foundation = "rigid";  // evidence only (zones holds the numbers)
  bool speed_input = false;         // a speed tag feeds OnSpeed
  double nominal_rpm = 0;           // required with speed_input
  double min_speed_fraction = 0.5;  // below it: start-up / coast-down, suppressed
  double speed_timeout_s = 10;      // an older speed sample counts as missing
  std::vector<double> regime_rpm_edges;  // with speed_input; empty: one regime over all steady speeds
  int baseline_samples = 500;            // fresh samples learned (when no time range)
  std::optional<Timestamp> baseline_from, baseline_to;
  double false_alarm_rate = 0.01;        // per fresh sample
  detect::ThresholdMethod threshold = detect::ThresholdMethod::kEmpirical;
  int anomaly_samples = 5;               // consecutive fresh exceedances before the alert
  double min_spacing_s = 1.0;            // fresh samples are at least this far apart
  double stale_after_s = 30;             // no sample for this long: sensor condition "stale"
  OverallPriorities priorities;

  Status Validate() const;  // precise errors: "min_spacing: must be >= 0, got -1 s"
};

// What one sample (or one Tick) yields.
struct OverallStep {
  Timestamp time;
  std::array<std::optional<double>, kOverallDerivedCount> values{};  // index: OverallDerived
  std::vector<ConditionChange> conditions;
  std::vector<Event> events;  // baseline learned / refused
  // For tests and the API.
  bool suppressed = false;  // sensor fault or low speed
  bool fresh = false;       // an independent measurement (see above)
  bool learning = false;    // went to the baseline trainer
  bool scored = false;
  std::optional<dsp::SeverityZone> zone;
};

class OverallMonitor {
 public:
  static constexpr std::string_view kFeature = "velocity_rms";

  static Result<std::unique_ptr<OverallMonitor>> Create(OverallMonitorConfig config);
  ~OverallMonitor();

  // A speed sample in rpm (NaN or < 0 counts as missing; 0 is a stopped machine, suppressed as low speed).
  void OnSpeed(double rpm, Timestamp t);
  // One sample of the overall tag: value in mm/s RMS (NaN when the sample carries no number).
  OverallStep OnSample(double value_mm_s, Quality quality, Timestamp t);
  // Time passes (the caller's clock, the alert clock of the runtime). Returns a step only when the
  // staleness changed: "<name>.sensor.stale" once no sample arrived for stale_after_s since the
  // last one (or since the first Tick when none ever came).
  std::optional<OverallStep> Tick(Timestamp now);

  // The learned baseline as JSON; nullopt while learning.
  std::optional<std::string> BaselineJson() const;
  // A baseline saved by BaselineJson (a restart): scoring starts at once. kFailedPrecondition
  // naming what does not fit (other feature, other regimes, other false-alarm rate).
  Status RestoreBaseline(std::string_view json);
  bool has_baseline() const;
  // True once after the baseline changed (learned, not restored), for persistence.
  bool TakeBaselineChanged();

  const OverallMonitorConfig& config() const;
  std::string StatusText() const;  // "learning the baseline: 37 of 500 fresh samples", ...

  struct State;

 private:
  explicit OverallMonitor(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace pf::apps
