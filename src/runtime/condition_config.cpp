#include "runtime/condition_config.h"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace pf {
namespace {

constexpr std::array<std::string_view, 3> kPriorityWords = {"low", "medium", "high"};
constexpr std::array<std::string_view, 2> kThresholdWords = {"empirical", "f_law"};
constexpr std::array<std::string_view, 2> kFoundationWords = {"rigid", "flexible"};
constexpr std::array<std::string_view, 2> kGroupWords = {"1", "2"};

constexpr FieldSpec kConditionSpec[] = {
    {"monitors", FieldType::kTableArray, false, "", "vibration condition monitors (see [[condition.monitors]])"},
    {"overall", FieldType::kTableArray, false, "",
     "overall-value monitors on transmitter velocity RMS tags (see [[condition.overall]])"},
};

constexpr FieldSpec kOverallSpec[] = {
    {"tag", FieldType::kString, true, "", "numeric tag with the overall velocity RMS in mm/s, e.g. \"fan1.de_vel\""},
    {"name", FieldType::kString, false, "<tag>", "monitor name in alert causes (\"<name>.zone.C\") and the state table"},
    {"asset", FieldType::kString, false, "<the tag's asset>", "asset the alerts are raised on"},
    {"machine_group", FieldType::kString, false, "2", "ISO 10816-3 machine group: 1 (> 300 kW) or 2 (15-300 kW)"},
    {"foundation", FieldType::kString, false, "rigid", "ISO 10816-3 foundation: rigid or flexible"},
    {"zone_ab", FieldType::kDouble, false, "<ISO>", "zone A/B boundary in mm/s RMS (overrides the ISO default)"},
    {"zone_bc", FieldType::kDouble, false, "<ISO>", "zone B/C boundary in mm/s RMS"},
    {"zone_cd", FieldType::kDouble, false, "<ISO>", "zone C/D boundary in mm/s RMS"},
    {"speed_tag", FieldType::kString, false, "", "tag with the shaft speed in rpm: speed regimes and low-speed suppression"},
    {"nominal_rpm", FieldType::kDouble, false, "", "nominal speed; needed with speed_tag"},
    {"min_speed_fraction", FieldType::kDouble, false, "0.5",
     "below this fraction of nominal_rpm (start-up, coast-down) nothing is judged, learned or scored"},
    {"speed_timeout", FieldType::kDuration, false, "10s", "an older speed sample counts as missing (sensor speed_missing)"},
    {"regime_rpm_edges", FieldType::kDoubleArray, false, "[]", "speed bins (rpm) with a baseline each; needs speed_tag"},
    {"baseline_samples", FieldType::kInt, false, "500", "fresh samples the baseline is learned from"},
    {"baseline_from", FieldType::kString, false, "", "learn from the samples in [baseline_from, baseline_to) (RFC 3339)"},
    {"baseline_to", FieldType::kString, false, "", "end of the learning range (RFC 3339)"},
    {"false_alarm_rate", FieldType::kDouble, false, "0.01", "target false-alarm rate per fresh sample of the anomaly threshold"},
    {"threshold", FieldType::kString, false, "empirical", "empirical (order statistic) or f_law (Gaussian values only)"},
    {"anomaly_samples", FieldType::kInt, false, "5", "consecutive fresh samples over the threshold before the anomaly alert"},
    {"min_spacing", FieldType::kDuration, false, "1s",
     "fresh samples (learned, counted for the anomaly) are at least this far apart and not an exact repeat"},
    {"stale_after", FieldType::kDuration, false, "30s", "no sample for this long: sensor condition <name>.sensor.stale"},
    {"zone_c_priority", FieldType::kString, false, "medium", "priority of <name>.zone.C"},
    {"zone_d_priority", FieldType::kString, false, "high", "priority of <name>.zone.D"},
    {"anomaly_priority", FieldType::kString, false, "medium", "priority of <name>.anomaly"},
    {"sensor_priority", FieldType::kString, false, "low", "priority of <name>.sensor.<code>"},
    {"suppress_in_states", FieldType::kStringArray, false, "[]", "machine states that put the monitor's alerts out of service"},
};

constexpr FieldSpec kMonitorSpec[] = {
    {"tag", FieldType::kString, true, "", "the waveform tag (acceleration in g), e.g. \"fan1.de_accel\""},
    {"name", FieldType::kString, false, "<tag>", "monitor name in alert causes (\"<name>.zone.C\") and the state table"},
    {"asset", FieldType::kString, false, "<the tag's asset>", "asset the alerts are raised on"},
    {"sample_rate", FieldType::kDouble, false, "0", "Hz; blocks at another rate are refused (0: the first block's rate)"},
    {"speed_tag", FieldType::kString, false, "", "tag with the shaft speed in rpm (give speed_tag or rpm)"},
    {"rpm", FieldType::kDouble, false, "", "fixed shaft speed in rpm when there is no speed tag"},
    {"nominal_rpm", FieldType::kDouble, false, "<rpm>", "nominal speed; needed with speed_tag"},
    {"min_speed_fraction", FieldType::kDouble, false, "0.5",
     "below this fraction of nominal_rpm (start-up, coast-down) nothing is judged, learned or scored"},
    {"speed_timeout", FieldType::kDuration, false, "10s", "an older speed sample counts as missing (sensor fault speed_missing)"},
    {"bearing", FieldType::kString, false, "", "catalogue bearing, e.g. \"6205\" (give bearing or geometry)"},
    {"geometry", FieldType::kString, false, "", "bearing geometry \"n,d,D,angle_deg\" (elements, ball and pitch diameter)"},
    {"machine_group", FieldType::kString, false, "2", "ISO 10816-3 machine group: 1 (> 300 kW) or 2 (15-300 kW)"},
    {"foundation", FieldType::kString, false, "rigid", "ISO 10816-3 foundation: rigid or flexible"},
    {"zone_ab", FieldType::kDouble, false, "<ISO>", "zone A/B boundary in mm/s RMS (overrides the ISO default)"},
    {"zone_bc", FieldType::kDouble, false, "<ISO>", "zone B/C boundary in mm/s RMS"},
    {"zone_cd", FieldType::kDouble, false, "<ISO>", "zone C/D boundary in mm/s RMS"},
    {"block_s", FieldType::kDouble, false, "1.0", "analysis window in seconds"},
    {"hop_s", FieldType::kDouble, false, "<block_s>", "a window every hop_s seconds (below block_s: overlapping windows)"},
    {"envelope_band", FieldType::kDoubleArray, false, "", "fixed envelope band [lo_hz, hi_hz] (default: the kurtogram's)"},
    {"kurtogram_blocks", FieldType::kInt, false, "10", "disjoint windows behind each kurtogram"},
    {"diagnosis_blocks", FieldType::kInt, false, "3", "consecutive diagnoses naming one location before the bearing alert"},
    {"baseline_blocks", FieldType::kInt, false, "200", "steady windows the baseline is learned from"},
    {"baseline_from", FieldType::kString, false, "", "learn from the windows starting in [baseline_from, baseline_to) (RFC 3339)"},
    {"baseline_to", FieldType::kString, false, "", "end of the learning range (RFC 3339)"},
    {"regime_rpm_edges", FieldType::kDoubleArray, false, "[]", "speed bins (rpm) with a baseline each, e.g. [900, 1200, 1500]"},
    {"false_alarm_rate", FieldType::kDouble, false, "0.01", "target false-alarm rate per window of the anomaly threshold"},
    {"threshold", FieldType::kString, false, "empirical", "empirical (order statistic) or f_law (Gaussian features only)"},
    {"anomaly_blocks", FieldType::kInt, false, "3", "consecutive disjoint windows over the threshold before the anomaly alert"},
    {"zone_c_priority", FieldType::kString, false, "medium", "priority of <name>.zone.C"},
    {"zone_d_priority", FieldType::kString, false, "high", "priority of <name>.zone.D"},
    {"bearing_priority", FieldType::kString, false, "high", "priority of <name>.bearing.<location>"},
    {"anomaly_priority", FieldType::kString, false, "medium", "priority of <name>.anomaly"},
    {"sensor_priority", FieldType::kString, false, "low", "priority of <name>.sensor.<code>"},
    {"suppress_in_states", FieldType::kStringArray, false, "[]", "machine states that put the monitor's alerts out of service"},
};

Result<std::vector<double>> Doubles(const ConfigReader& r, std::string_view key) {
  std::vector<double> out;
  const ConfigNode* n = r.Node(key);
  if (!n) return out;
  if (!n->IsArray()) return r.Error(key, "expected an array of numbers");
  for (size_t i = 0; i < n->items.size(); ++i) {
    const ConfigNode& it = n->items[i];
    if (it.kind == ConfigNode::Kind::kInt) out.push_back(static_cast<double>(it.i));
    else if (it.kind == ConfigNode::Kind::kDouble) out.push_back(it.d);
    else return r.Error(key, fmt::format("item {}: expected a number, got {}", i, it.Describe()));
    if (!std::isfinite(out.back())) return r.Error(key, fmt::format("item {}: must be finite", i));
  }
  return out;
}

Result<alerts::Priority> ReadPriority(const ConfigReader& r, std::string_view key, std::string def) {
  PF_ASSIGN_OR_RETURN(std::string word, r.Enum(key, std::move(def), kPriorityWords));
  return *alerts::ParsePriority(word);
}

}  // namespace

std::span<const FieldSpec> ConditionSpec() { return kConditionSpec; }
std::span<const FieldSpec> ConditionMonitorSpec() { return kMonitorSpec; }
std::span<const FieldSpec> OverallMonitorSpec() { return kOverallSpec; }

Result<ConditionMonitorEntry> ReadConditionMonitor(const ConfigNode& table) {
  ConfigReader r(table, kMonitorSpec);
  PF_RETURN_IF_ERROR(r.Check());
  ConditionMonitorEntry e;
  e.node = &table;
  apps::ConditionMonitorConfig& c = e.monitor;
  PF_ASSIGN_OR_RETURN(c.tag, r.String("tag"));
  if (c.tag.empty()) return r.Error("tag", "must not be empty");
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", c.tag));
  if (c.name.empty() || c.name.find_first_of("/ ?#") != std::string::npos)
    return r.Error("name", fmt::format("'{}' cannot be a monitor name (no '/', ' ', '?', '#')", c.name));
  PF_ASSIGN_OR_RETURN(c.asset, r.String("asset", ""));
  PF_ASSIGN_OR_RETURN(c.sample_rate_hz, r.Double("sample_rate", 0));
  PF_ASSIGN_OR_RETURN(e.speed_tag, r.String("speed_tag", ""));
  if (r.Has("rpm") == !e.speed_tag.empty())
    return r.Error(r.Has("rpm") ? "rpm" : "speed_tag", "give either speed_tag (a tag in rpm) or a fixed rpm, not both and not neither");
  if (r.Has("rpm")) {
    PF_ASSIGN_OR_RETURN(double rpm, r.Double("rpm", 0));
    c.fixed_rpm = rpm;
  }
  PF_ASSIGN_OR_RETURN(c.nominal_rpm, r.Double("nominal_rpm", 0));
  PF_ASSIGN_OR_RETURN(c.min_speed_fraction, r.Double("min_speed_fraction", 0.5));
  PF_ASSIGN_OR_RETURN(Duration timeout, r.Dur("speed_timeout", std::chrono::seconds(10)));
  c.speed_timeout_s = static_cast<double>(timeout.count()) * 1e-9;
  PF_ASSIGN_OR_RETURN(std::string bearing, r.String("bearing", ""));
  PF_ASSIGN_OR_RETURN(std::string geometry, r.String("geometry", ""));
  if (bearing.empty() == geometry.empty())
    return r.Error(bearing.empty() ? "bearing" : "geometry", "give either bearing (a catalogue name) or geometry, not both and not neither");
  auto g = bearing.empty() ? dsp::ParseGeometry(geometry) : dsp::LookupBearing(bearing);
  if (!g.ok()) return r.Error(bearing.empty() ? "geometry" : "bearing", g.status().message());
  c.bearing = *g;
  PF_ASSIGN_OR_RETURN(std::string group, r.Enum("machine_group", "2", kGroupWords));
  PF_ASSIGN_OR_RETURN(std::string foundation, r.Enum("foundation", "rigid", kFoundationWords));
  c.zones = dsp::DefaultZoneBoundaries(*dsp::ParseMachineGroup(group), *dsp::ParseFoundation(foundation));
  PF_ASSIGN_OR_RETURN(c.zones.ab, r.Double("zone_ab", c.zones.ab));
  PF_ASSIGN_OR_RETURN(c.zones.bc, r.Double("zone_bc", c.zones.bc));
  PF_ASSIGN_OR_RETURN(c.zones.cd, r.Double("zone_cd", c.zones.cd));
  PF_ASSIGN_OR_RETURN(c.block_s, r.Double("block_s", 1.0));
  PF_ASSIGN_OR_RETURN(c.hop_s, r.Double("hop_s", 0));
  PF_ASSIGN_OR_RETURN(std::vector<double> band, Doubles(r, "envelope_band"));
  if (!band.empty()) {
    if (band.size() != 2 || !(band[0] >= 0 && band[0] < band[1]))
      return r.Error("envelope_band", "expected [lo_hz, hi_hz] with 0 <= lo < hi");
    c.envelope_band = dsp::FrequencyBand{band[0], band[1]};
  }
  PF_ASSIGN_OR_RETURN(int64_t kb, r.IntIn("kurtogram_blocks", 10, 1, 600));
  c.kurtogram_blocks = static_cast<int>(kb);
  PF_ASSIGN_OR_RETURN(int64_t db, r.IntIn("diagnosis_blocks", 3, 1, 1000));
  c.diagnosis_blocks = static_cast<int>(db);
  PF_ASSIGN_OR_RETURN(int64_t bb, r.IntIn("baseline_blocks", 200, 2, 10'000'000));
  c.baseline_blocks = static_cast<int>(bb);
  for (const char* key : {"baseline_from", "baseline_to"}) {
    if (!r.Has(key)) continue;
    PF_ASSIGN_OR_RETURN(std::string text, r.String(key));
    auto t = ParseRfc3339(text);
    if (!t.ok()) return r.Error(key, t.status().message());
    (std::string_view(key) == "baseline_from" ? c.baseline_from : c.baseline_to) = *t;
  }
  PF_ASSIGN_OR_RETURN(c.regime_rpm_edges, Doubles(r, "regime_rpm_edges"));
  PF_ASSIGN_OR_RETURN(c.false_alarm_rate, r.Double("false_alarm_rate", 0.01));
  PF_ASSIGN_OR_RETURN(std::string method, r.Enum("threshold", "empirical", kThresholdWords));
  c.threshold = method == "f_law" ? detect::ThresholdMethod::kFLaw : detect::ThresholdMethod::kEmpirical;
  PF_ASSIGN_OR_RETURN(int64_t ab, r.IntIn("anomaly_blocks", 3, 1, 1000));
  c.anomaly_blocks = static_cast<int>(ab);
  PF_ASSIGN_OR_RETURN(c.priorities.zone_c, ReadPriority(r, "zone_c_priority", "medium"));
  PF_ASSIGN_OR_RETURN(c.priorities.zone_d, ReadPriority(r, "zone_d_priority", "high"));
  PF_ASSIGN_OR_RETURN(c.priorities.bearing, ReadPriority(r, "bearing_priority", "high"));
  PF_ASSIGN_OR_RETURN(c.priorities.anomaly, ReadPriority(r, "anomaly_priority", "medium"));
  PF_ASSIGN_OR_RETURN(c.priorities.sensor, ReadPriority(r, "sensor_priority", "low"));
  PF_ASSIGN_OR_RETURN(e.suppress_in_states, r.Strings("suppress_in_states"));
  if (Status v = c.Validate(); !v.ok()) {
    // Validate names the key first ("block_s: ..."): point at it when it is in the table.
    const std::string& m = v.message();
    size_t colon = m.find(':');
    std::string key = colon == std::string::npos ? "" : m.substr(0, colon);
    if (key == "rpm" || key == "nominal_rpm" || key == "block_s" || key == "hop_s" || key == "false_alarm_rate" ||
        key == "min_speed_fraction" || key == "regime_rpm_edges" || key == "baseline_to" || key == "sample_rate")
      return r.Error(key, m.substr(colon + 2));
    return ConfigError(table, m);
  }
  return e;
}

Result<OverallMonitorEntry> ReadOverallMonitor(const ConfigNode& table) {
  ConfigReader r(table, kOverallSpec);
  PF_RETURN_IF_ERROR(r.Check());
  OverallMonitorEntry e;
  e.node = &table;
  apps::OverallMonitorConfig& c = e.monitor;
  PF_ASSIGN_OR_RETURN(c.tag, r.String("tag"));
  if (c.tag.empty()) return r.Error("tag", "must not be empty");
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", c.tag));
  if (c.name.empty() || c.name.find_first_of("/ ?#") != std::string::npos)
    return r.Error("name", fmt::format("'{}' cannot be a monitor name (no '/', ' ', '?', '#')", c.name));
  PF_ASSIGN_OR_RETURN(c.asset, r.String("asset", ""));
  PF_ASSIGN_OR_RETURN(c.machine_group, r.Enum("machine_group", "2", kGroupWords));
  PF_ASSIGN_OR_RETURN(c.foundation, r.Enum("foundation", "rigid", kFoundationWords));
  c.zones = dsp::DefaultZoneBoundaries(*dsp::ParseMachineGroup(c.machine_group), *dsp::ParseFoundation(c.foundation));
  PF_ASSIGN_OR_RETURN(c.zones.ab, r.Double("zone_ab", c.zones.ab));
  PF_ASSIGN_OR_RETURN(c.zones.bc, r.Double("zone_bc", c.zones.bc));
  PF_ASSIGN_OR_RETURN(c.zones.cd, r.Double("zone_cd", c.zones.cd));
  if (Status z = dsp::ValidateZoneBoundaries(c.zones); !z.ok()) {
    const char* key = r.Has("zone_cd") ? "zone_cd" : r.Has("zone_bc") ? "zone_bc" : "zone_ab";
    return r.Error(key, z.message());
  }
  PF_ASSIGN_OR_RETURN(e.speed_tag, r.String("speed_tag", ""));
  c.speed_input = !e.speed_tag.empty();
  if (!c.speed_input) {
    for (const char* key : {"nominal_rpm", "min_speed_fraction", "speed_timeout", "regime_rpm_edges"})
      if (r.Has(key)) return r.Error(key, "only used with speed_tag (a tag with the shaft speed in rpm)");
  } else if (!r.Has("nominal_rpm")) {
    return r.Error("nominal_rpm", "missing: needed with speed_tag (start-up and coast-down are below min_speed_fraction of it)");
  }
  PF_ASSIGN_OR_RETURN(c.nominal_rpm, r.Double("nominal_rpm", 0));
  PF_ASSIGN_OR_RETURN(c.min_speed_fraction, r.Double("min_speed_fraction", 0.5));
  PF_ASSIGN_OR_RETURN(Duration timeout, r.Dur("speed_timeout", std::chrono::seconds(10)));
  c.speed_timeout_s = static_cast<double>(timeout.count()) * 1e-9;
  PF_ASSIGN_OR_RETURN(c.regime_rpm_edges, Doubles(r, "regime_rpm_edges"));
  PF_ASSIGN_OR_RETURN(int64_t bs, r.IntIn("baseline_samples", 500, 2, 100'000'000));
  c.baseline_samples = static_cast<int>(bs);
  for (const char* key : {"baseline_from", "baseline_to"}) {
    if (!r.Has(key)) continue;
    PF_ASSIGN_OR_RETURN(std::string text, r.String(key));
    auto t = ParseRfc3339(text);
    if (!t.ok()) return r.Error(key, t.status().message());
    (std::string_view(key) == "baseline_from" ? c.baseline_from : c.baseline_to) = *t;
  }
  PF_ASSIGN_OR_RETURN(c.false_alarm_rate, r.Double("false_alarm_rate", 0.01));
  PF_ASSIGN_OR_RETURN(std::string method, r.Enum("threshold", "empirical", kThresholdWords));
  c.threshold = method == "f_law" ? detect::ThresholdMethod::kFLaw : detect::ThresholdMethod::kEmpirical;
  PF_ASSIGN_OR_RETURN(int64_t as, r.IntIn("anomaly_samples", 5, 1, 100'000));
  c.anomaly_samples = static_cast<int>(as);
  PF_ASSIGN_OR_RETURN(Duration spacing, r.Dur("min_spacing", std::chrono::seconds(1)));
  c.min_spacing_s = static_cast<double>(spacing.count()) * 1e-9;
  PF_ASSIGN_OR_RETURN(Duration stale, r.Dur("stale_after", std::chrono::seconds(30)));
  c.stale_after_s = static_cast<double>(stale.count()) * 1e-9;
  PF_ASSIGN_OR_RETURN(c.priorities.zone_c, ReadPriority(r, "zone_c_priority", "medium"));
  PF_ASSIGN_OR_RETURN(c.priorities.zone_d, ReadPriority(r, "zone_d_priority", "high"));
  PF_ASSIGN_OR_RETURN(c.priorities.anomaly, ReadPriority(r, "anomaly_priority", "medium"));
  PF_ASSIGN_OR_RETURN(c.priorities.sensor, ReadPriority(r, "sensor_priority", "low"));
  PF_ASSIGN_OR_RETURN(e.suppress_in_states, r.Strings("suppress_in_states"));
  if (Status v = c.Validate(); !v.ok()) {
    // Validate names the key first ("min_spacing: ..."): point at it when it is in the table.
    const std::string& m = v.message();
    size_t colon = m.find(':');
    std::string key = colon == std::string::npos ? "" : m.substr(0, colon);
    key = key.substr(0, key.find('['));  // "regime_rpm_edges[1]"
    if (!key.empty() && r.Has(key)) return r.Error(key, m.substr(key.size() + (m[key.size()] == ':' ? 2 : 0)));
    return ConfigError(table, m);
  }
  return e;
}

}  // namespace pf
