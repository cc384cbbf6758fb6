#include "apps/overall_monitor.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pf::apps {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, kOverallDerivedCount> kSuffix = {"zone", "anomaly_score", "anomaly_threshold",
                                                                        "sensor_ok"};
// Sensor condition codes: "<name>.sensor.<code>".
constexpr std::array<std::string_view, 5> kSensorCodes = {"bad_quality", "not_finite", "negative", "stale",
                                                          "speed_missing"};
enum SensorCode { kBadQuality, kNotFinite, kNegative, kStale, kSpeedMissing };

bool Finite(double v) { return std::isfinite(v); }
size_t Idx(OverallDerived d) { return static_cast<size_t>(d); }

}  // namespace

std::string_view OverallDerivedSuffix(OverallDerived d) { return kSuffix[Idx(d)]; }

Status OverallMonitorConfig::Validate() const {
  if (name.empty()) return InvalidArgument("name: must not be empty");
  PF_RETURN_IF_ERROR_CTX(dsp::ValidateZoneBoundaries(zones), "zones");
  if (speed_input && (!(nominal_rpm > 0) || !Finite(nominal_rpm)))
    return InvalidArgument("nominal_rpm: needed above 0 with a speed tag (start-up and coast-down are below "
                           "min_speed_fraction of it), got {}", nominal_rpm);
  if (!(min_speed_fraction >= 0 && min_speed_fraction < 1))
    return InvalidArgument("min_speed_fraction: must be in [0, 1), got {}", min_speed_fraction);
  if (!(speed_timeout_s > 0) || !Finite(speed_timeout_s))
    return InvalidArgument("speed_timeout: must be above 0, got {} s", speed_timeout_s);
  if (!regime_rpm_edges.empty()) {
    if (!speed_input) return InvalidArgument("regime_rpm_edges: speed regimes need a speed_tag");
    if (regime_rpm_edges.size() < 2) return InvalidArgument("regime_rpm_edges: at least 2 edges, got 1");
    for (size_t i = 0; i < regime_rpm_edges.size(); ++i) {
      if (!Finite(regime_rpm_edges[i])) return InvalidArgument("regime_rpm_edges[{}]: not finite", i);
      if (i && !(regime_rpm_edges[i] > regime_rpm_edges[i - 1]))
        return InvalidArgument("regime_rpm_edges[{}]: must be above the previous edge ({} <= {})", i,
                               regime_rpm_edges[i], regime_rpm_edges[i - 1]);
    }
  }
  if (baseline_from.has_value() != baseline_to.has_value())
    return InvalidArgument("{}: baseline_from and baseline_to are given together",
                           baseline_from ? "baseline_to" : "baseline_from");
  if (baseline_from && !(*baseline_from < *baseline_to))
    return InvalidArgument("baseline_to: must be after baseline_from ({} >= {})", FormatRfc3339(*baseline_from),
                           FormatRfc3339(*baseline_to));
  if (!baseline_from && baseline_samples < 2)
    return InvalidArgument("baseline_samples: must be >= 2, got {}", baseline_samples);
  if (!(false_alarm_rate > 0 && false_alarm_rate < 0.5))
    return InvalidArgument("false_alarm_rate: must be in (0, 0.5), got {}", false_alarm_rate);
  if (anomaly_samples < 1) return InvalidArgument("anomaly_samples: must be >= 1, got {}", anomaly_samples);
  if (!(min_spacing_s >= 0) || !Finite(min_spacing_s))
    return InvalidArgument("min_spacing: must be >= 0, got {} s", min_spacing_s);
  if (!(stale_after_s > 0) || !Finite(stale_after_s))
    return InvalidArgument("stale_after: must be above 0, got {} s", stale_after_s);
  return Status::Ok();
}

struct OverallMonitor::State {
  OverallMonitorConfig cfg;
  // Speed.
  double rpm = 0;
  int64_t speed_ns = 0;
  bool have_speed = false;
  // Freshness and staleness.
  bool have_previous = false;
  double previous_value = 0;          // the previous sample's value (any good one)
  std::optional<int64_t> last_fresh_ns;
  std::optional<int64_t> last_sample_ns;  // any quality
  std::optional<int64_t> first_tick_ns;
  // Baseline.
  detect::BaselineConfig bcfg;
  std::optional<detect::BaselineTrainer> trainer;
  std::optional<detect::Baseline> baseline;
  std::optional<detect::RegimeClassifier> classifier;
  uint64_t learned = 0;      // fresh samples given to the trainer
  uint64_t next_fit_at = 0;  // learned samples at which the next fit is tried (0: time range)
  bool baseline_changed = false;
  detect::ConsecutiveExceedances anomaly_run{5};
  std::string last_refusal;
  std::set<std::string> active;

  void Report(OverallStep& step, const std::string& cause, bool active_now, alerts::Priority prio, double value,
              std::string message, std::string evidence = "");
  std::string SensorCause(SensorCode c) const { return fmt::format("{}.sensor.{}", cfg.name, kSensorCodes[c]); }
  void SensorFault(OverallStep& step, SensorCode code, double value, std::string message, json evidence);
  void ClearSensor(OverallStep& step, SensorCode code);
  void Zone(OverallStep& step, double v);
  void Learn(OverallStep& step, double v, std::optional<double> rpm_now);
  void Score(OverallStep& step, double v, std::optional<double> rpm_now);
  void Fit(OverallStep& step);
  int RegimeOf(std::optional<double> rpm_now);
  Event MakeEvent(const OverallStep& step, const std::string& action, const std::string& severity, std::string message,
                  json payload) const;
};

OverallMonitor::OverallMonitor(std::unique_ptr<State> s) : s_(std::move(s)) {}
OverallMonitor::~OverallMonitor() = default;
const OverallMonitorConfig& OverallMonitor::config() const { return s_->cfg; }

Result<std::unique_ptr<OverallMonitor>> OverallMonitor::Create(OverallMonitorConfig config) {
  PF_RETURN_IF_ERROR_CTX(config.Validate(), "overall monitor '{}'", config.name);
  auto s = std::make_unique<State>();
  detect::BaselineConfig& b = s->bcfg;
  b.asset = config.asset.empty() ? config.name : config.asset;
  b.features = {std::string(kFeature)};
  if (config.speed_input) {
    detect::RegimeVariable speed;
    speed.name = "rpm";
    // Without bins one regime covers every steady speed: [0, 100 x nominal). Low speed is judged
    // here (before the baseline), so the classifier only bins.
    speed.edges = config.regime_rpm_edges.empty() ? std::vector<double>{0, 100 * config.nominal_rpm}
                                                  : config.regime_rpm_edges;
    b.regimes.variables.push_back(std::move(speed));
  }
  b.false_alarm_rate = config.false_alarm_rate;
  b.threshold = config.threshold;
  auto trainer = detect::BaselineTrainer::Create(b);
  if (!trainer.ok()) return trainer.status().WithContext(fmt::format("overall monitor '{}': baseline", config.name));
  s->trainer.emplace(std::move(*trainer));
  s->next_fit_at = config.baseline_from ? 0 : static_cast<uint64_t>(config.baseline_samples);
  s->anomaly_run = detect::ConsecutiveExceedances(config.anomaly_samples);
  s->cfg = std::move(config);
  return std::unique_ptr<OverallMonitor>(new OverallMonitor(std::move(s)));
}

void OverallMonitor::OnSpeed(double rpm, Timestamp t) {
  // 0 rpm is a valid speed (a stopped machine: suppressed below min_speed_fraction), not a missing one.
  if (!std::isfinite(rpm) || rpm < 0) {
    s_->have_speed = false;
    return;
  }
  s_->rpm = rpm;
  s_->speed_ns = t.ns;
  s_->have_speed = true;
}

void OverallMonitor::State::Report(OverallStep& step, const std::string& cause, bool active_now, alerts::Priority prio,
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

void OverallMonitor::State::SensorFault(OverallStep& step, SensorCode code, double value, std::string message,
                                        json evidence) {
  evidence["code"] = kSensorCodes[code];
  evidence["tag"] = cfg.tag;
  Report(step, SensorCause(code), true, cfg.priorities.sensor, value,
         fmt::format("{}: sensor fault on {}: {}", cfg.name, cfg.tag, message), evidence.dump());
}

void OverallMonitor::State::ClearSensor(OverallStep& step, SensorCode code) {
  Report(step, SensorCause(code), false, cfg.priorities.sensor, 0,
         fmt::format("{}: {} on {} back to normal", cfg.name, kSensorCodes[code], cfg.tag));
}

void OverallMonitor::State::Zone(OverallStep& step, double v) {
  dsp::SeverityZone z = *dsp::ClassifySeverity(v, cfg.zones);  // v is finite and >= 0 here
  bool c = z == dsp::SeverityZone::kC || z == dsp::SeverityZone::kD;
  bool d = z == dsp::SeverityZone::kD;
  json ev = {{"value_mm_s", v},
             {"zone", dsp::SeverityZoneName(z)},
             {"boundaries", {{"ab", cfg.zones.ab}, {"bc", cfg.zones.bc}, {"cd", cfg.zones.cd}}},
             {"machine_group", cfg.machine_group},
             {"foundation", cfg.foundation},
             {"tag", cfg.tag}};
  Report(step, cfg.name + ".zone.C", c, cfg.priorities.zone_c, v,
         c ? fmt::format("{}: velocity {:.2f} mm/s RMS in zone {} (C from {:.2f} mm/s)", cfg.name, v,
                         dsp::SeverityZoneName(z), cfg.zones.bc)
           : fmt::format("{}: velocity {:.2f} mm/s RMS back below zone C", cfg.name, v),
         c ? ev.dump() : "");
  Report(step, cfg.name + ".zone.D", d, cfg.priorities.zone_d, v,
         d ? fmt::format("{}: velocity {:.2f} mm/s RMS in zone D (from {:.2f} mm/s)", cfg.name, v, cfg.zones.cd)
           : fmt::format("{}: velocity {:.2f} mm/s RMS back below zone D", cfg.name, v),
         d ? ev.dump() : "");
}

Event OverallMonitor::State::MakeEvent(const OverallStep& step, const std::string& action, const std::string& severity,
                                       std::string message, json payload) const {
  Event e;
  e.asset_id = cfg.asset;
  e.source = "condition:" + cfg.name;
  e.kind = "baseline";
  e.severity = severity;
  e.message = std::move(message);
  payload["monitor"] = cfg.name;
  payload["kind"] = "overall";
  payload["action"] = action;
  e.payload_json = payload.dump();
  e.start = e.end = step.time;
  e.id = NewEventId(step.time);
  return e;
}

void OverallMonitor::State::Fit(OverallStep& step) {
  auto fitted = trainer->Fit();
  if (!fitted.ok()) {
    last_refusal = fitted.status().message();
    next_fit_at = learned + static_cast<uint64_t>(std::max(cfg.baseline_samples, 2));
    step.events.push_back(MakeEvent(step, "refused", "medium",
                                    fmt::format("overall monitor '{}': baseline refused, learning on: {}", cfg.name,
                                                last_refusal),
                                    {{"reason", last_refusal}, {"counts", trainer->counts().Summary()}}));
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
  step.events.push_back(MakeEvent(step, "learned", "info",
                                  fmt::format("overall monitor '{}': baseline learned from {} fresh samples ({})",
                                              cfg.name, learned, trainer->counts().Summary()),
                                  {{"regimes", regimes}, {"false_alarm_rate", cfg.false_alarm_rate}}));
  trainer.reset();  // its rows are no longer needed
}

void OverallMonitor::State::Learn(OverallStep& step, double v, std::optional<double> rpm_now) {
  // Time-range mode until its first fit (next_fit_at 0); after a refusal, by count.
  if (cfg.baseline_from && next_fit_at == 0) {
    if (step.time.ns >= cfg.baseline_to->ns) {
      Fit(step);
      return;
    }
    if (step.time.ns < cfg.baseline_from->ns) return;
  }
  if (!step.fresh) return;
  const std::array<double, 1> f = {v};
  const std::array<double, 1> r = {rpm_now.value_or(0)};
  auto state = trainer->Add(f, std::span<const double>(r.data(), cfg.speed_input ? 1 : 0), step.time.seconds());
  if (!state.ok() || *state != detect::RegimeState::kSteady) return;  // e.g. a speed outside every regime
  step.learning = true;
  ++learned;
  if (next_fit_at > 0 && learned >= next_fit_at) Fit(step);
}

int OverallMonitor::State::RegimeOf(std::optional<double> rpm_now) {
  const std::array<double, 1> r = {rpm_now.value_or(0)};
  detect::RegimeVerdict v = classifier->Classify(std::span<const double>(r.data(), cfg.speed_input ? 1 : 0), 0);
  return v.state == detect::RegimeState::kSteady ? v.regime : -1;
}

void OverallMonitor::State::Score(OverallStep& step, double v, std::optional<double> rpm_now) {
  const int regime = RegimeOf(rpm_now);
  const std::array<double, 1> f = {v};
  auto sc = regime >= 0 ? baseline->Score(f, regime) : Result<detect::AnomalyScore>(FailedPrecondition("no regime"));
  if (!sc.ok()) {  // no model for this speed: nothing to compare with
    anomaly_run.Reset();
    return;
  }
  step.scored = true;
  step.values[Idx(OverallDerived::kAnomalyScore)] = sc->d2;
  step.values[Idx(OverallDerived::kAnomalyThreshold)] = sc->threshold;
  if (!step.fresh) return;  // a held value is the same measurement again: the run neither grows nor breaks
  bool alarm = anomaly_run.Update(sc->exceeds);
  json ev = {{"d2", sc->d2},
             {"threshold", sc->threshold},
             {"ratio", sc->ratio},
             {"value_mm_s", v},
             {"regime", baseline->config().regimes.RegimeName(regime)},
             {"consecutive", anomaly_run.k()},
             {"false_alarm_rate", cfg.false_alarm_rate}};
  if (const detect::RegimeModel* m = baseline->model(regime); m && !m->kept.empty())
    ev["baseline_median_mm_s"] = m->median[0];
  Report(step, cfg.name + ".anomaly", alarm, cfg.priorities.anomaly, sc->d2,
         alarm ? fmt::format("{}: {:.2f} mm/s scores {:.1f}, over the threshold {:.1f} for {} fresh samples", cfg.name,
                             v, sc->d2, sc->threshold, anomaly_run.k())
               : fmt::format("{}: anomaly score {:.1f} back below {:.1f}", cfg.name, sc->d2, sc->threshold),
         alarm ? ev.dump() : "");
}

OverallStep OverallMonitor::OnSample(double v, Quality quality, Timestamp t) {
  State& s = *s_;
  OverallStep step;
  step.time = t;
  s.last_sample_ns = t.ns;
  s.ClearSensor(step, kStale);  // an update arrived, whatever it says
  // ---- Sensor: a sick transmitter is a sensor fault, never a machine fault.
  std::optional<SensorCode> fault;
  if (quality != Quality::kGood) {
    fault = kBadQuality;
    s.SensorFault(step, kBadQuality, v, fmt::format("quality {}", QualityName(quality)),
                  {{"quality", QualityName(quality)}, {"value", Finite(v) ? json(v) : json(nullptr)}});
  } else if (!Finite(v)) {
    fault = kNotFinite;
    s.SensorFault(step, kNotFinite, 0, "the value is not a finite number", {{"value", nullptr}});
  } else if (v < 0) {
    fault = kNegative;
    s.SensorFault(step, kNegative, v, fmt::format("negative velocity RMS {} mm/s", v), {{"value", v}});
  }
  for (SensorCode c : {kBadQuality, kNotFinite, kNegative})
    if (c != fault) s.ClearSensor(step, c);
  std::optional<double> rpm_now;
  if (s.cfg.speed_input && s.have_speed && t.ns - s.speed_ns <= static_cast<int64_t>(s.cfg.speed_timeout_s * 1e9))
    rpm_now = s.rpm;
  if (!fault && s.cfg.speed_input) {
    if (!rpm_now)
      s.SensorFault(step, kSpeedMissing, 0, fmt::format("no speed sample for {} s", s.cfg.speed_timeout_s),
                    {{"speed_timeout_s", s.cfg.speed_timeout_s}});
    else
      s.ClearSensor(step, kSpeedMissing);
  }
  const bool sensor_ok = !fault && (!s.cfg.speed_input || rpm_now);
  step.values[Idx(OverallDerived::kSensorOk)] = sensor_ok ? 1.0 : 0.0;
  if (fault) {
    step.suppressed = true;
    s.anomaly_run.Reset();
    s.have_previous = false;  // the next good value is a new measurement
    return step;
  }
  // Fresh: an independent measurement, not the transmitter's held value read again.
  step.fresh = !(s.have_previous && v == s.previous_value) &&
               (!s.last_fresh_ns || static_cast<double>(t.ns - *s.last_fresh_ns) >= s.cfg.min_spacing_s * 1e9);
  s.have_previous = true;
  s.previous_value = v;
  if (step.fresh) s.last_fresh_ns = t.ns;
  step.zone = *dsp::ClassifySeverity(v, s.cfg.zones);
  step.values[Idx(OverallDerived::kZone)] = static_cast<double>(static_cast<int>(*step.zone));
  if (!sensor_ok) {  // speed missing: the value is published, nothing is judged
    step.suppressed = true;
    s.anomaly_run.Reset();
    return step;
  }
  if (rpm_now && *rpm_now < s.cfg.min_speed_fraction * s.cfg.nominal_rpm) {  // start-up / coast-down / stopped
    step.suppressed = true;
    s.anomaly_run.Reset();
    return step;
  }
  s.Zone(step, v);
  if (s.baseline) s.Score(step, v, rpm_now);
  else s.Learn(step, v, rpm_now);
  return step;
}

std::optional<OverallStep> OverallMonitor::Tick(Timestamp now) {
  State& s = *s_;
  if (!s.first_tick_ns) s.first_tick_ns = now.ns;
  const int64_t since = s.last_sample_ns.value_or(*s.first_tick_ns);
  const double age_s = static_cast<double>(now.ns - since) * 1e-9;
  const auto stale_ns = static_cast<int64_t>(std::llround(s.cfg.stale_after_s * 1e9));
  if (now.ns - since <= stale_ns || s.active.count(s.SensorCause(kStale))) return std::nullopt;
  OverallStep step;
  step.time = now;
  step.suppressed = true;
  step.values[Idx(OverallDerived::kSensorOk)] = 0.0;
  s.SensorFault(step, kStale, age_s,
                s.last_sample_ns ? fmt::format("no update for {:.1f} s (stale after {} s)", age_s, s.cfg.stale_after_s)
                                 : fmt::format("no sample since the start, {:.1f} s ago", age_s),
                {{"age_s", age_s},
                 {"stale_after_s", s.cfg.stale_after_s},
                 {"last_update", s.last_sample_ns ? json(FormatRfc3339(Timestamp::FromNs(*s.last_sample_ns)))
                                                  : json(nullptr)}});
  s.anomaly_run.Reset();
  s.have_previous = false;
  return step;
}

std::optional<std::string> OverallMonitor::BaselineJson() const {
  if (!s_->baseline) return std::nullopt;
  return s_->baseline->ToJson();
}

Status OverallMonitor::RestoreBaseline(std::string_view text) {
  State& s = *s_;
  PF_ASSIGN_OR_RETURN(detect::Baseline b, detect::Baseline::FromJson(text));
  const detect::BaselineConfig& c = b.config();
  if (c.features != s.bcfg.features)
    return FailedPrecondition("overall monitor '{}': the saved baseline has other features; it is learned again",
                              s.cfg.name);
  const auto edges = [](const detect::BaselineConfig& x) {
    return x.regimes.variables.empty() ? std::vector<double>{} : x.regimes.variables.front().edges;
  };
  if (c.regimes.variables.size() != s.bcfg.regimes.variables.size() || edges(c) != edges(s.bcfg))
    return FailedPrecondition("overall monitor '{}': the saved baseline has other speed regimes ({}); it is learned again",
                              s.cfg.name, c.regimes.RegimeCount());
  if (c.false_alarm_rate != s.bcfg.false_alarm_rate)
    return FailedPrecondition("overall monitor '{}': the saved baseline was set for a false-alarm rate of {}, the "
                              "configuration says {}; it is learned again", s.cfg.name, c.false_alarm_rate,
                              s.bcfg.false_alarm_rate);
  s.baseline.emplace(std::move(b));
  s.classifier.emplace(s.baseline->config().regimes);
  s.trainer.reset();
  return Status::Ok();
}

bool OverallMonitor::has_baseline() const { return s_->baseline.has_value(); }

bool OverallMonitor::TakeBaselineChanged() {
  bool c = s_->baseline_changed;
  s_->baseline_changed = false;
  return c;
}

std::string OverallMonitor::StatusText() const {
  const State& s = *s_;
  if (s.baseline) return fmt::format("scoring against the baseline ({} regimes)", s.baseline->models().size());
  std::string text = s.cfg.baseline_from && s.next_fit_at == 0
                         ? fmt::format("learning the baseline from {} to {}: {} fresh samples",
                                       FormatRfc3339(*s.cfg.baseline_from), FormatRfc3339(*s.cfg.baseline_to), s.learned)
                         : fmt::format("learning the baseline: {} of {} fresh samples", s.learned, s.next_fit_at);
  if (!s.last_refusal.empty()) text += fmt::format(" (last fit refused: {})", s.last_refusal);
  return text;
}

}  // namespace pf::apps
