#pragma once
// Sensor health of one vibration channel, checked block by block before any diagnosis: a sick
// sensor is reported as a sensor fault with its figures and never produces a bearing diagnosis
// or an anomaly alert (every fault carries suppress_diagnosis).
//
// Checks on each block x of block_size samples (fs Hz) with the speed tag shaft_hz:
//   nan            a non-finite sample; the other checks are skipped for that block.
//   flat_line      the block is stuck: peak-to-peak <= flat_max_peak_to_peak, or at most
//                  flat_max_levels distinct values (ADC quantisation noise only), or one constant
//                  run covering >= flat_min_run_fraction of the block. Not reported when the speed
//                  tag says 0 (a stopped machine may be quiet).
//   dropout        a run of >= dropout_min_run_s of identical samples (exact zeros, or a sudden
//                  step to a constant) that is shorter than the flat-line run.
//   clipping       the rails are the block's max and min; h = (max - min)/2. `rail` samples lie
//                  within clip_tolerance*h of a rail, `shoulder` samples within (1, 4] times that.
//                  Clipped when >= clip_min_samples rail samples lie in runs of >= clip_min_run
//                  consecutive samples and rail >= clip_min_ratio * shoulder. A sine piles up at its
//                  peaks too, but only as sqrt(distance) (rail/shoulder = 1); a flat top holds every
//                  sample that would have gone beyond it. clip_min_run is 1 by default: at 12 kHz a
//                  clipped 3 kHz resonance rarely stays on the rail for two samples (CWRU clipped at
//                  60 %: 34-239 rail samples per block, 0-6 of them in runs of 2), so the flat top
//                  shows as the pile-up at the rail; the runs are reported as evidence.
//   cable_spike    isolated samples with |x - median| > spike_threshold_sigma * 1.4826*MAD whose
//                  neighbours within +-spike_isolation_samples (outside a cluster of at most
//                  spike_max_width samples) stay below spike_isolation_ratio of it: a bearing impact
//                  rings a resonance over many samples, a cable spike does not. A heavily damped
//                  resonance near Nyquist can make some impacts look isolated, so an isolated spike
//                  must also reach spike_over_impacts times the largest ringing peak of the block (an
//                  electrical transient is not bounded by the machine's impacts). A train of >= spike_periodic_min spikes
//                  of which >= spike_periodic_fraction of the intervals lie within
//                  spike_periodic_tolerance of a whole multiple of one of them is taken for bearing
//                  impacts (some of which failed the isolation test), not reported.
//   loose_mounting the broadband noise floor (median power per bin over [floor_lo_hz, floor_hi_hz])
//                  risen >= loose_floor_rise_db over the reference (configured, else the mean of the
//                  first reference_blocks fault-free blocks) while the block is not impulsive
//                  (kurtosis < loose_max_kurtosis), or a sub-harmonic line at 1/2 or 1/3 shaft speed
//                  >= loose_subharmonic_snr_db over its local median spectrum. Why the kurtosis: a
//                  developing bearing fault raises the floor too, but with impacts. On CWRU, every
//                  12-kHz fault record whose floor stands >= 10 dB over normal record 97's has a
//                  block kurtosis of 5.0 or more (IR 0.007 in: 5.05-5.80, OR 0.021 in: 17-29),
//                  while record 97 with white noise of twice its RMS added (a mount that lost its
//                  stiffness) stays at 3.0-4.0. A rattling sensor that is impulsive shows its
//                  sub-harmonics, which count whatever the kurtosis; a late, distributed fault with a
//                  raised floor and no impacts would still be called loose mounting.
//   sample_rate    a comb of shaft harmonics h*fr*r, h = 1..rate_harmonics, searched for ratios r in
//                  [1 - rate_search, 1 + rate_search]: each harmonic counts when its peak stands
//                  >= rate_line_snr_db over the local median. The r with the most harmonics (then
//                  the largest summed dB) is the apparent rate ratio (true fs = fs / r). A fault when
//                  |r - 1| >= rate_tolerance, at least rate_min_harmonics harmonics are found there
//                  and the best comb near r = 1 (within rate_tolerance/2) finds fewer. A comb whose 1x
//                  line is not found counts 0. Checked when fr*(1 - rate_search) spans >= 4 bins and
//                  2 fr (1 + rate_search) < 0.45 fs; the estimate is good to about a bin over
//                  rate_harmonics * fr.
//   speed_missing  the speed tag is absent, NaN or <= 0 while vibration is present (RMS >=
//                  min_vibration_rms and not flat); speed-dependent checks are then skipped.
// A fault in a block suppresses diagnosis for that block and the next hold_blocks blocks (the
// diagnosis averages envelope spectra over several blocks; a fault that comes and goes makes the
// blocks beside it suspect). Faulty blocks should not be fed to the BlockProcessor.
//
// Create() makes every buffer; Check() never allocates (messages are formatted into fixed
// arrays). Not thread-safe: one checker per channel and thread.
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "dsp/spectrum.h"

namespace pf::dsp {

enum class SensorFaultCode { kNan, kClipping, kFlatLine, kLooseMounting, kCableSpike, kDropout, kSampleRate, kSpeedMissing };
inline constexpr int kSensorFaultCodes = 8;
// "nan", "clipping", "flat_line", "loose_mounting", "cable_spike", "dropout", "sample_rate", "speed_missing"
std::string_view SensorFaultCodeName(SensorFaultCode code);

// One parameter set for every channel. The defaults keep a margin over what healthy sensors show on
// the 27 CWRU 12-kHz drive-end records and normal record 97 (printed by sensor_fault_cwru_test:
// largest noise-floor rise 6.4 dB, on the non-stationary 0.021 in ball record at 1 hp; sub-harmonic
// 11.4 dB; |r - 1| 0.019 with 3 or more shaft lines; no isolated spike even at 6 sigma; 4 rail
// samples; identical runs of 3 samples); nothing is learned from injected faults.
struct SensorHealthOptions {
  // flat line / dropout (input units, e.g. g)
  double flat_max_peak_to_peak = 1e-6;
  int flat_max_levels = 4;              // distinct values; 16-bit noise spans many more
  double flat_min_run_fraction = 0.5;   // one constant run over half the block
  double dropout_min_run_s = 0.002;     // identical samples for 2 ms (24 at 12 kHz)
  // clipping
  double clip_tolerance = 0.002;        // fraction of half the block's peak-to-peak range
  int clip_min_run = 1;                 // 1: any rail sample counts (see the note above)
  int clip_min_samples = 8;
  double clip_min_ratio = 4.0;
  // cable spikes
  double spike_threshold_sigma = 8.0;   // robust sigmas above the median
  int spike_isolation_samples = 4;
  double spike_isolation_ratio = 0.3;
  double spike_over_impacts = 1.5;      // x the largest ringing peak of the same block
  int spike_max_width = 2;
  int spike_periodic_min = 6;            // fewer spikes are too few to call periodic
  double spike_periodic_tolerance = 0.05;  // fraction of the period (slip is 1-2 %)
  double spike_periodic_fraction = 0.8;
  // loose mounting
  double floor_lo_hz = 500, floor_hi_hz = 0;  // 0: 0.4 fs
  double noise_floor_reference = 0;           // power per bin, units^2; 0: learned
  int reference_blocks = 3;
  double loose_floor_rise_db = 10.0;   // 10x the power per bin
  double loose_subharmonic_snr_db = 18.0;
  double loose_max_kurtosis = 4.5;     // a raised floor in a block this impulsive is left to the diagnosis
  // sampling rate
  int rate_harmonics = 6;
  double rate_search = 0.2;
  double rate_step = 0.001;
  double rate_tolerance = 0.03;         // faults from 5 % are reported, speed-tag slip (~1 %) is not
  double rate_line_snr_db = 10.0;
  int rate_min_harmonics = 3;
  // speed
  double min_vibration_rms = 1e-4;      // input units
  // suppression
  int hold_blocks = 10;
};
Status ValidateSensorHealthOptions(const SensorHealthOptions& o);

struct SensorFault {
  SensorFaultCode code = SensorFaultCode::kNan;
  bool suppress_diagnosis = true;
  double value = 0;      // the figure that tripped the check (see the message for its unit)
  double threshold = 0;  // what it was compared with
  std::array<char, 200> message{};  // NUL-terminated, e.g. "clipping: 412 samples at the rails +-0.612 ..."
  std::string_view text() const { return std::string_view(message.data()); }
};

// The figures behind the checks, for logs and evidence (0 where a check was skipped).
struct SensorHealthFigures {
  long nonfinite = 0, first_nonfinite = -1;
  double median = 0, robust_sigma = 0, peak = 0, rms = 0, peak_to_peak = 0, kurtosis = 0;
  int levels = 0;                        // distinct values, counted up to flat_max_levels + 1
  long longest_run = 0;                  // identical consecutive samples
  double longest_run_value = 0;
  long rail_samples = 0, rail_run_samples = 0, shoulder_samples = 0;
  int spikes = 0;
  double max_spike_sigma = 0;
  double ringing_peak_sigma = 0;         // the largest peak over the threshold that rings
  bool spikes_periodic = false;
  double noise_floor = 0, noise_floor_reference = 0, floor_rise_db = 0;
  double subharmonic_snr_db[2] = {0, 0};  // 1/2x, 1/3x
  bool rate_checked = false;
  double rate_ratio = 1;                 // apparent frequency / expected frequency
  int rate_harmonics = 0, rate_harmonics_nominal = 0;
};

struct SensorHealthReport {
  std::array<SensorFault, kSensorFaultCodes> faults{};
  int fault_count = 0;
  bool suppress_diagnosis = false;  // a suppressing fault in this block or the last hold_blocks
  SensorHealthFigures figures;

  std::span<const SensorFault> Faults() const { return {faults.data(), static_cast<std::size_t>(fault_count)}; }
  bool Has(SensorFaultCode code) const;
};

class SensorHealth {
 public:
  // fs > 0 Hz; block_size even >= 64.
  static Result<SensorHealth> Create(double fs, std::size_t block_size, SensorHealthOptions options = {});

  // block.size() == block_size (else kInvalidArgument); shaft_hz: the speed tag, nullopt when absent.
  Status Check(std::span<const float> block, std::optional<double> shaft_hz, SensorHealthReport* out);

  bool reference_ready() const { return reference_ready_; }
  double noise_floor_reference() const { return reference_; }
  const SensorHealthOptions& options() const { return options_; }

 private:
  SensorHealth(double fs, std::size_t n, SensorHealthOptions o, SpectrumAnalyzer spectrum);
  void CheckLevels(std::span<const float> x, SensorHealthReport* out);
  void ReportSpeedMissing(std::optional<double> shaft_hz, SensorHealthReport* out);
  void CheckClipping(std::span<const float> x, SensorHealthReport* out);
  void CheckSpikes(std::span<const float> x, SensorHealthReport* out);
  void CheckSpectrum(double shaft_hz, bool speed_known, SensorHealthReport* out);
  void CheckRate(double shaft_hz, SensorHealthReport* out);
  double LocalSnrDb(double f_hz, double halfwidth_hz) const;
  bool SpikesPeriodic(std::size_t stored) const;

  double fs_;
  std::size_t n_;
  SensorHealthOptions options_;
  SpectrumAnalyzer spectrum_;
  std::vector<float> scratch_;
  std::vector<float> floor_;        // local median of the amplitude spectrum (rate comb)
  std::vector<long> spike_at_;      // positions of the spikes of one block
  std::vector<float> levels_;       // distinct values seen, up to flat_max_levels + 1
  double reference_ = 0;
  double reference_sum_ = 0;
  int reference_count_ = 0;
  bool reference_ready_ = false;
  int blocks_since_fault_ = 1 << 30;
};

// The combined decision: sensor health first, then the diagnosis.
inline bool DiagnosisAllowed(const SensorHealthReport& r) { return !r.suppress_diagnosis; }

}  // namespace pf::dsp
