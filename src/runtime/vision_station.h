#pragma once
// VisionStation: part images to fail-safe verdicts for the PLC, and the inspector's verdicts back
// (issue 10), run by `plantfloor inspect --watch DIR`.
//   - Sources: a watched folder (FolderSource: complete files only, claimed into .processing/), HTTP
//     upload (POST /api/v1/inspect, the verdict in the answer) and camera frames (InspectFrame, fed by
//     the caller from images::CameraSource).
//   - Each inspection: apps::VisionInspector -> one line in the journal (JSON lines, fsync'd) -> the
//     verdict registers (apps::VerdictRegisters) on the read-only Modbus TCP register map the PLC polls
//     -> for a folder file, the move to .done/. Across kill -9 every folder image gets exactly one
//     journal line: claims whose line exists are finished without a second inspection.
//   - Review: rejected, uncertain and audited accepted parts (apps::AuditSelected, default 1 %) are kept
//     in <DIR>/.review/ as PNG overlays (the raw bytes when they do not decode) within a byte budget,
//     oldest first out; GET /api/v1/inspections lists those waiting for a person,
//     POST /api/v1/inspections/{sequence}/verdict takes {"agree": bool, "class": "..."}: a label line in
//     the feedback journal; GET /api/v1/inspections/stats: precision, escape rate and recall with 95 %
//     intervals (apps::ReviewBook).
//   - Journals rotate at journal_max_bytes (<journal>.1 .. .<journal_keep>); a start reads the current
//     file and .1 only (enough to finish every claim: a claim is moved to .done/ right after its line).
// The part id: with part_id_at (a PLC tag latched at the trigger: the file's detection, the upload's
// arrival, the frame's arrival) its value; else for a file the first group of part_id_pattern in its
// name, else its stem; an upload's ?part_id= (else "upload-<sequence>"); "<camera>-<frame id>". The
// record says which ("part_id_source"); review images are named "<sequence>_<part id>".
// The heartbeat register counts seconds while Run loops. Thread-safe: uploads, the camera thread and
// the folder loop share one lock.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "apps/vision_inspector.h"
#include "apps/vision_review.h"
#include "connect/images/camera_source.h"
#include "connect/images/folder_source.h"
#include "connect/modbus/modbus_server.h"
#include "core/status.h"

namespace pf {

struct StationOptions {
  images::FolderOptions folder;
  std::string journal;              // default <folder>/.plantfloor-inspections.jsonl
  std::string feedback;             // default <folder>/.plantfloor-verdicts.jsonl
  std::string modbus_host = "127.0.0.1";
  int modbus_port = -1;             // -1: no register map; 0: a free port
  double audit_rate = 0.01;
  uint64_t audit_seed = 1;
  int64_t review_budget_bytes = 256ll << 20;  // .review/ images; 0: keep none
  int64_t journal_max_bytes = 64ll << 20;     // rotate the journals past this size
  int journal_keep = 4;                       // rotated files kept per journal
  // A regular expression (ECMAScript) searched in the file name; its first group is the part id
  // ("^([A-Z0-9]+)_" takes "P1234" from "P1234_cam1.png"). No match: the file's stem.
  std::string part_id_pattern;
  images::CameraOptions camera;               // device "": no camera
  bool camera_must_open = true;               // false: a camera absent at start is retried like a lost one
  // The part id latched at the trigger (monotonic ns), e.g. the newest value of a PLC tag then;
  // nullopt: no value (the file stem etc. is used). Called outside the station's lock.
  std::function<std::optional<std::string>(int64_t trigger_mono_ns)> part_id_at;
  // Every journal record once it is durable, in sequence order (called under the station's lock:
  // keep it short; blocking here pauses the station).
  std::function<void(const nlohmann::json& record)> on_record;
  // Every inspector's label once it is in the feedback journal (outside the lock). An error is
  // logged and answered as "forwarded": false; the label stays in the journal.
  std::function<Status(const nlohmann::json& label)> on_label;
  // Station-level happenings: kind ("camera_lost", "camera_restored"), severity, message.
  std::function<void(const std::string& kind, const std::string& severity, const std::string& message)> on_event;
};

struct StationCounters {
  uint64_t inspected = 0, recovered = 0, accept = 0, reject = 0, uncertain = 0, uploads = 0, frames = 0;
  uint64_t camera_errors = 0, labels_not_forwarded = 0, rotations = 0;
};

class VisionStation {
 public:
  static Result<std::unique_ptr<VisionStation>> Create(std::unique_ptr<apps::VisionInspector> inspector,
                                                       const StationOptions& options);
  ~VisionStation();
  int modbus_port() const { return server_ ? server_->port() : -1; }
  // Finishes what a crash left in .processing/, then inspects arriving files (and camera frames, on a
  // thread of their own; a lost camera is reopened every 2 s) until `stop` is set. `on_inspection`
  // (may be empty; any thread, one at a time) sees each folder and camera journal line.
  Status Run(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection = {});
  // An uploaded image: inspected, journaled, on the registers; returns the journal record.
  Result<nlohmann::json> InspectUpload(std::string_view bytes, const std::string& part_id);
  // A camera frame (images::CameraSource), the same way (source "camera"); trigger: its arrival.
  Result<nlohmann::json> InspectFrame(const images::Image& image, const std::string& part_id, int64_t trigger_mono_ns = 0);
  // The inspector's verdict on inspection `sequence`; returns the label record.
  Result<nlohmann::json> AddVerdict(uint32_t sequence, bool agree, const std::string& label, const std::string& who);
  nlohmann::json Stats() const;
  nlohmann::json Queue(size_t limit) const;
  // POST /api/v1/inspect, GET /api/v1/inspections, GET /api/v1/inspections/stats,
  // POST /api/v1/inspections/{sequence}/verdict (AddStationRoutes for this station).
  Status AddRoutes(ApiServer& api);
  const StationOptions& options() const { return options_; }
  StationCounters counters() const;

 private:
  VisionStation() = default;
  // What KeepForReview needs, taken under mu_ and written after it is released.
  struct ReviewJob {
    uint32_t sequence = 0;
    std::string part_id;
    std::string bytes;
    std::optional<images::Image> image;
    apps::Inspection inspection;
  };
  // A journal file: appended with fdatasync, rotated past max_bytes.
  struct Journal {
    std::string path;
    int fd = -1;
    int64_t bytes = 0;
    int64_t next_rotate_try = 0;  // after a failed rotation: not before this size
    bool clean = true;            // the last failed Append left no part of its line behind
  };
  Status Append(Journal& j, const std::string& line);  // rotates first when the file is full
  Status Rotate(Journal& j);  // an error leaves the current file as it was
  // The part id for a trigger: the latched value, else the pattern's group in `file_name`, else
  // `fallback` (source named in *from).
  std::string PartId(int64_t trigger_mono_ns, const std::string& fallback, const char* fallback_from, std::string* from,
                     const std::string& file_name = "") const;
  // mu_ held. `claim` is "" for uploads and frames; `image` (a frame) replaces `bytes` when not null.
  // Fills *review when the part is kept for a person.
  Result<nlohmann::json> InspectLocked(std::string_view bytes, const images::Image* image, const std::string& name,
                                       const std::string& part_id, const std::string& part_id_from,
                                       const std::string& claim, const std::string& source, double acquire_ms,
                                       int64_t detected_mono_ns, std::optional<ReviewJob>* review);
  void CameraLoop(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection);
  Status RunFolder(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection);
  Status camera_status_ = Status::Ok();  // set by the camera thread before it ends, read after the join
  std::atomic<bool> camera_failed_{false};  // ... and this flag then, which stops the folder loop
  std::optional<std::regex> part_id_re_;   // part_id_pattern, compiled
  Status Process(const images::ClaimedFile& f, const std::function<void(const std::string&)>& on_inspection);
  void KeepForReview(const ReviewJob& job);  // takes review_mu_
  std::unique_ptr<apps::VisionInspector> inspector_;
  std::unique_ptr<images::FolderSource> folder_;
  std::unique_ptr<modbus::RegisterMapServer> server_;
  StationOptions options_;
  std::string review_dir_;
  Journal journal_, feedback_;
  mutable std::mutex mu_;
  std::vector<uint16_t> RegistersOf(const nlohmann::json& record, const apps::VisionInspector& inspector) const;
  std::set<std::string> journaled_;  // claims in .processing whose record is in the journal (not yet moved)
  std::map<std::string, std::pair<std::string, std::string>> claim_ids_;  // claim -> (part id, from) until moved
  nlohmann::json last_record_;       // the newest journal record at start
  uint32_t sequence_ = 0;
  std::atomic<uint16_t> heartbeat_{0};
  StationCounters counters_;
  std::unique_ptr<images::CameraSource> camera_;  // the camera thread only (after Create)
  std::unique_ptr<apps::ReviewBook> book_;
  std::mutex review_mu_;  // the review images (written outside mu_: a 5 MP overlay must not hold up verdicts)
  std::deque<std::pair<std::string, int64_t>> review_files_;  // oldest first
  int64_t review_bytes_ = 0;
};

// The station routes on `api`, each request served by the station `pick` returns (an error answers
// 400/404 with the field, e.g. an unknown ?station=).
// A part_id_pattern compiled; errors name the pattern ("needs a group", "is not a regular expression").
Result<std::regex> CompilePartIdPattern(const std::string& pattern);

using StationPicker = std::function<Result<VisionStation*>(const ApiRequest&)>;
Status AddStationRoutes(ApiServer& api, StationPicker pick);

}  // namespace pf
