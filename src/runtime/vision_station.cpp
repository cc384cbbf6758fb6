#include "runtime/vision_station.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/log.h"
#include "core/time.h"

namespace pf {
namespace fs = std::filesystem;

Result<std::unique_ptr<VisionStation>> VisionStation::Create(std::unique_ptr<apps::VisionInspector> inspector,
                                                             const StationOptions& o) {
  if (!inspector) return InvalidArgument("station: no inspector");
  std::unique_ptr<VisionStation> s(new VisionStation());
  s->options_ = o;
  if (s->options_.journal.empty()) s->options_.journal = o.folder.dir + "/.plantfloor-inspections.jsonl";
  PF_ASSIGN_OR_RETURN(s->folder_, images::FolderSource::Open(o.folder));
  // The journal so far: which claims are already inspected, and the last sequence number.
  {
    std::ifstream in(s->options_.journal);
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      auto j = nlohmann::json::parse(line, nullptr, false);
      // A torn last line (power cut mid-write) is not a record: that image is inspected again.
      if (j.is_discarded() || !j.contains("claim") || !j.contains("sequence")) {
        PF_LOG_WARN("station journal {}:{}: not a complete record, ignored", s->options_.journal, line_no);
        continue;
      }
      s->journaled_.insert(j["claim"].get<std::string>());
      s->sequence_ = std::max<uint32_t>(s->sequence_, j["sequence"].get<uint32_t>());
    }
  }
  s->journal_fd_ = ::open(s->options_.journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (s->journal_fd_ < 0) return Unavailable("station journal {}: {}", s->options_.journal, std::strerror(errno));
  if (o.modbus_port >= 0) {
    PF_ASSIGN_OR_RETURN(s->server_, modbus::RegisterMapServer::Start(o.modbus_host, o.modbus_port, apps::kVerdictRegisters));
  }
  s->inspector_ = std::move(inspector);
  return s;
}

VisionStation::~VisionStation() {
  if (server_) server_->Stop();
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

Status VisionStation::AppendJournal(const std::string& line) {
  const std::string rec = line + "\n";
  size_t done = 0;
  while (done < rec.size()) {
    const ssize_t n = ::write(journal_fd_, rec.data() + done, rec.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable("station journal {}: write: {}", options_.journal, std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(journal_fd_) != 0) return Unavailable("station journal {}: fdatasync: {}", options_.journal, std::strerror(errno));
  return Status::Ok();
}

Status VisionStation::Process(const images::ClaimedFile& f, const std::function<void(const std::string&)>& on_inspection) {
  const std::string claim = fs::path(f.path).filename().string();
  const auto t0 = std::chrono::steady_clock::now();
  auto bytes = ReadFileBytes(f.path);
  const double acquire = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  apps::Inspection r;
  if (!bytes.ok()) {
    r.reason = "acquire error: " + std::string(bytes.status().message());
  } else {
    r = inspector_->Inspect(*bytes, f.name, acquire);
  }
  const std::string part_id = fs::path(f.name).stem().string();
  const uint32_t seq = ++sequence_;
  nlohmann::ordered_json j;
  j["sequence"] = seq;
  j["part_id"] = part_id;
  j["file"] = f.name;
  j["claim"] = claim;
  j["time"] = FormatRfc3339(Now());
  j["verdict"] = std::string(apps::VerdictName(r.verdict));
  if (!r.rois.empty()) {
    j["class"] = r.rois.front().class_name;
    j["confidence"] = r.rois.front().confidence;
  }
  j["reason"] = r.reason;
  j["total_ms"] = r.times.total_ms;
  if (f.detected_mono_ns > 0) j["detect_to_verdict_ms"] = static_cast<double>(MonotonicNs() - f.detected_mono_ns) / 1e6;
  const std::string line = j.dump();
  PF_RETURN_IF_ERROR(AppendJournal(line));  // durable before anything else sees it
  journaled_.insert(claim);
  if (server_) PF_RETURN_IF_ERROR(server_->Set(0, apps::VerdictRegisters(seq, r, part_id)));
  ++counters_.inspected;
  ++(r.verdict == apps::Verdict::kAccept ? counters_.accept : r.verdict == apps::Verdict::kReject ? counters_.reject : counters_.uncertain);
  if (on_inspection) on_inspection(line);
  return folder_->Done(f);
}

Status VisionStation::Run(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection) {
  for (const auto& f : folder_->Pending()) {
    const std::string claim = fs::path(f.path).filename().string();
    if (journaled_.count(claim)) {
      ++counters_.recovered;
      PF_RETURN_IF_ERROR(folder_->Done(f));  // inspected before the crash: finish, do not judge twice
    } else {
      PF_RETURN_IF_ERROR(Process(f, on_inspection));
    }
  }
  int64_t next_beat = MonotonicNs();
  uint16_t beat = 0;
  while (!stop.load()) {
    if (server_ && MonotonicNs() >= next_beat) {
      PF_RETURN_IF_ERROR(server_->Set(apps::kHeartbeatRegister, {beat++}));
      next_beat += 1'000'000'000;
    }
    PF_ASSIGN_OR_RETURN(auto f, folder_->Next(std::chrono::milliseconds(100)));
    if (f) PF_RETURN_IF_ERROR(Process(*f, on_inspection));
  }
  return Status::Ok();
}

}  // namespace pf
