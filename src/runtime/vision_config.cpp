#include "runtime/vision_config.h"

#include <filesystem>

#include <fmt/format.h>

namespace pf {
namespace {

constexpr FieldSpec kVisionSpec[] = {
    {"name", FieldType::kString, true, "", "station name: prefix of its tags (\"surface1.verdict\") and ?station= of its API"},
    {"asset", FieldType::kString, true, "", "asset of the station's tags and events"},
    {"model", FieldType::kString, false, "", "classification model (.onnx with a manifest: classes, normalisation); or anomaly"},
    {"anomaly", FieldType::kString, false, "", "anomaly-mode directory from `plantfloor anomaly fit` (texture.onnx, anomaly.json)"},
    {"watch", FieldType::kString, true, "", "folder the images arrive in (complete files only: rename, close-after-write or settle)"},
    {"settle", FieldType::kDuration, false, "500ms", "a file whose size has not changed for this long is complete"},
    {"keep_done", FieldType::kBool, false, "true", "move inspected files to <watch>/.done/ (false: delete them)"},
    {"rois", FieldType::kStringArray, false, "<the whole image>", "regions of interest, \"x,y,w,h\" in pixels, each judged"},
    {"good_classes", FieldType::kStringArray, false, "<from the manifest>", "classes that mean a good part"},
    {"accept_threshold", FieldType::kDouble, false, "0.9", "a good class at or above this confidence is accepted"},
    {"reject_threshold", FieldType::kDouble, false, "0.9", "a defect class at or above this is rejected (manifest thresholds win)"},
    {"deadline", FieldType::kDuration, false, "0 (none)", "an inspection slower than this is uncertain (the cycle budget)"},
    {"expect_bits", FieldType::kInt, false, "0 (any)", "8 or 16: other bit depths are uncertain (\"bad input\")"},
    {"threads", FieldType::kInt, false, "1", "inference threads"},
    {"modbus_listen", FieldType::kString, false, "<none>", "host:port of the read-only verdict register map (port 0: a free one)"},
    {"camera", FieldType::kString, false, "<none>", "a GigE Vision camera (IP address or aravis id); lost cameras are reopened"},
    {"camera_fps", FieldType::kDouble, false, "0 (the camera's)", "frame rate asked of the camera"},
    {"part_id_tag", FieldType::kString, false, "<none>", "a declared tag whose value at the trigger is the part id"},
    {"part_id_max_age", FieldType::kDuration, false, "0 (no limit)",
     "a part_id_tag value received longer than this before the image is not used (a bad value never is)"},
    {"part_id_pattern", FieldType::kString, false, "<the file name's stem>",
     "regular expression; its first group in the file name is the part id (when no tag value)"},
    {"audit_rate", FieldType::kDouble, false, "0.01", "share of accepted parts also sent to the inspector (recall, escapes)"},
    {"review_budget", FieldType::kBytes, false, "256MB", "disk for images kept for review (rejected, uncertain, audited)"},
    {"journal_max", FieldType::kBytes, false, "64MB", "the inspection and label journals rotate past this size"},
    {"journal_keep", FieldType::kInt, false, "4", "rotated journal files kept"},
};

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || !std::filesystem::path(path).is_relative() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

}  // namespace

std::span<const FieldSpec> VisionSpec() { return kVisionSpec; }

Result<VisionEntry> ReadVision(const ConfigNode& table, const std::string& base_dir) {
  ConfigReader r(table, kVisionSpec);
  PF_RETURN_IF_ERROR(r.Check());
  VisionEntry e;
  e.node = &table;
  PF_ASSIGN_OR_RETURN(e.name, r.String("name"));
  if (e.name.empty() || e.name.find_first_of("/ ?#&=") != std::string::npos)
    return r.Error("name", fmt::format("'{}' cannot be a station name (not empty; no '/', ' ', '?', '#', '&', '=')", e.name));
  PF_ASSIGN_OR_RETURN(e.asset, r.String("asset"));
  PF_ASSIGN_OR_RETURN(std::string model, r.String("model", ""));
  PF_ASSIGN_OR_RETURN(std::string anomaly, r.String("anomaly", ""));
  if (model.empty() == anomaly.empty())
    return ConfigError(table, model.empty() ? "give model (classification) or anomaly (a directory from `plantfloor anomaly fit`)"
                                            : "give model or anomaly, not both");
  e.model = Resolve(model, base_dir);
  e.anomaly_dir = Resolve(anomaly, base_dir);
  PF_ASSIGN_OR_RETURN(std::string watch, r.String("watch"));
  if (watch.empty()) return r.Error("watch", "a folder is needed");
  e.station.folder.dir = Resolve(watch, base_dir);
  PF_ASSIGN_OR_RETURN(Duration settle, r.Dur("settle", std::chrono::milliseconds(500)));
  e.station.folder.settle_ms = static_cast<int>(settle.count() / 1'000'000);
  PF_ASSIGN_OR_RETURN(e.station.folder.keep_done, r.Bool("keep_done", true));

  apps::VisionOptions& o = e.inspector;
  PF_ASSIGN_OR_RETURN(std::vector<std::string> rois, r.Strings("rois"));
  for (const std::string& s : rois) {
    auto roi = apps::ParseRoi(s);
    if (!roi.ok()) return r.Error("rois", roi.status().message());
    o.rois.push_back(*roi);
  }
  PF_ASSIGN_OR_RETURN(o.good_classes, r.Strings("good_classes"));
  PF_ASSIGN_OR_RETURN(o.accept_threshold, r.Double("accept_threshold", 0.9));
  PF_ASSIGN_OR_RETURN(o.reject_threshold, r.Double("reject_threshold", 0.9));
  for (const char* k : {"accept_threshold", "reject_threshold"}) {
    const double v = std::string_view(k) == "accept_threshold" ? o.accept_threshold : o.reject_threshold;
    if (!(v > 0 && v <= 1)) return r.Error(k, fmt::format("{} is not in (0, 1]", v));
  }
  PF_ASSIGN_OR_RETURN(Duration deadline, r.Dur("deadline", Duration(0)));
  if (deadline.count() < 0) return r.Error("deadline", "cannot be negative");
  o.deadline_ms = static_cast<double>(deadline.count()) / 1e6;
  PF_ASSIGN_OR_RETURN(int64_t bits, r.Int("expect_bits", 0));
  if (bits != 0 && bits != 8 && bits != 16) return r.Error("expect_bits", fmt::format("{}: 0 (any), 8 or 16", bits));
  o.expect_bit_depth = static_cast<int>(bits);
  PF_ASSIGN_OR_RETURN(int64_t threads, r.IntIn("threads", 1, 1, 64));
  e.threads = static_cast<int>(threads);

  StationOptions& so = e.station;
  PF_ASSIGN_OR_RETURN(std::string listen, r.String("modbus_listen", ""));
  if (!listen.empty()) {
    auto hp = ParseListenAddress(listen);
    if (!hp.ok()) return r.Error("modbus_listen", hp.status().message());
    so.modbus_host = hp->first;
    so.modbus_port = hp->second;
  }
  PF_ASSIGN_OR_RETURN(so.camera.device, r.String("camera", ""));
  PF_ASSIGN_OR_RETURN(so.camera.frame_rate, r.Double("camera_fps", 0));
  if (!(so.camera.frame_rate >= 0 && so.camera.frame_rate <= 1000))
    return r.Error("camera_fps", fmt::format("{} (0..1000)", so.camera.frame_rate));
  so.camera_must_open = false;  // a plant starts without its camera and keeps trying
  PF_ASSIGN_OR_RETURN(e.part_id_tag, r.String("part_id_tag", ""));
  PF_ASSIGN_OR_RETURN(Duration max_age, r.Dur("part_id_max_age", Duration(0)));
  if (max_age.count() < 0) return r.Error("part_id_max_age", "cannot be negative");
  e.part_id_max_age_ns = max_age.count();
  PF_ASSIGN_OR_RETURN(so.part_id_pattern, r.String("part_id_pattern", ""));
  if (!so.part_id_pattern.empty())
    if (auto re = CompilePartIdPattern(so.part_id_pattern); !re.ok()) return r.Error("part_id_pattern", re.status().message());
  PF_ASSIGN_OR_RETURN(so.audit_rate, r.Double("audit_rate", 0.01));
  if (!(so.audit_rate >= 0 && so.audit_rate <= 1)) return r.Error("audit_rate", fmt::format("{} is not in [0, 1]", so.audit_rate));
  PF_ASSIGN_OR_RETURN(uint64_t budget, r.Bytes("review_budget", 256ull << 20));
  so.review_budget_bytes = static_cast<int64_t>(budget);
  PF_ASSIGN_OR_RETURN(uint64_t jmax, r.Bytes("journal_max", 64ull << 20));
  if (jmax < (1u << 20)) return r.Error("journal_max", fmt::format("{} bytes: at least 1 MiB", jmax));
  so.journal_max_bytes = static_cast<int64_t>(jmax);
  PF_ASSIGN_OR_RETURN(int64_t keep, r.IntIn("journal_keep", 4, 1, 1000));
  so.journal_keep = static_cast<int>(keep);

  auto inspector = apps::VisionInspector::Load(e.model, e.anomaly_dir, o, e.threads);
  if (!inspector.ok()) return r.Error(e.model.empty() ? "anomaly" : "model", inspector.status().message());
  e.classes = (*inspector)->classes();
  return e;
}

}  // namespace pf
