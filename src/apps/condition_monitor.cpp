#include "apps/condition_monitor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pf::apps {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, kDerivedCount> kSuffix = {"velocity_rms", "zone", "kurtosis", "crest",
                                                                 "anomaly_score", "anomaly_threshold", "sensor_ok"};
constexpr std::array<std::string_view, kDerivedCount> kUnit = {"mm/s", "", "", "", "", "", ""};

bool Finite(double v) { return std::isfinite(v); }

json LineJson(const dsp::LineEvidence& l) {
  return {{"expected_hz", l.expected_hz}, {"found_hz", l.found_hz}, {"amplitude", l.amplitude},
          {"floor", l.floor},             {"snr_db", l.snr_db}};
}

json CandidateJson(const dsp::CandidateEvidence& c, int harmonics) {
  json lines = json::array(), sidebands = json::array();
  for (int h = 0; h < harmonics && h < dsp::kMaxHarmonics; ++h) {
    const dsp::LineEvidence& l = c.harmonics[static_cast<size_t>(h)];
    if (l.searched) {
      json j = LineJson(l);
      j["harmonic"] = h + 1;
      lines.push_back(std::move(j));
    }
    for (int side = 0; side < 2 && c.sideband_spacing_hz > 0; ++side) {
      const dsp::LineEvidence& s = c.sidebands[static_cast<size_t>(2 * h + side)];
      if (!s.searched) continue;
      json j = LineJson(s);
      j["harmonic"] = h + 1;
      j["side"] = side == 0 ? "lower" : "upper";
      sidebands.push_back(std::move(j));
    }
  }
  return {{"location", dsp::FaultLocationName(c.location)},
          {"fundamental_hz", c.fundamental_hz},
          {"score_db", c.score},
          {"detected", c.detected},
          {"harmonics_detected", c.harmonics_detected},
          {"sidebands_detected", c.sidebands_detected},
          {"sideband_spacing_hz", c.sideband_spacing_hz},
          {"lines", lines},
          {"sidebands", sidebands}};
}

}  // namespace

std::string_view DerivedSuffix(Derived d) { return kSuffix[static_cast<size_t>(d)]; }
std::string_view DerivedUnit(Derived d) { return kUnit[static_cast<size_t>(d)]; }

Status ConditionMonitorConfig::Validate() const {
  if (name.empty()) return InvalidArgument("name: must not be empty");
  if (!(sample_rate_hz >= 0) || !Finite(sample_rate_hz))
    return InvalidArgument("sample_rate: must be 0 (from the blocks) or above 0, got {}", sample_rate_hz);
  if (!(block_s > 0) || !Finite(block_s)) return InvalidArgument("block_s: must be above 0, got {}", block_s);
  if (!(hop_s >= 0) || hop_s > block_s)
    return InvalidArgument("hop_s: must be in (0, block_s = {}] (0: block_s), got {}", block_s, hop_s);
  if (fixed_rpm && (!(*fixed_rpm > 0) || !Finite(*fixed_rpm)))
    return InvalidArgument("rpm: must be above 0, got {}", *fixed_rpm);
  if (!fixed_rpm && !(nominal_rpm > 0))
    return InvalidArgument("nominal_rpm: needed above 0 with a speed tag (start-up and coast-down are below "
                           "min_speed_fraction of it), got {}", nominal_rpm);
  if (!(nominal_rpm >= 0) || !Finite(nominal_rpm)) return InvalidArgument("nominal_rpm: must be >= 0, got {}", nominal_rpm);
  if (!(min_speed_fraction >= 0 && min_speed_fraction < 1))
    return InvalidArgument("min_speed_fraction: must be in [0, 1), got {}", min_speed_fraction);
  if (!(speed_timeout_s > 0)) return InvalidArgument("speed_timeout: must be above 0, got {} s", speed_timeout_s);
  if (bearing.elements <= 0) return InvalidArgument("bearing: no geometry (give bearing = \"6205\" or geometry)");
  PF_RETURN_IF_ERROR_CTX(dsp::ValidateZoneBoundaries(zones), "zones");
  if (kurtogram_blocks < 1) return InvalidArgument("kurtogram_blocks: must be >= 1, got {}", kurtogram_blocks);
  if (kurtogram_phase < 0 || kurtogram_phase >= kurtogram_blocks)
    return InvalidArgument("kurtogram_phase: must be in [0, kurtogram_blocks = {}), got {}", kurtogram_blocks, kurtogram_phase);
  if (ses_average_blocks < 1) return InvalidArgument("ses_average_blocks: must be >= 1, got {}", ses_average_blocks);
  if (diagnosis_blocks < 1) return InvalidArgument("diagnosis_blocks: must be >= 1, got {}", diagnosis_blocks);
  if (anomaly_blocks < 1) return InvalidArgument("anomaly_blocks: must be >= 1, got {}", anomaly_blocks);
  if (baseline_from.has_value() != baseline_to.has_value())
    return InvalidArgument("{}: baseline_from and baseline_to are given together", baseline_from ? "baseline_to" : "baseline_from");
  if (baseline_from && !(*baseline_from < *baseline_to))
    return InvalidArgument("baseline_to: must be after baseline_from ({} >= {})", FormatRfc3339(*baseline_from),
                           FormatRfc3339(*baseline_to));
  if (!baseline_from && baseline_blocks < 2) return InvalidArgument("baseline_blocks: must be >= 2, got {}", baseline_blocks);
  if (!regime_rpm_edges.empty()) {
    if (regime_rpm_edges.size() < 2) return InvalidArgument("regime_rpm_edges: at least 2 edges, got 1");
    for (size_t i = 0; i < regime_rpm_edges.size(); ++i) {
      if (!Finite(regime_rpm_edges[i])) return InvalidArgument("regime_rpm_edges[{}]: not finite", i);
      if (i && !(regime_rpm_edges[i] > regime_rpm_edges[i - 1]))
        return InvalidArgument("regime_rpm_edges[{}]: must be above the previous edge ({} <= {})", i,
                               regime_rpm_edges[i], regime_rpm_edges[i - 1]);
    }
  }
  if (!(false_alarm_rate > 0 && false_alarm_rate < 0.5))
    return InvalidArgument("false_alarm_rate: must be in (0, 0.5), got {}", false_alarm_rate);
  PF_RETURN_IF_ERROR_CTX(dsp::ValidateSensorHealthOptions(sensor), "sensor");
  return Status::Ok();
}

struct ConditionMonitor::State {
  ConditionMonitorConfig cfg;
  double nominal_rpm = 0;
  // Windowing (made on the first block, when the rate is known).
  double fs = 0;
  size_t n = 0, hop = 0;
  std::optional<dsp::BlockProcessor> proc;  // diagnosis: disjoint windows only
  std::optional<dsp::BlockProcessor> feat;  // features of every window when windows overlap
  int per_block = 1;                        // windows per block length (block / hop, rounded up)
  std::optional<dsp::SensorHealth> health;
  std::vector<float> buf;  // the window being filled
  size_t filled = 0;
  int64_t buf_start_ns = 0;  // time of buf[0]
  bool have_window_start = false;
  // Speed.
  double rpm = 0;
  int64_t speed_ns = 0;
  bool have_speed = false;
  // Baseline.
  detect::BaselineConfig bcfg;
  std::optional<detect::BaselineTrainer> trainer;
  std::optional<detect::Baseline> baseline;
  std::optional<detect::RegimeClassifier> classifier;
  uint64_t next_fit_at = 0;  // steady training samples at which the next fit is tried
  bool baseline_changed = false;
  detect::ConsecutiveExceedances anomaly_run{3};
  std::string last_refusal;
  // Diagnosis debouncing.
  dsp::FaultLocation last_location = dsp::FaultLocation::kNone;
  int location_run = 0;
  int64_t stream_windows = 0;  // windows since the stream (re)started
  dsp::FaultLocation raised = dsp::FaultLocation::kNone;
  // Conditions reported active.
  std::set<std::string> active;
  int64_t windows = 0;

  Status MakeWindows(double rate);
  void Window(MonitorStep& step);
  void Report(MonitorStep& step, const std::string& cause, bool active_now, alerts::Priority prio, double value,
              std::string message, std::string evidence = "");
  void Sensor(MonitorStep& step, const dsp::SensorHealthReport& report, bool checked);
  void Zone(MonitorStep& step, const dsp::BlockResult& r);
  void Bearing(MonitorStep& step, const dsp::BlockResult& r, double shaft_hz);
  void Learn(MonitorStep& step, const std::array<double, 3>& f, double rpm, int64_t start_ns);
  void Score(MonitorStep& step, const std::array<double, 3>& f, double rpm);
  void Fit(MonitorStep& step);
  Event MakeEvent(const std::string& action, const std::string& severity, std::string message, json payload) const;
};

ConditionMonitor::ConditionMonitor(std::unique_ptr<State> s) : s_(std::move(s)) {}
ConditionMonitor::~ConditionMonitor() = default;
const ConditionMonitorConfig& ConditionMonitor::config() const { return s_->cfg; }

Result<std::unique_ptr<ConditionMonitor>> ConditionMonitor::Create(ConditionMonitorConfig config) {
  PF_RETURN_IF_ERROR_CTX(config.Validate(), "condition monitor '{}'", config.name);
  auto s = std::make_unique<State>();
  s->nominal_rpm = config.nominal_rpm > 0 ? config.nominal_rpm : *config.fixed_rpm;
  detect::BaselineConfig& b = s->bcfg;
  b.asset = config.asset.empty() ? config.name : config.asset;
  b.features.assign(kBaselineFeatures.begin(), kBaselineFeatures.end());
  detect::RegimeVariable speed;
  speed.name = "rpm";
  // Without bins one regime covers every steady speed: [0, 100 x nominal).
  speed.edges = config.regime_rpm_edges.empty() ? std::vector<double>{0, 100 * s->nominal_rpm} : config.regime_rpm_edges;
  b.regimes.variables.push_back(std::move(speed));
  b.regimes.transient.speed_variable = 0;
  b.regimes.transient.nominal_speed = s->nominal_rpm;
  b.regimes.transient.min_speed_fraction = config.min_speed_fraction;
  b.false_alarm_rate = config.false_alarm_rate;
  b.threshold = config.threshold;
  // Overlapping windows share samples: only block / hop of them are independent.
  const double hop = config.hop_s > 0 ? config.hop_s : config.block_s;
  b.effective_sample_fraction = std::min(1.0, hop / config.block_s);
  auto trainer = detect::BaselineTrainer::Create(b);
  if (!trainer.ok()) return trainer.status().WithContext(fmt::format("condition monitor '{}': baseline", config.name));
  s->trainer.emplace(std::move(*trainer));
  s->next_fit_at = config.baseline_from ? 0 : static_cast<uint64_t>(config.baseline_blocks);
  s->cfg = std::move(config);
  if (s->cfg.sample_rate_hz > 0) PF_RETURN_IF_ERROR(s->MakeWindows(s->cfg.sample_rate_hz));
  return std::unique_ptr<ConditionMonitor>(new ConditionMonitor(std::move(s)));
}

Status ConditionMonitor::State::MakeWindows(double rate) {
  size_t block = static_cast<size_t>(std::llround(cfg.block_s * rate));
  block += block % 2;  // the processor wants an even size
  size_t step = cfg.hop_s > 0 ? static_cast<size_t>(std::llround(cfg.hop_s * rate)) : block;
  if (block < 64) return InvalidArgument("block_s: {} s at {} Hz is {} samples, at least 64 needed", cfg.block_s, rate, block);
  step = std::clamp<size_t>(step, 1, block);
  dsp::BlockProcessorConfig pc;
  pc.fs = rate;
  pc.block_size = block;
  pc.bearing = cfg.bearing;
  pc.zones = cfg.zones;
  pc.envelope_band = cfg.envelope_band;
  pc.kurtogram_blocks = cfg.kurtogram_blocks;
  pc.kurtogram_phase = cfg.kurtogram_phase;
  pc.ses_average_blocks = cfg.ses_average_blocks;
  auto made = dsp::BlockProcessor::Create(pc);
  if (!made.ok()) return made.status().WithContext(fmt::format("condition monitor '{}'", cfg.name));
  auto health = dsp::SensorHealth::Create(rate, block, cfg.sensor);
  if (!health.ok()) return health.status().WithContext(fmt::format("condition monitor '{}': sensor health", cfg.name));
  proc.emplace(std::move(*made));
  this->health.emplace(std::move(*health));
  fs = rate;
  n = block;
  hop = step;
  // Overlapping windows share samples, so a run counts disjoint windows: k of them span
  // (k - 1) * n / hop + 1 consecutive windows.
  per_block = static_cast<int>((n + hop - 1) / hop);
  anomaly_run = detect::ConsecutiveExceedances((cfg.anomaly_blocks - 1) * per_block + 1);
  // The envelope diagnosis runs on disjoint windows only (its SES average and kurtogram history
  // would otherwise hold the same samples several times); overlapping windows get a second
  // processor for their features, with a fixed band so that it runs no kurtogram.
  feat.reset();
  if (step < block) {
    dsp::BlockProcessorConfig fc = pc;
    fc.envelope_band = dsp::FrequencyBand{rate / 8, rate * 3 / 8};
    fc.ses_average_blocks = 1;
    auto f = dsp::BlockProcessor::Create(fc);
    if (!f.ok()) return f.status().WithContext(fmt::format("condition monitor '{}'", cfg.name));
    feat.emplace(std::move(*f));
  }
  buf.assign(n, 0.0f);
  filled = 0;
  have_window_start = false;
  return Status::Ok();
}

void ConditionMonitor::OnSpeed(double rpm, Timestamp t) {
  if (!std::isfinite(rpm) || rpm <= 0) {
    s_->have_speed = false;
    return;
  }
  s_->rpm = rpm;
  s_->speed_ns = t.ns;
  s_->have_speed = true;
}

Status ConditionMonitor::OnBlock(std::span<const float> values, double sample_rate_hz, Timestamp start, Quality quality,
                                 std::vector<MonitorStep>& out) {
  State& s = *s_;
  if (!(sample_rate_hz > 0) || !std::isfinite(sample_rate_hz))
    return InvalidArgument("condition monitor '{}': block at {} has no sample rate", s.cfg.name, FormatRfc3339(start));
  if (s.cfg.sample_rate_hz > 0 && std::abs(sample_rate_hz - s.cfg.sample_rate_hz) > 1e-6 * s.cfg.sample_rate_hz)
    return InvalidArgument("condition monitor '{}': block at {} is sampled at {} Hz, the monitor is configured for {} Hz",
                           s.cfg.name, FormatRfc3339(start), sample_rate_hz, s.cfg.sample_rate_hz);
  if (s.fs != sample_rate_hz) PF_RETURN_IF_ERROR(s.MakeWindows(sample_rate_hz));
  if (quality == Quality::kBad) {  // no usable samples: the stream has a gap here
    s.filled = 0;
    s.have_window_start = false;
    return Status::Ok();
  }
  const double dt_ns = 1e9 / s.fs;
  if (s.have_window_start && s.filled > 0) {
    double expected = static_cast<double>(s.buf_start_ns) + static_cast<double>(s.filled) * dt_ns;
    if (std::abs(static_cast<double>(start.ns) - expected) > 1.5 * dt_ns) s.filled = 0;  // a gap or a restart
  }
  if (s.filled == 0) {
    s.stream_windows = 0;
    s.buf_start_ns = start.ns;
    s.have_window_start = true;
  }
  size_t i = 0;
  while (i < values.size()) {
    size_t take = std::min(values.size() - i, s.n - s.filled);
    std::memcpy(s.buf.data() + s.filled, values.data() + i, take * sizeof(float));
    s.filled += take;
    i += take;
    if (s.filled < s.n) break;
    MonitorStep step;
    step.time = Timestamp::FromNs(s.buf_start_ns + static_cast<int64_t>(std::llround(static_cast<double>(s.n) * dt_ns)));
    s.Window(step);
    out.push_back(std::move(step));
    std::memmove(s.buf.data(), s.buf.data() + s.hop, (s.n - s.hop) * sizeof(float));
    s.filled = s.n - s.hop;
    s.buf_start_ns += static_cast<int64_t>(std::llround(static_cast<double>(s.hop) * dt_ns));
  }
  return Status::Ok();
}

void ConditionMonitor::State::Report(MonitorStep& step, const std::string& cause, bool active_now, alerts::Priority prio,
                                     double value, std::string message, std::string evidence) {
  bool was = active.count(cause) > 0;
  if (!active_now && !was) return;
  if (active_now) active.insert(cause);
  else active.erase(cause);
  ConditionChange c;
  c.update.asset = cfg.asset;
  c.update.cause = cause;
  c.update.source = "condition:" + cfg.name;
  c.update.priority = prio;
  c.update.active = active_now;
  c.update.value = value;
  c.update.time = step.time;
  c.update.message = std::move(message);
  c.evidence_json = std::move(evidence);
  step.conditions.push_back(std::move(c));
}

void ConditionMonitor::State::Sensor(MonitorStep& step, const dsp::SensorHealthReport& report, bool checked) {
  for (int k = 0; k < dsp::kSensorFaultCodes; ++k) {
    auto code = static_cast<dsp::SensorFaultCode>(k);
    const dsp::SensorFault* f = nullptr;
    for (const dsp::SensorFault& x : report.Faults())
      if (x.code == code) f = &x;
    std::string cause = fmt::format("{}.sensor.{}", cfg.name, dsp::SensorFaultCodeName(code));
    if (f) {
      json ev = {{"code", dsp::SensorFaultCodeName(code)}, {"value", f->value}, {"threshold", f->threshold},
                 {"suppress_diagnosis", f->suppress_diagnosis}, {"tag", cfg.tag}};
      Report(step, cause, true, cfg.priorities.sensor, f->value,
             fmt::format("{}: sensor fault on {}: {}", cfg.name, cfg.tag, f->text()), ev.dump());
    } else if (checked) {
      Report(step, cause, false, cfg.priorities.sensor, 0, fmt::format("{}: sensor {} back to normal", cfg.name, cfg.tag));
    }
  }
}

void ConditionMonitor::State::Zone(MonitorStep& step, const dsp::BlockResult& r) {
  const double v = r.velocity_rms_mm_s;
  bool c = r.zone == dsp::SeverityZone::kC || r.zone == dsp::SeverityZone::kD;
  bool d = r.zone == dsp::SeverityZone::kD;
  Report(step, cfg.name + ".zone.C", c, cfg.priorities.zone_c, v,
         c ? fmt::format("{}: velocity {:.2f} mm/s RMS in zone {} (C from {:.2f} mm/s)", cfg.name, v,
                         dsp::SeverityZoneName(r.zone), cfg.zones.bc)
           : fmt::format("{}: velocity {:.2f} mm/s RMS back below zone C", cfg.name, v));
  Report(step, cfg.name + ".zone.D", d, cfg.priorities.zone_d, v,
         d ? fmt::format("{}: velocity {:.2f} mm/s RMS in zone D (from {:.2f} mm/s)", cfg.name, v, cfg.zones.cd)
           : fmt::format("{}: velocity {:.2f} mm/s RMS back below zone D", cfg.name, v));
}

void ConditionMonitor::State::Bearing(MonitorStep& step, const dsp::BlockResult& r, double shaft_hz) {
  if (!r.envelope_ready) return;
  const dsp::Diagnosis& d = r.diagnosis;
  step.diagnosis = d.location;
  location_run = d.location == last_location ? location_run + 1 : 1;
  last_location = d.location;
  dsp::FaultLocation want = location_run >= cfg.diagnosis_blocks ? d.location : raised;
  if (want != raised && raised != dsp::FaultLocation::kNone)
    Report(step, fmt::format("{}.bearing.{}", cfg.name, dsp::FaultLocationName(raised)), false, cfg.priorities.bearing, 0,
           fmt::format("{}: bearing diagnosis now {}", cfg.name, dsp::FaultLocationName(d.location)));
  raised = want;
  if (raised == dsp::FaultLocation::kNone || d.location != raised) return;
  const int harmonics = 3;
  json candidates = json::array();
  size_t shown = d.location == dsp::FaultLocation::kAmbiguous ? 2 : 1;
  for (size_t i = 0; i < shown; ++i) candidates.push_back(CandidateJson(d.candidates[i], harmonics));
  json ev = {{"location", dsp::FaultLocationName(d.location)},
             {"tag", cfg.tag},
             {"shaft_hz", shaft_hz},
             {"rpm", shaft_hz * 60},
             {"best_score_db", d.best_score},
             {"second_score_db", d.second_score},
             {"margin_db", d.margin},
             {"runner_up", dsp::FaultLocationName(d.candidates[1].location)},
             {"envelope_band_hz", {r.envelope_band.lo_hz, r.envelope_band.hi_hz}},
             {"candidates", candidates}};
  const dsp::CandidateEvidence& best = d.candidates[0];
  std::string msg =
      d.location == dsp::FaultLocation::kAmbiguous
          ? fmt::format("{}: bearing fault, location ambiguous: {} {:.1f} dB vs {} {:.1f} dB (margin {:.1f} dB)", cfg.name,
                        dsp::FaultLocationName(d.candidates[0].location), d.best_score,
                        dsp::FaultLocationName(d.candidates[1].location), d.second_score, d.margin)
          : fmt::format("{}: bearing {} fault: {} of 3 lines at {:.1f} Hz and harmonics, {} sidebands, score {:.1f} dB, "
                        "margin {:.1f} dB over {}", cfg.name, dsp::FaultLocationName(d.location),
                        best.harmonics_detected, best.fundamental_hz, best.sidebands_detected, d.best_score, d.margin,
                        dsp::FaultLocationName(d.candidates[1].location));
  Report(step, fmt::format("{}.bearing.{}", cfg.name, dsp::FaultLocationName(raised)), true, cfg.priorities.bearing,
         d.best_score, std::move(msg), ev.dump());
}

Event ConditionMonitor::State::MakeEvent(const std::string& action, const std::string& severity, std::string message,
                                         json payload) const {
  Event e;
  e.asset_id = cfg.asset;
  e.source = "condition:" + cfg.name;
  e.kind = "baseline";
  e.severity = severity;
  e.message = std::move(message);
  payload["monitor"] = cfg.name;
  payload["action"] = action;
  e.payload_json = payload.dump();
  return e;
}

void ConditionMonitor::State::Fit(MonitorStep& step) {
  auto fitted = trainer->Fit();
  if (!fitted.ok()) {
    last_refusal = fitted.status().message();
    next_fit_at = trainer->counts().by_state[0] + static_cast<uint64_t>(std::max(cfg.baseline_blocks, 2));
    Event e = MakeEvent("refused", "medium",
                        fmt::format("condition monitor '{}': baseline refused, learning on: {}", cfg.name, last_refusal),
                        {{"reason", last_refusal}, {"counts", trainer->counts().Summary()}});
    e.start = e.end = step.time;
    e.id = NewEventId(step.time);
    step.events.push_back(std::move(e));
    return;
  }
  baseline.emplace(std::move(*fitted));
  classifier.emplace(baseline->config().regimes);
  baseline_changed = true;
  json regimes = json::array();
  for (const detect::RegimeModel& m : baseline->models()) {
    json dropped = json::array();
    for (const auto& d : m.dropped) dropped.push_back({{"feature", d.feature}, {"reason", d.reason}});
    regimes.push_back({{"regime", m.name}, {"samples", m.samples}, {"threshold", m.threshold},
                       {"calibration_exceedance", m.calibration_exceedance}, {"dropped", dropped}});
  }
  Event e = MakeEvent("learned", "info",
                      fmt::format("condition monitor '{}': baseline learned ({})", cfg.name, trainer->counts().Summary()),
                      {{"regimes", regimes}, {"false_alarm_rate", cfg.false_alarm_rate}});
  e.start = e.end = step.time;
  e.id = NewEventId(step.time);
  step.events.push_back(std::move(e));
  trainer.reset();  // its rows are no longer needed
}

void ConditionMonitor::State::Learn(MonitorStep& step, const std::array<double, 3>& f, double rpm_now, int64_t start_ns) {
  // Time-range mode until its first fit (next_fit_at 0); after a refusal, by count.
  if (cfg.baseline_from && next_fit_at == 0) {
    if (start_ns >= cfg.baseline_to->ns) {
      Fit(step);
      return;
    }
    if (start_ns < cfg.baseline_from->ns) return;
  }
  const double t = static_cast<double>(start_ns) * 1e-9;
  auto state = trainer->Add(f, std::array<double, 1>{rpm_now}, t);
  if (!state.ok()) return;  // a non-finite feature: not learned
  step.learning = *state == detect::RegimeState::kSteady;
  if (next_fit_at > 0 && trainer->counts().by_state[0] >= next_fit_at) Fit(step);
}

void ConditionMonitor::State::Score(MonitorStep& step, const std::array<double, 3>& f, double rpm_now) {
  detect::RegimeVerdict v = classifier->Classify(std::array<double, 1>{rpm_now}, step.time.seconds());
  if (v.state != detect::RegimeState::kSteady) {
    anomaly_run.Reset();
    return;
  }
  auto sc = baseline->Score(f, v.regime);
  if (!sc.ok()) {  // no model for this regime: nothing to compare with
    anomaly_run.Reset();
    return;
  }
  step.values[static_cast<size_t>(Derived::kAnomalyScore)] = sc->d2;
  step.values[static_cast<size_t>(Derived::kAnomalyThreshold)] = sc->threshold;
  bool alarm = anomaly_run.Update(sc->exceeds);
  json ev = {{"d2", sc->d2}, {"threshold", sc->threshold}, {"ratio", sc->ratio},
             {"regime", baseline->config().regimes.RegimeName(v.regime)}, {"consecutive", anomaly_run.k()},
             {"features", {{"velocity_rms", f[0]}, {"kurtosis", f[1]}, {"crest", f[2]}}}};
  Report(step, cfg.name + ".anomaly", alarm, cfg.priorities.anomaly, sc->d2,
         alarm ? fmt::format("{}: anomaly score {:.1f} over the threshold {:.1f} for {} windows ({} disjoint)", cfg.name,
                             sc->d2, sc->threshold, anomaly_run.k(), cfg.anomaly_blocks)
               : fmt::format("{}: anomaly score {:.1f} back below {:.1f}", cfg.name, sc->d2, sc->threshold),
         alarm ? ev.dump() : "");
}

void ConditionMonitor::State::Window(MonitorStep& step) {
  ++windows;
  std::span<const float> x(buf.data(), n);
  const int64_t start_ns = buf_start_ns;
  std::optional<double> rpm_now;
  if (cfg.fixed_rpm) rpm_now = *cfg.fixed_rpm;
  else if (have_speed && step.time.ns - speed_ns <= static_cast<int64_t>(cfg.speed_timeout_s * 1e9)) rpm_now = rpm;
  std::optional<double> shaft_hz;
  if (rpm_now) shaft_hz = *rpm_now / 60.0;

  // ---- The one sensor-health call site: a sick sensor is a sensor fault, never a machine fault.
  dsp::SensorHealthReport report;
  Status hs = health->Check(x, shaft_hz, &report);
  Sensor(step, report, hs.ok());
  if (!hs.ok()) step.note = hs.ToString();
  const bool sensor_ok = hs.ok() && report.fault_count == 0;
  step.values[static_cast<size_t>(Derived::kSensorOk)] = sensor_ok ? 1.0 : 0.0;
  if (!sensor_ok) {  // faulty samples are not analysed
    step.suppressed = true;
    anomaly_run.Reset();
    return;
  }
  if (!shaft_hz) {  // speed missing while the sensor looks fine (e.g. no vibration): nothing to judge
    step.suppressed = true;
    return;
  }
  const bool diagnosis_window = stream_windows++ % per_block == 0;
  dsp::BlockResult r, rd;
  Status ps = feat ? feat->Process(x, *shaft_hz, &r) : proc->Process(x, *shaft_hz, &r);
  if (ps.ok() && feat && diagnosis_window) ps = proc->Process(x, *shaft_hz, &rd);
  if (!ps.ok()) {
    step.suppressed = true;
    step.note = ps.ToString();
    return;
  }
  step.values[static_cast<size_t>(Derived::kVelocityRms)] = r.velocity_rms_mm_s;
  step.values[static_cast<size_t>(Derived::kZone)] = static_cast<double>(static_cast<int>(r.zone));
  step.values[static_cast<size_t>(Derived::kKurtosis)] = r.features.kurtosis;
  step.values[static_cast<size_t>(Derived::kCrest)] = r.features.crest_factor;
  const bool low_speed = *rpm_now < cfg.min_speed_fraction * nominal_rpm;
  if (report.suppress_diagnosis || low_speed) {  // held after a sensor fault, or start-up / coast-down
    step.suppressed = true;
    anomaly_run.Reset();
    return;
  }
  Zone(step, r);
  if (diagnosis_window) Bearing(step, feat ? rd : r, *shaft_hz);
  const std::array<double, 3> f = {r.velocity_rms_mm_s, r.features.kurtosis, r.features.crest_factor};
  if (baseline) Score(step, f, *rpm_now);
  else Learn(step, f, *rpm_now, start_ns);
}

std::optional<std::string> ConditionMonitor::BaselineJson() const {
  if (!s_->baseline) return std::nullopt;
  return s_->baseline->ToJson();
}

Status ConditionMonitor::RestoreBaseline(std::string_view text) {
  State& s = *s_;
  PF_ASSIGN_OR_RETURN(detect::Baseline b, detect::Baseline::FromJson(text));
  const detect::BaselineConfig& c = b.config();
  if (c.features != s.bcfg.features)
    return FailedPrecondition("condition monitor '{}': the saved baseline has other features; it is learned again",
                              s.cfg.name);
  if (c.regimes.RegimeCount() != s.bcfg.regimes.RegimeCount() ||
      c.regimes.variables.front().edges != s.bcfg.regimes.variables.front().edges)
    return FailedPrecondition("condition monitor '{}': the saved baseline has other speed regimes ({}); it is learned again",
                              s.cfg.name, c.regimes.RegimeCount());
  if (c.false_alarm_rate != s.bcfg.false_alarm_rate)
    return FailedPrecondition("condition monitor '{}': the saved baseline was set for a false-alarm rate of {}, the "
                              "configuration says {}; it is learned again", s.cfg.name, c.false_alarm_rate,
                              s.bcfg.false_alarm_rate);
  s.baseline.emplace(std::move(b));
  s.classifier.emplace(s.baseline->config().regimes);
  s.trainer.reset();
  return Status::Ok();
}

bool ConditionMonitor::has_baseline() const { return s_->baseline.has_value(); }

bool ConditionMonitor::TakeBaselineChanged() {
  bool c = s_->baseline_changed;
  s_->baseline_changed = false;
  return c;
}

std::string ConditionMonitor::StatusText() const {
  const State& s = *s_;
  if (s.baseline) return fmt::format("scoring against the baseline ({} regimes)", s.baseline->models().size());
  uint64_t steady = s.trainer ? s.trainer->counts().by_state[0] : 0;
  std::string text = s.cfg.baseline_from
                         ? fmt::format("learning the baseline from {} to {}: {} steady windows", FormatRfc3339(*s.cfg.baseline_from),
                                       FormatRfc3339(*s.cfg.baseline_to), steady)
                         : fmt::format("learning the baseline: {} of {} steady windows", steady, s.next_fit_at);
  if (!s.last_refusal.empty()) text += fmt::format(" (last fit refused: {})", s.last_refusal);
  return text;
}

}  // namespace pf::apps
