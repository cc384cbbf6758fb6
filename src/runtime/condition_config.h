#pragma once
// [condition] and [[condition.monitors]]: condition monitoring of vibration channels (issue 7).
// Each monitor watches one waveform tag (blocks from replay, MQTT or OPC UA), with the machine's
// speed from a tag or a fixed rpm and the bearing from the catalogue or its geometry, and runs an
// apps::ConditionMonitor on it. Its derived values are tags of their own, "<tag>.velocity_rms",
// "<tag>.zone", "<tag>.kurtosis", "<tag>.crest", "<tag>.anomaly_score", "<tag>.anomaly_threshold"
// and "<tag>.sensor_ok", declared here so that SPC charts and threshold rules can watch them;
// its alerts come from source "condition:<name>" with causes "<name>.zone.C", "<name>.bearing.<location>",
// "<name>.anomaly" and "<name>.sensor.<code>" (docs/schema.md).
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/condition_monitor.h"
#include "core/config.h"

namespace pf {

struct ConditionMonitorEntry {
  apps::ConditionMonitorConfig monitor;  // name, asset, tag and every analysis setting
  std::string speed_tag;                 // "" with a fixed rpm
  std::vector<std::string> suppress_in_states;
  const ConfigNode* node = nullptr;      // for error locations
};

std::span<const FieldSpec> ConditionSpec();
std::span<const FieldSpec> ConditionMonitorSpec();
// One [[condition.monitors]] table (tag existence and the asset are checked by the caller).
Result<ConditionMonitorEntry> ReadConditionMonitor(const ConfigNode& table);

}  // namespace pf
