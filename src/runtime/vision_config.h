#pragma once
// [[vision]]: vision inspection stations of the running plant (issue 10), each a VisionStation
// (runtime/vision_station.h) on a watched folder, optionally a GigE Vision camera, the HTTP upload
// route of the plant's API and a read-only Modbus TCP verdict register map for the PLC.
// The model is loaded when the configuration is read, so `plantfloor check` proves that it fits the
// station (input shape, classes, ROIs, thresholds). Each station declares derived tags
//   <name>.verdict     1 accept, 2 reject, 3 uncertain (the register's code)
//   <name>.class       class index + 1 of the deciding ROI, 0 none
//   <name>.confidence  0..1
//   <name>.latency_ms  image arrival to verdict
// stored for every part (store = all), so rules, SPC charts and the uplink see each verdict.
// part_id_tag names a declared tag whose value, latched at the trigger, becomes the part id.
#include <span>
#include <string>
#include <vector>

#include "apps/vision_inspector.h"
#include "core/config.h"
#include "runtime/vision_station.h"

namespace pf {

struct VisionEntry {
  std::string name, asset;
  std::string model, anomaly_dir;  // one of the two (relative paths: to the configuration file's directory)
  apps::VisionOptions inspector;
  int threads = 1;
  StationOptions station;          // folder, Modbus, audit, review budget, journals, camera (callbacks unset)
  std::string part_id_tag;         // "" none
  int64_t part_id_max_age_ns = 0;  // an older latched value is no part id (0: no limit)
  std::vector<std::string> classes;  // the model's, for documentation of the class tag
  const ConfigNode* node = nullptr;
};

std::span<const FieldSpec> VisionSpec();
// One [[vision]] table: reads it and loads the model with the station's options. Tags are checked by
// the caller. `base_dir` resolves relative paths (model, anomaly, watch, journal).
Result<VisionEntry> ReadVision(const ConfigNode& table, const std::string& base_dir);

}  // namespace pf
