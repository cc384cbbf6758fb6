#pragma once
// [condition] and [[condition.monitors]]: condition monitoring of vibration channels (issue 7).
// Each monitor watches one waveform tag (blocks from replay, MQTT or OPC UA), with the machine's
// speed from a tag or a fixed rpm and the bearing from the catalogue or its geometry, and runs an
// apps::ConditionMonitor on it. Its derived values are tags of their own, "<tag>.velocity_rms",
// "<tag>.zone", "<tag>.kurtosis", "<tag>.crest", "<tag>.anomaly_score", "<tag>.anomaly_threshold"
// and "<tag>.sensor_ok", declared here so that SPC charts and threshold rules can watch them;
// its alerts come from source "condition:<name>" with causes "<name>.zone.C", "<name>.bearing.<location>",
// "<name>.anomaly" and "<name>.sensor.<code>" (docs/schema.md).
// [[condition.overall]]: an overall value (velocity RMS in mm/s) that a vibration transmitter
// computes and a PLC serves over Modbus or OPC UA, watched by an apps::OverallMonitor: ISO zone and
// baseline straight from the scalar samples. Derived tags "<tag>.zone", "<tag>.anomaly_score",
// "<tag>.anomaly_threshold", "<tag>.sensor_ok"; causes "<name>.zone.C", "<name>.zone.D",
// "<name>.anomaly", "<name>.sensor.<code>" (stale, bad_quality, not_finite, negative, speed_missing).
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/condition_monitor.h"
#include "apps/overall_monitor.h"
#include "core/config.h"

namespace pf {

struct ConditionMonitorEntry {
  apps::ConditionMonitorConfig monitor;  // name, asset, tag and every analysis setting
  std::string speed_tag;                 // "" with a fixed rpm
  std::vector<std::string> suppress_in_states;
  const ConfigNode* node = nullptr;      // for error locations
};

struct OverallMonitorEntry {
  apps::OverallMonitorConfig monitor;  // name, asset, tag and every setting
  std::string speed_tag;               // "" without speed regimes and low-speed suppression
  std::vector<std::string> suppress_in_states;
  const ConfigNode* node = nullptr;    // for error locations
};

std::span<const FieldSpec> ConditionSpec();
std::span<const FieldSpec> OverallMonitorSpec();
// One [[condition.overall]] table (tag existence, its type and the asset are checked by the caller).
Result<OverallMonitorEntry> ReadOverallMonitor(const ConfigNode& table);
std::span<const FieldSpec> ConditionMonitorSpec();
// One [[condition.monitors]] table (tag existence and the asset are checked by the caller).
Result<ConditionMonitorEntry> ReadConditionMonitor(const ConfigNode& table);

}  // namespace pf
