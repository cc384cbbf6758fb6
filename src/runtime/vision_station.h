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
// The part id is the file name's stem (an upload's ?part_id=, else "upload-<sequence>"). The heartbeat
// register counts seconds while Run loops. Thread-safe: uploads and the folder loop share one lock.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "apps/vision_inspector.h"
#include "apps/vision_review.h"
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
};

struct StationCounters {
  uint64_t inspected = 0, recovered = 0, accept = 0, reject = 0, uncertain = 0, uploads = 0;
};

class VisionStation {
 public:
  static Result<std::unique_ptr<VisionStation>> Create(std::unique_ptr<apps::VisionInspector> inspector,
                                                       const StationOptions& options);
  ~VisionStation();
  int modbus_port() const { return server_ ? server_->port() : -1; }
  // Finishes what a crash left in .processing/, then inspects arriving files until `stop` is set.
  // `on_inspection` (may be empty) sees each journal line as it is written.
  Status Run(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection = {});
  // An uploaded image: inspected, journaled, on the registers; returns the journal record.
  Result<nlohmann::json> InspectUpload(std::string_view bytes, const std::string& part_id);
  // A camera frame (images::CameraSource), the same way (source "camera").
  Result<nlohmann::json> InspectFrame(const images::Image& image, const std::string& part_id);
  // The inspector's verdict on inspection `sequence`; returns the label record.
  Result<nlohmann::json> AddVerdict(uint32_t sequence, bool agree, const std::string& label, const std::string& who);
  nlohmann::json Stats() const;
  nlohmann::json Queue(size_t limit) const;
  // POST /api/v1/inspect, GET /api/v1/inspections, GET /api/v1/inspections/stats,
  // POST /api/v1/inspections/{sequence}/verdict.
  Status AddRoutes(ApiServer& api);
  StationCounters counters() const;

 private:
  VisionStation() = default;
  // What KeepForReview needs, taken under mu_ and written after it is released.
  struct ReviewJob {
    uint32_t sequence = 0;
    std::string bytes;
    std::optional<images::Image> image;
    apps::Inspection inspection;
  };
  // mu_ held. `claim` is "" for uploads and frames; `image` (a frame) replaces `bytes` when not null.
  // Fills *review when the part is kept for a person.
  Result<nlohmann::json> InspectLocked(std::string_view bytes, const images::Image* image, const std::string& name,
                                       const std::string& part_id, const std::string& claim, const std::string& source,
                                       double acquire_ms, int64_t detected_mono_ns, std::optional<ReviewJob>* review);
  Status Process(const images::ClaimedFile& f, const std::function<void(const std::string&)>& on_inspection);
  void KeepForReview(const ReviewJob& job);  // takes review_mu_
  std::unique_ptr<apps::VisionInspector> inspector_;
  std::unique_ptr<images::FolderSource> folder_;
  std::unique_ptr<modbus::RegisterMapServer> server_;
  StationOptions options_;
  std::string review_dir_;
  int journal_fd_ = -1, feedback_fd_ = -1;
  mutable std::mutex mu_;
  std::vector<uint16_t> RegistersOf(const nlohmann::json& record, const apps::VisionInspector& inspector) const;
  std::set<std::string> journaled_;  // claims found in .processing at start whose record is in the journal
  nlohmann::json last_record_;       // the newest journal record at start
  uint32_t sequence_ = 0;
  std::atomic<uint16_t> heartbeat_{0};
  StationCounters counters_;
  std::unique_ptr<apps::ReviewBook> book_;
  std::mutex review_mu_;  // the review images (written outside mu_: a 5 MP overlay must not hold up verdicts)
  std::deque<std::pair<std::string, int64_t>> review_files_;  // oldest first
  int64_t review_bytes_ = 0;
};

}  // namespace pf
