#include "cli/vib_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/vib_plot.h"
#include "dsp/bearing.h"
#include "dsp/block_processor.h"
#include "dsp/feature_vector.h"
#include "dsp/features.h"
#include "dsp/resample.h"
#include "dsp/iso_severity.h"
#include "dsp/sensor_health.h"
#include "dsp/spectrum.h"
#include "engine/npy.h"
#include "spc/csv_table.h"

namespace pf {
namespace {

using nlohmann::json;

constexpr int kExitBadInput = 2;
constexpr int kExitFailed = 1;
constexpr int kKurtogramBlocks = 10;

struct Record {
  std::string file, column;
  std::vector<float> samples;       // g
  std::vector<double> shaft_hz;     // per block; 0: the speed column's median is not > 0 (speed missing)
  std::vector<double> block_rpm;    // per block (the speed column's median, or --rpm)
};

// A sensor fault over the record: how many blocks showed it, and the first one's figures.
struct SensorFaultSummary {
  dsp::SensorFaultCode code;
  int blocks = 0;
  std::size_t first_block = 0;  // 1-based
  std::string message;
  double value = 0, threshold = 0;
};

struct BearingChoice {
  std::string name;  // catalogue name, or "geometry"
  dsp::BearingGeometry geometry;
};

struct Analysis {
  std::size_t block_size = 0, blocks = 0, left_over = 0;
  std::size_t processed = 0;  // blocks with a known speed, run through the BlockProcessor
  dsp::TimeFeatures features;
  double velocity_rms = 0, velocity_max_block = 0;
  dsp::SeverityZone zone = dsp::SeverityZone::kA;
  std::array<dsp::OrderAmplitude, 3> orders{};
  dsp::BlockResult last;
  dsp::DefectFrequencies multiples;
  std::vector<float> ses, amplitude;
  double ses_bin_hz = 0, amplitude_bin_hz = 0;
};

Result<spc::CsvTable> LoadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot read: {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return spc::ParseCsv(ss.str(), path);
}

// A waveform has no missing samples: an empty cell or NA is an error, with where it is.
Result<std::vector<double>> DenseColumn(const spc::CsvTable& t, const std::string& name) {
  PF_ASSIGN_OR_RETURN(std::size_t c, t.Column(name));
  PF_ASSIGN_OR_RETURN(auto values, t.NumericColumn(name));
  std::vector<double> out(values.size());
  for (std::size_t r = 0; r < values.size(); ++r) {
    if (!values[r]) return InvalidArgument("{}: column '{}': missing value '{}'", t.Where(r, c), name, t.rows[r][c]);
    out[r] = *values[r];
  }
  return out;
}

Result<std::string> SignalColumn(const spc::CsvTable& t, const VibArgs& a) {
  if (!a.column.empty()) return a.column;
  std::vector<std::string> free;
  for (const auto& h : t.header)
    if (h != a.rpm_column) free.push_back(h);
  if (free.size() == 1) return free[0];
  std::string have;
  for (const auto& h : free) have += (have.empty() ? "" : ", ") + h;
  return InvalidArgument("{}: which column is the vibration? give --column (candidates: {})", t.file, have);
}

double Median(std::vector<double> v) {
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  if (v.size() % 2) return v[m];
  return 0.5 * (v[m] + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m)));
}

Status ValidateArgs(const VibArgs& a) {
  if (a.input.empty()) return InvalidArgument("--input FILE.csv is required");
  if (!std::isfinite(a.fs) || a.fs <= 0) return InvalidArgument("--fs {}: the sampling rate must be > 0 Hz", a.fs);
  if (a.rpm && !a.rpm_column.empty()) return InvalidArgument("give --rpm or --rpm-column, not both");
  if (!a.rpm && a.rpm_column.empty()) return InvalidArgument("the shaft speed is required: --rpm N or --rpm-column C");
  if (a.rpm && (!std::isfinite(*a.rpm) || *a.rpm <= 0)) return InvalidArgument("--rpm {}: the shaft speed must be > 0 rpm", *a.rpm);
  if (!std::isfinite(a.block_s) || a.block_s <= 0) return InvalidArgument("--block-s {}: the block length must be > 0 s", a.block_s);
  if (!a.bearing.empty() && !a.geometry.empty()) return InvalidArgument("give --bearing or --geometry, not both");
  return Status::Ok();
}

Result<BearingChoice> ChooseBearing(const VibArgs& a) {
  if (!a.geometry.empty()) {
    auto g = dsp::ParseGeometry(a.geometry);
    if (!g.ok()) return InvalidArgument("--geometry '{}': {}", a.geometry, g.status().message());
    return BearingChoice{"geometry", *g};
  }
  if (a.bearing.empty()) {
    std::string known;
    for (const auto& b : dsp::BearingCatalogue()) known += (known.empty() ? "" : ", ") + std::string(b.name);
    return InvalidArgument("the diagnosis needs the bearing: --bearing NAME (catalogue: {}) or --geometry n,d,D,angle", known);
  }
  auto g = dsp::LookupBearing(a.bearing);
  if (!g.ok()) return InvalidArgument("--bearing: {}", g.status().message());
  return BearingChoice{a.bearing, *g};
}

Result<dsp::ZoneBoundaries> ChooseZones(const VibArgs& a) {
  auto group = dsp::ParseMachineGroup(a.machine_group);
  if (!group) return InvalidArgument("--machine-group '{}': expected 1 (above 300 kW) or 2 (15-300 kW)", a.machine_group);
  auto foundation = dsp::ParseFoundation(a.foundation);
  if (!foundation) return InvalidArgument("--foundation '{}': expected rigid or flexible", a.foundation);
  return dsp::DefaultZoneBoundaries(*group, *foundation);
}

constexpr std::size_t kMinBlock = 64;  // the sensor-health checker's smallest block

std::size_t BlockSize(const VibArgs& a) {
  const double n = std::round(a.fs * a.block_s / 2) * 2;
  return n < kMinBlock ? 0 : static_cast<std::size_t>(n);
}

Result<Record> LoadRecord(const VibArgs& a, std::size_t block_size) {
  PF_ASSIGN_OR_RETURN(spc::CsvTable t, LoadCsv(a.input));
  Record rec;
  rec.file = a.input;
  PF_ASSIGN_OR_RETURN(rec.column, SignalColumn(t, a));
  if (!a.rpm_column.empty() && a.rpm_column == rec.column)
    return InvalidArgument("--rpm-column '{}' is also the vibration column", a.rpm_column);
  PF_ASSIGN_OR_RETURN(auto x, DenseColumn(t, rec.column));
  if (x.size() < block_size)
    return InvalidArgument("{}: {} samples in column '{}': at least one block of {} ({} s at {} Hz) is needed", t.file,
                           x.size(), rec.column, block_size, a.block_s, a.fs);
  rec.samples.assign(x.begin(), x.end());
  for (std::size_t r = 0; r < x.size(); ++r) {
    // A value that overflows a float is not a plausible acceleration in g.
    if (!std::isfinite(rec.samples[r]))
      return InvalidArgument("{}: column '{}': {} is out of range", t.Where(r, *t.Column(rec.column)), rec.column, x[r]);
  }
  const std::size_t blocks = x.size() / block_size;
  if (a.rpm) {
    rec.block_rpm.assign(blocks, *a.rpm);
  } else {
    PF_ASSIGN_OR_RETURN(auto rpm, DenseColumn(t, a.rpm_column));
    for (std::size_t b = 0; b < blocks; ++b) {
      std::vector<double> part(rpm.begin() + static_cast<std::ptrdiff_t>(b * block_size),
                               rpm.begin() + static_cast<std::ptrdiff_t>((b + 1) * block_size));
      // A median of 0 (or below) is a dead speed tag: the sensor-health check reports it.
      rec.block_rpm.push_back(Median(std::move(part)));
    }
  }
  for (double r : rec.block_rpm) rec.shaft_hz.push_back(r > 0 ? r / 60.0 : 0.0);
  return rec;
}

// Every block through dsp::SensorHealth first (issue 7 item 3). Any fault suppresses the bearing
// diagnosis of the record: a loose sensor or a wrong sampling rate is never reported as a machine fault.
Result<std::vector<SensorFaultSummary>> CheckSensorHealth(const Record& rec, double fs, std::size_t n) {
  PF_ASSIGN_OR_RETURN(dsp::SensorHealth health, dsp::SensorHealth::Create(fs, n));
  std::vector<SensorFaultSummary> out;
  dsp::SensorHealthReport report;
  const std::span<const float> all(rec.samples);
  for (std::size_t b = 0; b < rec.shaft_hz.size(); ++b) {
    const std::optional<double> speed = rec.shaft_hz[b] > 0 ? std::optional(rec.shaft_hz[b]) : std::nullopt;
    PF_RETURN_IF_ERROR_CTX(health.Check(all.subspan(b * n, n), speed, &report), "sensor health, block {}", b + 1);
    for (const dsp::SensorFault& f : report.Faults()) {
      auto it = std::find_if(out.begin(), out.end(), [&](const SensorFaultSummary& s) { return s.code == f.code; });
      if (it == out.end()) {
        out.push_back({f.code, 0, b + 1, std::string(f.text()), f.value, f.threshold});
        it = out.end() - 1;
      }
      ++it->blocks;
    }
  }
  return out;
}

Result<Analysis> Analyze(const Record& rec, double fs, std::size_t n, const BearingChoice& bearing,
                         const dsp::ZoneBoundaries& zones) {
  Analysis an;
  an.block_size = n;
  an.blocks = rec.samples.size() / n;
  an.left_over = rec.samples.size() - an.blocks * n;
  an.processed = static_cast<std::size_t>(std::count_if(rec.shaft_hz.begin(), rec.shaft_hz.end(), [](double f) { return f > 0; }));
  PF_ASSIGN_OR_RETURN(an.multiples, dsp::DefectMultiples(bearing.geometry));
  const std::span<const float> all(rec.samples);
  PF_ASSIGN_OR_RETURN(an.features, dsp::ComputeTimeFeatures(all.first(an.blocks * n)));
  if (an.processed == 0) return an;  // no speed anywhere: time features only
  dsp::BlockProcessorConfig c;
  c.fs = fs;
  c.block_size = n;
  c.bearing = bearing.geometry;
  c.zones = zones;
  c.kurtogram_blocks = std::min<int>(kKurtogramBlocks, static_cast<int>(an.processed));
  c.ses_average_blocks = std::max<int>(c.ses_average_blocks, static_cast<int>(an.processed));
  PF_ASSIGN_OR_RETURN(dsp::BlockProcessor proc, dsp::BlockProcessor::Create(std::move(c)));
  PF_ASSIGN_OR_RETURN(dsp::SpectrumAnalyzer spectrum, dsp::SpectrumAnalyzer::Create(fs, n, dsp::WindowKind::kHann));
  an.amplitude.assign(n / 2 + 1, 0.0f);
  std::vector<double> amplitude_sum(n / 2 + 1, 0.0);
  double v2 = 0;
  std::array<double, 3> order_amp{}, order_hz{};
  for (std::size_t b = 0; b < an.blocks; ++b) {
    if (rec.shaft_hz[b] <= 0) continue;
    auto block = all.subspan(b * n, n);
    PF_RETURN_IF_ERROR_CTX(proc.Process(block, rec.shaft_hz[b], &an.last), "block {} (samples {}-{})", b + 1, b * n,
                           (b + 1) * n - 1);
    PF_RETURN_IF_ERROR(spectrum.Compute(block));
    for (std::size_t k = 0; k < amplitude_sum.size(); ++k) amplitude_sum[k] += spectrum.amplitude()[k];
    v2 += an.last.velocity_rms_mm_s * an.last.velocity_rms_mm_s;
    an.velocity_max_block = std::max(an.velocity_max_block, an.last.velocity_rms_mm_s);
    for (int o = 0; o < 3; ++o) {
      order_amp[o] += an.last.orders[o].amplitude;
      order_hz[o] += an.last.orders[o].frequency_hz;
    }
  }
  const double nb = static_cast<double>(an.processed);
  for (std::size_t k = 0; k < amplitude_sum.size(); ++k) an.amplitude[k] = static_cast<float>(amplitude_sum[k] / nb);
  an.amplitude_bin_hz = spectrum.bin_hz();
  an.velocity_rms = std::sqrt(v2 / nb);
  PF_ASSIGN_OR_RETURN(an.zone, dsp::ClassifySeverity(an.velocity_rms, zones));
  double mean_shaft = 0;
  for (double f : rec.shaft_hz) mean_shaft += f / nb;  // 0 for the blocks left out
  for (int o = 0; o < 3; ++o) {
    an.orders[o] = {o + 1, (o + 1) * mean_shaft, order_hz[o] / nb, order_amp[o] / nb};
  }
  an.ses.assign(proc.averaged_ses().begin(), proc.averaged_ses().end());
  an.ses_bin_hz = proc.bin_hz();
  return an;
}

std::string_view GroupName(const VibArgs& a) { return *dsp::ParseMachineGroup(a.machine_group) == dsp::MachineGroup::kGroup1 ? "1" : "2"; }
std::string_view FoundationName(const VibArgs& a) {
  return *dsp::ParseFoundation(a.foundation) == dsp::Foundation::kRigid ? "rigid" : "flexible";
}

json LineJson(const dsp::LineEvidence& l) {
  return {{"expected_hz", l.expected_hz}, {"found_hz", l.found_hz},   {"amplitude", l.amplitude},
          {"floor", l.floor},             {"snr_db", l.snr_db},       {"searched", l.searched},
          {"shaft_coincident", l.shaft_coincident}};
}

json CandidateJson(const dsp::CandidateEvidence& c, int harmonics) {
  json j = {{"location", dsp::FaultLocationName(c.location)},
            {"frequency_name", FaultFrequencyName(c.location)},
            {"fundamental_hz", c.fundamental_hz},
            {"score_db", c.score},
            {"detected", c.detected},
            {"harmonics_detected", c.harmonics_detected},
            {"sidebands_detected", c.sidebands_detected},
            {"sideband_spacing_hz", c.sideband_spacing_hz}};
  json lines = json::array(), sidebands = json::array();
  for (int h = 0; h < harmonics; ++h) {
    json l = LineJson(c.harmonics[h]);
    l["harmonic"] = h + 1;
    lines.push_back(std::move(l));
    if (c.sideband_spacing_hz > 0) {
      for (int side = 0; side < 2; ++side) {
        json s = LineJson(c.sidebands[2 * h + side]);
        s["harmonic"] = h + 1;
        s["side"] = side == 0 ? "lower" : "upper";
        sidebands.push_back(std::move(s));
      }
    }
  }
  j["harmonics"] = std::move(lines);
  j["sidebands"] = std::move(sidebands);
  return j;
}

// The bearing and its defect frequencies at fr (the last block's speed, which the diagnosis used).
json BearingJson(const BearingChoice& bearing, const dsp::DefectFrequencies& m, double fr) {
  return {{"name", bearing.name},
          {"elements", bearing.geometry.elements},
          {"element_diameter", bearing.geometry.element_diameter},
          {"pitch_diameter", bearing.geometry.pitch_diameter},
          {"contact_angle_deg", bearing.geometry.contact_angle_deg},
          {"multiples", {{"bpfo", m.bpfo}, {"bpfi", m.bpfi}, {"bsf", m.bsf}, {"ftf", m.ftf}}},
          {"frequencies_hz",
           {{"bpfo", m.bpfo * fr}, {"bpfi", m.bpfi * fr}, {"bsf", m.bsf * fr},
            {"ftf", m.ftf * fr}}}};
}

json FeaturesJson(const VibArgs& a, const dsp::ZoneBoundaries& zones, const Analysis& an) {
  const auto& f = an.features;
  return {{"mean_g", f.mean},
          {"rms_g", f.rms},
          {"peak_g", f.peak},
          {"peak_to_peak_g", f.peak_to_peak},
          {"crest_factor", f.crest_factor},
          {"kurtosis", f.kurtosis},
          {"skewness", f.skewness},
          {"shape_factor", f.shape_factor},
          {"impulse_factor", f.impulse_factor},
          {"clearance_factor", f.clearance_factor},
          {"velocity_rms_mm_s", an.velocity_rms},
          {"velocity_rms_max_block_mm_s", an.velocity_max_block},
          {"velocity_band_hz", {10, 1000}},
          {"zone", dsp::SeverityZoneName(an.zone)},
          {"time_features_over", "every analysed block"},
          {"spectral_features_over", "blocks with a known speed"},
          {"zone_boundaries_mm_s",
           {{"ab", zones.ab},
            {"bc", zones.bc},
            {"cd", zones.cd},
            {"machine_group", GroupName(a)},
            {"foundation", FoundationName(a)},
            {"source", "ISO 10816-3:2009 Annex A (= ISO 20816-3:2022)"}}}};
}

json ReportJson(const VibArgs& a, const Record& rec, const BearingChoice& bearing, const dsp::ZoneBoundaries& zones,
                const Analysis& an, const std::vector<SensorFaultSummary>& sensor_faults) {
  const dsp::DiagnosisOptions opt;
  const auto& d = an.last.diagnosis;
  const double rpm_median = Median(rec.block_rpm);
  json speed = {{"source", a.rpm ? "rpm" : "rpm_column"}, {"rpm", rpm_median}, {"shaft_hz", rpm_median / 60.0},
                {"block_rpm", rec.block_rpm}, {"blocks_with_speed", an.processed}};
  if (!a.rpm) speed["column"] = a.rpm_column;
  const double fr = an.last.orders[0].expected_hz;  // the last block's speed, which the diagnosis used
  json j;
  j["input"] = {{"file", rec.file},
                {"column", rec.column},
                {"samples", rec.samples.size()},
                {"fs_hz", a.fs},
                {"block_samples", an.block_size},
                {"blocks", an.blocks},
                {"samples_not_analysed", an.left_over}};
  j["speed"] = std::move(speed);
  j["bearing"] = BearingJson(bearing, an.multiples, fr);
  j["features"] = FeaturesJson(a, zones, an);
  json orders = json::array();
  for (const auto& o : an.orders)
    orders.push_back({{"order", o.order}, {"expected_hz", o.expected_hz}, {"frequency_hz", o.frequency_hz}, {"amplitude_g", o.amplitude}});
  j["orders"] = std::move(orders);
  j["envelope"] = {{"ready", an.last.envelope_ready},
                   {"band_hz", {an.last.envelope_band.lo_hz, an.last.envelope_band.hi_hz}},
                   {"band_kurtosis", an.last.band_kurtosis},
                   {"band_source", "kurtogram"},
                   {"ses_blocks_averaged", an.processed}};
  json candidates = json::array();
  for (const auto& c : d.candidates) candidates.push_back(CandidateJson(c, opt.harmonics));
  json faults = json::array();
  for (const auto& sf : sensor_faults)
    faults.push_back({{"code", dsp::SensorFaultCodeName(sf.code)},
                      {"blocks", sf.blocks},
                      {"first_block", sf.first_block},
                      {"message", sf.message},
                      {"value", sf.value},
                      {"threshold", sf.threshold}});
  const bool suppressed = !sensor_faults.empty();
  j["sensor_faults"] = std::move(faults);
  if (an.processed == 0) {  // no block with a speed: nothing spectral to report
    for (const char* k : {"velocity_rms_mm_s", "velocity_rms_max_block_mm_s", "zone"}) j["features"][k] = nullptr;
    j["bearing"]["frequencies_hz"] = nullptr;
    j["orders"] = json::array();
    candidates = json::array();
  }
  j["diagnosis"] = suppressed || an.processed == 0 ? "none" : dsp::FaultLocationName(d.location);
  j["diagnosis_suppressed_by_sensor_fault"] = suppressed;
  j["best_score_db"] = d.best_score;
  j["second_score_db"] = d.second_score;
  j["margin_db"] = d.margin;
  j["required_margin_db"] = opt.margin_db;
  j["min_detected_lines"] = opt.min_detected_harmonics;
  j["detection_snr_db"] = opt.detection_snr_db;
  j["candidates"] = std::move(candidates);
  return j;
}

void PrintText(std::ostream& out, const json& j, const dsp::Diagnosis& d) {
  const auto& in = j["input"];
  out << fmt::format("input: {} column '{}', {} samples at {} Hz; {} blocks of {} samples{}\n", in["file"].get<std::string>(),
                     in["column"].get<std::string>(), in["samples"].get<std::size_t>(), in["fs_hz"].get<double>(),
                     in["blocks"].get<std::size_t>(), in["block_samples"].get<std::size_t>(),
                     in["samples_not_analysed"].get<std::size_t>()
                         ? fmt::format(" ({} samples after the last block not analysed)", in["samples_not_analysed"].get<std::size_t>())
                         : "");
  const auto& sp = j["speed"];
  out << fmt::format("speed: {:.1f} rpm ({:.3f} Hz){}\n", sp["rpm"].get<double>(), sp["shaft_hz"].get<double>(),
                     sp["source"] == "rpm" ? "" : fmt::format(", median per block of column '{}'", sp["column"].get<std::string>()));
  const auto& b = j["bearing"];
  const auto& m = b["multiples"];
  const json hz = b["frequencies_hz"].is_null() ? json{{"bpfo", 0.0}, {"bpfi", 0.0}, {"bsf", 0.0}, {"ftf", 0.0}}
                                                : b["frequencies_hz"];
  out << fmt::format("bearing: {} (n {}, d {}, D {}, angle {}): BPFO {:.4f}x = {:.2f} Hz, BPFI {:.4f}x = {:.2f} Hz, "
                     "BSF {:.4f}x = {:.2f} Hz, FTF {:.4f}x = {:.2f} Hz\n",
                     b["name"].get<std::string>(), b["elements"].get<int>(), b["element_diameter"].get<double>(),
                     b["pitch_diameter"].get<double>(), b["contact_angle_deg"].get<double>(), m["bpfo"].get<double>(),
                     hz["bpfo"].get<double>(), m["bpfi"].get<double>(), hz["bpfi"].get<double>(), m["bsf"].get<double>(),
                     hz["bsf"].get<double>(), m["ftf"].get<double>(), hz["ftf"].get<double>());
  const auto& f = j["features"];
  out << fmt::format("features: rms {:.4g} g, peak {:.4g} g, peak-to-peak {:.4g} g, crest {:.3f}, kurtosis {:.3f}, "
                     "skewness {:.3f}, shape {:.3f}, impulse {:.3f}, clearance {:.3f}\n",
                     f["rms_g"].get<double>(), f["peak_g"].get<double>(), f["peak_to_peak_g"].get<double>(),
                     f["crest_factor"].get<double>(), f["kurtosis"].get<double>(), f["skewness"].get<double>(),
                     f["shape_factor"].get<double>(), f["impulse_factor"].get<double>(), f["clearance_factor"].get<double>());
  const auto& z = f["zone_boundaries_mm_s"];
  for (const auto& s : j["sensor_faults"])
    out << fmt::format("sensor fault: {} in {} of {} blocks (first: block {}): {}\n", s["code"].get<std::string>(),
                       s["blocks"].get<int>(), in["blocks"].get<std::size_t>(), s["first_block"].get<std::size_t>(),
                       s["message"].get<std::string>());
  if (f["zone"].is_null()) {
    out << "velocity, zone, orders, envelope and diagnosis: no block has a shaft speed above 0\n";
    return;
  }
  out << fmt::format("velocity: {:.3f} mm/s RMS (10-1000 Hz; highest block {:.3f}): zone {} (ISO 10816-3 group {} {}: "
                     "A/B {} B/C {} C/D {} mm/s)\n",
                     f["velocity_rms_mm_s"].get<double>(), f["velocity_rms_max_block_mm_s"].get<double>(),
                     f["zone"].get<std::string>(), z["machine_group"].get<std::string>(), z["foundation"].get<std::string>(),
                     z["ab"].get<double>(), z["bc"].get<double>(), z["cd"].get<double>());
  out << "orders:";
  for (const auto& o : j["orders"])
    out << fmt::format(" {}x {:.4g} g at {:.2f} Hz;", o["order"].get<int>(), o["amplitude_g"].get<double>(),
                       o["frequency_hz"].get<double>());
  out << "\n";
  const auto& e = j["envelope"];
  out << fmt::format("envelope band: {:.0f}-{:.0f} Hz (kurtogram, spectral kurtosis {:.2f})\n", e["band_hz"][0].get<double>(),
                     e["band_hz"][1].get<double>(), e["band_kurtosis"].get<double>());
  if (j["diagnosis_suppressed_by_sensor_fault"].get<bool>()) {
    out << "diagnosis: none (suppressed by the sensor faults above; the evidence, for the record:)\n  "
        << dsp::DescribeDiagnosis(d) << "\n";
    return;
  }
  out << "diagnosis: " << dsp::DescribeDiagnosis(d) << "\n";
  out << fmt::format("  (a location is named when at least {} of its lines reach {:.1f} dB over the local floor and its "
                     "score beats the runner-up by {:.1f} dB)\n",
                     j["min_detected_lines"].get<int>(), j["detection_snr_db"].get<double>(), j["required_margin_db"].get<double>());
}

int Fail(std::ostream& err, const Status& st, int code) {
  err << "error: " << st.message() << "\n";
  return code;
}

// --features-out: one feature vector per half-overlapping block of the (decimated) record.
int WriteFeatures(const VibArgs& a, const BearingChoice& bearing, std::ostream& out, std::ostream& err) {
  if (a.label.empty() || a.label.find_first_of("/ ") != std::string::npos)
    return Fail(err, InvalidArgument("--features-out needs --label NAME (a class name, no '/' or spaces)"), kExitBadInput);
  if (a.decimate < 1) return Fail(err, InvalidArgument("--decimate {}: must be >= 1", a.decimate), kExitBadInput);
  const double fs = a.fs / a.decimate;
  const auto n = static_cast<std::size_t>(a.features_block);
  auto rec = LoadRecord(a, 1);
  if (!rec.ok()) return Fail(err, rec.status(), kExitBadInput);
  std::vector<float> x = rec->samples;
  if (a.decimate > 1) {
    auto d = dsp::Decimate(x, a.decimate);
    if (!d.ok()) return Fail(err, d.status().WithContext("--decimate"), kExitBadInput);
    x = std::move(*d);
  }
  auto multiples = dsp::DefectMultiples(bearing.geometry);
  if (!multiples.ok()) return Fail(err, multiples.status(), kExitBadInput);
  auto fv = dsp::BearingFeatureVector::Create(fs, n, *multiples);
  if (!fv.ok()) return Fail(err, fv.status().WithContext("--features-block"), kExitBadInput);
  if (x.size() < n)
    return Fail(err, InvalidArgument("{}: {} samples after decimation, one block needs {}", a.input, x.size(), n), kExitBadInput);
  std::error_code ec;
  std::filesystem::create_directories(a.features_out, ec);
  if (ec) return Fail(err, Internal("{}: cannot create ({})", a.features_out, ec.message()), kExitFailed);
  const double shaft_hz = Median(rec->block_rpm) / 60.0;
  if (!(shaft_hz > 0)) return Fail(err, InvalidArgument("{}: no shaft speed above 0 rpm", a.input), kExitBadInput);
  // The file stem joins with "-": model tools read the class as what precedes the last "_".
  std::string stem = std::filesystem::path(a.input).stem().string();
  std::replace(stem.begin(), stem.end(), '_', '-');
  std::vector<float> f(fv->size());
  int written = 0;
  for (std::size_t start = 0; start + n <= x.size(); start += n / 2, ++written) {
    if (Status st = fv->Compute(std::span<const float>(x).subspan(start, n), shaft_hz, f); !st.ok())
      return Fail(err, st.WithContext(fmt::format("{}: block at sample {}", a.input, start * a.decimate)), kExitBadInput);
    const std::string path = fmt::format("{}/{}_{}-{:04d}.npy", a.features_out, a.label, stem, written);
    if (Status st = engine::WriteNpyFile(path, engine::Tensor::Float({1, static_cast<int64_t>(f.size())}, f)); !st.ok())
      return Fail(err, st, kExitFailed);
  }
  std::ofstream names(a.features_out + "/feature_names.txt");
  for (const auto& nm : fv->names()) names << nm << "\n";
  if (!names.flush()) return Fail(err, Internal("{}/feature_names.txt: cannot write", a.features_out), kExitFailed);
  out << fmt::format("{}: {} feature vectors of {} values ({} samples at {:g} Hz, {:.1f} rpm) -> {}\n", a.input, written,
                     f.size(), n, fs, shaft_hz * 60, a.features_out);
  return 0;
}

}  // namespace

int RunVib(const VibArgs& a, std::ostream& out, std::ostream& err) {
  if (Status st = ValidateArgs(a); !st.ok()) return Fail(err, st, kExitBadInput);
  auto bearing = ChooseBearing(a);
  if (!bearing.ok()) return Fail(err, bearing.status(), kExitBadInput);
  if (!a.features_out.empty()) return WriteFeatures(a, *bearing, out, err);
  auto zones = ChooseZones(a);
  if (!zones.ok()) return Fail(err, zones.status(), kExitBadInput);
  const std::size_t n = BlockSize(a);
  if (n == 0)
    return Fail(err, InvalidArgument("--block-s {} at --fs {} Hz gives fewer than {} samples per block", a.block_s, a.fs, kMinBlock),
                kExitBadInput);
  auto rec = LoadRecord(a, n);
  if (!rec.ok()) return Fail(err, rec.status(), kExitBadInput);
  auto sensor_faults = CheckSensorHealth(*rec, a.fs, n);
  if (!sensor_faults.ok()) return Fail(err, sensor_faults.status().WithContext(a.input), kExitFailed);
  auto an = Analyze(*rec, a.fs, n, *bearing, *zones);
  if (!an.ok()) {
    const bool bad_input = an.status().code() == StatusCode::kInvalidArgument;
    return Fail(err, an.status().WithContext(a.input), bad_input ? kExitBadInput : kExitFailed);
  }
  const json report = ReportJson(a, *rec, *bearing, *zones, *an, *sensor_faults);
  if (!a.plot.empty() && an->processed == 0)
    return Fail(err, FailedPrecondition("--plot: no block has a shaft speed above 0: no spectrum to plot"), kExitFailed);
  if (!a.plot.empty()) {
    VibPlotInput p;
    p.amplitude = an->amplitude;
    p.amplitude_bin_hz = an->amplitude_bin_hz;
    p.ses = an->ses;
    p.ses_bin_hz = an->ses_bin_hz;
    p.shaft_hz = an->last.orders[0].expected_hz;
    if (an->last.envelope_ready) p.envelope_band = an->last.envelope_band;
    dsp::Diagnosis shown = an->last.diagnosis;
    if (!sensor_faults->empty()) shown.location = dsp::FaultLocation::kNone;  // suppressed: no location drawn as named
    p.diagnosis = &shown;
    p.detection_snr_db = dsp::DiagnosisOptions{}.detection_snr_db;
    p.title = fmt::format("{} · {} · {:.0f} rpm · diagnosis: {}", rec->file.substr(rec->file.find_last_of('/') + 1),
                          bearing->name, Median(rec->block_rpm), report["diagnosis"].get<std::string>());
    if (Status st = WriteVibPlot(p, a.plot); !st.ok())
      return Fail(err, st, st.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed);
  }
  if (a.json) {
    out << report.dump(2) << "\n";
  } else {
    PrintText(out, report, an->last.diagnosis);
    if (!a.plot.empty()) out << "plot: " << a.plot << "\n";
  }
  return 0;
}

void AddVibCommand(CLI::App& app) {
  auto args = std::make_shared<VibArgs>();
  auto rpm = std::make_shared<double>(0);
  auto* cmd = app.add_subcommand("vib", "condition monitoring of a vibration CSV: features, ISO zone, orders, envelope, "
                                        "bearing diagnosis with evidence, spectrum plot");
  cmd->add_option("--input", args->input, "CSV file with a header; acceleration in g")->required();
  cmd->add_option("--fs", args->fs, "sampling rate, Hz")->required();
  auto* rpm_opt = cmd->add_option("--rpm", *rpm, "shaft speed for the whole record, rpm");
  auto* rpm_col = cmd->add_option("--rpm-column", args->rpm_column, "column with the shaft speed in rpm (median per block)");
  rpm_opt->excludes(rpm_col);
  cmd->add_option("--column", args->column, "acceleration column (default: the only other column)");
  auto* bearing = cmd->add_option("--bearing", args->bearing, "bearing from the catalogue, e.g. 6205");
  auto* geometry = cmd->add_option("--geometry", args->geometry, "bearing geometry n,d,D,angle (d, D in one unit; angle in degrees)");
  bearing->excludes(geometry);
  cmd->add_option("--machine-group", args->machine_group, "ISO 10816-3 group: 1 (> 300 kW) or 2 (15-300 kW)")->capture_default_str();
  cmd->add_option("--foundation", args->foundation, "rigid or flexible")->capture_default_str();
  cmd->add_option("--block-s", args->block_s, "block length, s")->capture_default_str();
  cmd->add_flag("--json", args->json, "JSON report");
  cmd->add_option("--plot", args->plot, "write the spectrum and envelope spectrum with the fault frequencies (PNG)");
  cmd->add_option("--features-out", args->features_out,
                  "write a feature vector per half-overlapping block as DIR/<label>_<stem>-<k>.npy instead of the report");
  cmd->add_option("--label", args->label, "class name prefixed to the feature files");
  cmd->add_option("--features-block", args->features_block, "samples per feature block")->capture_default_str();
  cmd->add_option("--decimate", args->decimate, "low-pass and keep every Q-th sample first (feature mode)")->capture_default_str();
  cmd->callback([args, rpm, rpm_opt] {
    if (rpm_opt->count() > 0) args->rpm = *rpm;
    std::exit(RunVib(*args, std::cout, std::cerr));
  });
}

}  // namespace pf
