#include "runtime/vision_station.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <cctype>
#include <fstream>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "core/file.h"
#include "core/log.h"
#include "core/time.h"

namespace pf {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// Opens a journal for appending. A last line cut by a power cut is closed with a newline first, so
// the next record starts a line of its own (the torn one stays skipped).
Result<int> OpenAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable("{}: {}", path, std::strerror(errno));
  const off_t size = ::lseek(fd, 0, SEEK_END);
  char last = '\n';
  if (size > 0 && ::pread(fd, &last, 1, size - 1) == 1 && last != '\n') {
    if (::write(fd, "\n", 1) != 1 || ::fdatasync(fd) != 0) {
      ::close(fd);
      return Unavailable("{}: cannot close a torn last line: {}", path, std::strerror(errno));
    }
  }
  return fd;
}

// One line, then fdatasync: durable before anyone is told.
Status AppendLine(int fd, const std::string& path, const std::string& line) {
  const std::string rec = line + "\n";
  size_t done = 0;
  while (done < rec.size()) {
    const ssize_t n = ::write(fd, rec.data() + done, rec.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable("{}: write: {}", path, std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) return Unavailable("{}: fdatasync: {}", path, std::strerror(errno));
  return Status::Ok();
}

// Complete JSON lines of a journal; a torn line (power cut mid-write) is skipped with a warning.
std::vector<Json> ReadJournal(const std::string& path) {
  std::vector<Json> out;
  std::ifstream in(path);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    auto j = Json::parse(line, nullptr, false);
    const auto str = [&](const char* k) { return !j.contains(k) || j[k].is_string(); };
    if (j.is_discarded() || !j.is_object() || !j.contains("sequence") || !j["sequence"].is_number_unsigned() ||
        j["sequence"].get<uint64_t>() > UINT32_MAX || !str("claim") || !str("verdict") || !str("part_id") ||
        !str("class") || !str("label_given") || (j.contains("audit") && !j["audit"].is_boolean()) ||
        (j.contains("agree") && !j["agree"].is_boolean())) {
      PF_LOG_WARN("{}:{}: not a complete record, ignored", path, line_no);
      continue;
    }
    out.push_back(std::move(j));
  }
  return out;
}

// The review image's name: the sequence (sorts oldest first) and the part id, kept to file-name-safe
// characters.
std::string ReviewName(uint32_t sequence, const std::string& part_id) {
  std::string safe;
  for (char c : part_id.substr(0, 64))
    safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return safe.empty() ? fmt::format("{:010d}", sequence) : fmt::format("{:010d}_{}", sequence, safe);
}

// The newest rotated file (<path>.1) unless a crash in the middle of a rotation left it as a second
// name of the current file; a half-made <path>.new is removed.
std::vector<Json> ReadRotated(const std::string& path) {
  ::unlink((path + ".new").c_str());
  struct stat a {}, b {};
  if (::stat(path.c_str(), &a) == 0 && ::stat((path + ".1").c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    return {};
  return ReadJournal(path + ".1");
}

Json IntervalJson(const apps::Interval& i) { return {{"estimate", i.estimate}, {"low95", i.low}, {"high95", i.high}}; }

Json RecordJson(const apps::ReviewRecord& r) {
  Json j{{"sequence", r.sequence}, {"part_id", r.part_id}, {"verdict", r.verdict}, {"class", r.model_class},
         {"audit", r.audit}};
  if (r.agree) {
    j["inspector"] = {{"agree", *r.agree}, {"label", r.label}, {"good", r.truth_good.value_or(false)}};
  }
  return j;
}

}  // namespace

Result<std::unique_ptr<VisionStation>> VisionStation::Create(std::unique_ptr<apps::VisionInspector> inspector,
                                                             const StationOptions& o) {
  if (!inspector) return InvalidArgument("station: no inspector");
  if (!(o.audit_rate >= 0 && o.audit_rate <= 1)) return InvalidArgument("station: audit rate {} (0..1)", o.audit_rate);
  std::unique_ptr<VisionStation> s(new VisionStation());
  s->options_ = o;
  if (s->options_.journal.empty()) s->options_.journal = o.folder.dir + "/.plantfloor-inspections.jsonl";
  if (s->options_.feedback.empty()) s->options_.feedback = o.folder.dir + "/.plantfloor-verdicts.jsonl";
  s->review_dir_ = o.folder.dir + "/.review";
  PF_ASSIGN_OR_RETURN(s->folder_, images::FolderSource::Open(o.folder));
  std::error_code ec;
  fs::create_directories(s->review_dir_, ec);
  if (ec) return PermissionDenied("station: cannot create {} ({})", s->review_dir_, ec.message());
  if (!o.part_id_pattern.empty()) {
    PF_ASSIGN_OR_RETURN(s->part_id_re_, CompilePartIdPattern(o.part_id_pattern));
  }
  if (o.journal_max_bytes < 4096) return InvalidArgument("station: journal_max_bytes {} (at least 4096)", o.journal_max_bytes);
  if (o.journal_keep < 1) return InvalidArgument("station: journal_keep {} (at least 1)", o.journal_keep);
  s->book_ = std::make_unique<apps::ReviewBook>(inspector->options().good_classes);
  // The journals so far (the newest rotated file and the current one): which of the claims still in
  // .processing are judged, the last sequence and record, the review book.
  std::set<std::string> pending;
  for (const auto& f : s->folder_->Pending()) pending.insert(fs::path(f.path).filename().string());
  std::vector<Json> records = ReadRotated(s->options_.journal);
  for (Json& j : ReadJournal(s->options_.journal)) records.push_back(std::move(j));
  for (const Json& j : records) {
    if (!j.contains("verdict")) continue;
    if (j.contains("claim") && pending.count(j["claim"].get<std::string>())) s->journaled_.insert(j["claim"].get<std::string>());
    s->last_record_ = j;
    const auto seq = j["sequence"].get<uint32_t>();
    s->sequence_ = std::max(s->sequence_, seq);
    s->book_->AddInspection(seq, j.value("part_id", ""), j["verdict"].get<std::string>(), j.value("class", ""),
                             j.value("audit", false));
  }
  std::vector<Json> labels = ReadRotated(s->options_.feedback);
  for (Json& j : ReadJournal(s->options_.feedback)) labels.push_back(std::move(j));
  for (const Json& j : labels) {
    auto r = s->book_->AddVerdict(j["sequence"].get<uint32_t>(), j.value("agree", false), j.value("label_given", ""));
    if (!r.ok()) PF_LOG_WARN("{}: verdict on {} ignored: {}", s->options_.feedback, j["sequence"].dump(), r.status().ToString());
  }
  // Review images already kept, oldest (lowest sequence) first.
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& e : fs::directory_iterator(s->review_dir_, ec)) {
    if (e.is_regular_file()) kept.emplace_back(e.path().string(), static_cast<int64_t>(e.file_size()));
  }
  std::sort(kept.begin(), kept.end());
  for (auto& k : kept) {
    s->review_bytes_ += k.second;
    s->review_files_.push_back(std::move(k));
  }
  for (Journal* j : {&s->journal_, &s->feedback_}) {
    j->path = j == &s->journal_ ? s->options_.journal : s->options_.feedback;
    PF_ASSIGN_OR_RETURN(j->fd, OpenAppend(j->path));
    j->bytes = static_cast<int64_t>(::lseek(j->fd, 0, SEEK_END));
  }
  if (!o.camera.device.empty()) {
    auto c = images::CameraSource::Open(o.camera);
    if (c.ok()) s->camera_ = std::move(*c);
    else if (o.camera_must_open) return c.status();  // else the camera thread keeps trying
  }
  if (o.modbus_port >= 0) {
    PF_ASSIGN_OR_RETURN(s->server_, modbus::RegisterMapServer::Start(o.modbus_host, o.modbus_port, apps::kVerdictRegisters));
    // The last verdict before a restart stays on the registers (it may not have reached them).
    if (!s->last_record_.is_null()) PF_RETURN_IF_ERROR(s->server_->Set(0, s->RegistersOf(s->last_record_, *inspector)));
  }
  s->inspector_ = std::move(inspector);
  return s;
}

std::vector<uint16_t> VisionStation::RegistersOf(const Json& j, const apps::VisionInspector& inspector) const {
  // The registers of a journal record, as VerdictRegisters made them.
  apps::Inspection r;
  const std::string v = j.value("verdict", "uncertain");
  r.verdict = v == "accept" ? apps::Verdict::kAccept : v == "reject" ? apps::Verdict::kReject : apps::Verdict::kUncertain;
  r.reason = j.value("reason", "");
  r.times.total_ms = j.contains("total_ms") && j["total_ms"].is_number() ? j["total_ms"].get<double>() : 0.0;
  if (j.contains("class") && j["class"].is_string()) {
    apps::RoiResult rr;
    rr.class_name = j["class"].get<std::string>();
    const auto& cls = inspector.classes();
    const auto it = std::find(cls.begin(), cls.end(), rr.class_name);
    rr.class_index = it == cls.end() ? -1 : static_cast<int>(it - cls.begin());
    rr.confidence = j.contains("confidence") && j["confidence"].is_number() ? j["confidence"].get<double>() : 0.0;
    rr.verdict = r.verdict;
    r.rois.push_back(rr);
  }
  return apps::VerdictRegisters(j["sequence"].get<uint32_t>(), r, j.value("part_id", ""));
}

VisionStation::~VisionStation() {
  if (server_) server_->Stop();
  if (journal_.fd >= 0) ::close(journal_.fd);
  if (feedback_.fd >= 0) ::close(feedback_.fd);
}

StationCounters VisionStation::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void VisionStation::KeepForReview(const ReviewJob& job) {
  if (options_.review_budget_bytes <= 0) return;
  const uint32_t seq = job.sequence;
  const std::string_view bytes = job.bytes;
  const apps::Inspection& r = job.inspection;
  std::lock_guard<std::mutex> lock(review_mu_);
  std::string data, path;
  auto img = job.image ? Result<images::Image>(*job.image) : images::DecodeImage(bytes, "review", inspector_->options().limits);
  if (img.ok()) {
    auto png = images::EncodePng(apps::Overlay(*img, r));
    if (png.ok()) data = std::move(*png);
    path = fmt::format("{}/{}.png", review_dir_, ReviewName(seq, job.part_id));
  }
  if (data.empty()) {  // undecodable: the bytes as they came, for the person who looks
    data.assign(bytes.data(), bytes.size());
    path = fmt::format("{}/{}.bin", review_dir_, ReviewName(seq, job.part_id));
  }
  const auto size = static_cast<int64_t>(data.size());
  if (size > options_.review_budget_bytes) return;
  while (!review_files_.empty() && review_bytes_ + size > options_.review_budget_bytes) {
    std::error_code ec;
    fs::remove(review_files_.front().first, ec);
    review_bytes_ -= review_files_.front().second;
    review_files_.pop_front();
  }
  std::ofstream f(path, std::ios::binary);
  if (!(f << data) || !f.flush()) {
    PF_LOG_WARN("station: cannot keep {} for review", path);
    return;
  }
  review_files_.emplace_back(path, size);
  review_bytes_ += size;
}

Result<std::regex> CompilePartIdPattern(const std::string& pattern) {
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return InvalidArgument("'{}' is not a regular expression: {}", pattern, e.what());
  }
  if (re.mark_count() < 1) return InvalidArgument("'{}' needs a group ( ) around the part id", pattern);
  return re;
}

Status VisionStation::Rotate(Journal& j) {
  // 1. The new file first: if it cannot be made, nothing has been touched.
  const std::string fresh = j.path + ".new";
  const int nfd = ::open(fresh.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (nfd < 0) return Unavailable("{}: {}", fresh, std::strerror(errno));
  const auto abandon = [&](const std::string& why) {
    ::close(nfd);
    ::unlink(fresh.c_str());
    return Unavailable("{}", why);
  };
  // 2. Room for .1: the oldest falls off, each .k moves to .k+1 (from the oldest down, so a failure
  //    leaves a gap, never two files with one name).
  std::error_code ec;
  fs::remove(fmt::format("{}.{}", j.path, options_.journal_keep), ec);
  for (int k = options_.journal_keep - 1; k >= 1; --k) {
    const std::string from = fmt::format("{}.{}", j.path, k);
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, fmt::format("{}.{}", j.path, k + 1), ec);
    if (ec) return abandon(fmt::format("{}: {}", from, ec.message()));
  }
  // 3. The live file also as .1, then 4. the new file atomically as the current one: at every
  //    moment <path> names a complete journal, and a restart reads <path> and .1.
  if (::link(j.path.c_str(), (j.path + ".1").c_str()) != 0) return abandon(fmt::format("{}.1: {}", j.path, std::strerror(errno)));
  if (::rename(fresh.c_str(), j.path.c_str()) != 0) {
    const std::string why = fmt::format("{}: {}", j.path, std::strerror(errno));
    ::unlink((j.path + ".1").c_str());
    return abandon(why);
  }
  ::close(j.fd);
  j.fd = nfd;
  j.bytes = 0;
  ++counters_.rotations;
  if (Status d = SyncDir(fs::path(j.path).parent_path().string()); !d.ok())
    PF_LOG_WARN("station: {} rotated, directory not synced: {}", j.path, d.ToString());
  return Status::Ok();
}

Status VisionStation::Append(Journal& j, const std::string& line) {
  j.clean = true;
  if (j.fd < 0) {  // a failed write left it closed: reopen (closing a torn line)
    PF_ASSIGN_OR_RETURN(j.fd, OpenAppend(j.path));
    j.bytes = static_cast<int64_t>(::lseek(j.fd, 0, SEEK_END));
  }
  if (j.bytes > 0 && j.bytes + static_cast<int64_t>(line.size()) + 1 > options_.journal_max_bytes &&
      j.bytes >= j.next_rotate_try) {
    if (Status r = Rotate(j); !r.ok()) {
      // Written on into the current file; tried again after another eighth of the limit.
      j.next_rotate_try = j.bytes + options_.journal_max_bytes / 8;
      PF_LOG_WARN("station: cannot rotate {} ({}); writing on into it", j.path, r.ToString());
    }
  }
  if (Status st = AppendLine(j.fd, j.path, line); !st.ok()) {
    // A partial line (disk full) must not glue itself to the next record: cut back to the last
    // complete one; if that fails too, the next Append reopens the file, which closes the line (and
    // the record may then be read at a restart: its sequence is not given again).
    j.clean = ::ftruncate(j.fd, j.bytes) == 0 && ::fdatasync(j.fd) == 0;
    if (!j.clean) {
      ::close(j.fd);
      j.fd = -1;
    }
    return st;
  }
  j.bytes += static_cast<int64_t>(line.size()) + 1;
  return Status::Ok();
}

std::string VisionStation::PartId(int64_t trigger_mono_ns, const std::string& fallback, const char* fallback_from,
                                  std::string* from, const std::string& file_name) const {
  // No trigger time (a claim recovered after a restart): the tag's value now would be another part's.
  if (options_.part_id_at && trigger_mono_ns > 0) {
    if (auto v = options_.part_id_at(trigger_mono_ns); v && !v->empty()) {
      *from = "tag";
      return *v;
    }
  }
  if (part_id_re_ && !file_name.empty()) {
    std::smatch m;
    if (std::regex_search(file_name, m, *part_id_re_) && m.size() > 1 && m[1].matched && m[1].length() > 0) {
      *from = "file_pattern";
      return m[1].str();
    }
  }
  *from = fallback.empty() ? "sequence" : fallback_from;
  return fallback;
}

Result<Json> VisionStation::InspectLocked(std::string_view bytes, const images::Image* image, const std::string& name,
                                          const std::string& part_id, const std::string& part_id_from,
                                          const std::string& claim, const std::string& source, double acquire_ms,
                                          int64_t detected_mono_ns, std::optional<ReviewJob>* review) {
  apps::Inspection r = image ? inspector_->InspectImage(*image, acquire_ms) : inspector_->Inspect(bytes, name, acquire_ms);
  const uint32_t seq = ++sequence_;
  const std::string pid = part_id.empty() ? fmt::format("upload-{}", seq) : part_id;
  const bool audit = r.verdict == apps::Verdict::kAccept && apps::AuditSelected(options_.audit_seed, seq, options_.audit_rate);
  nlohmann::ordered_json j;
  j["sequence"] = seq;
  j["part_id"] = pid;
  j["part_id_source"] = part_id.empty() ? "sequence" : part_id_from;
  j["source"] = source;
  j["file"] = name;
  j["claim"] = claim;
  j["time"] = FormatRfc3339(Now());
  j["verdict"] = std::string(apps::VerdictName(r.verdict));
  const apps::RoiResult* deciding = nullptr;  // the first rejecting ROI, else the first (as the registers)
  for (const auto& roi : r.rois)
    if (!deciding && roi.verdict == apps::Verdict::kReject) deciding = &roi;
  if (!deciding && !r.rois.empty()) deciding = &r.rois.front();
  if (deciding) {
    j["class"] = deciding->class_name;
    j["confidence"] = deciding->confidence;
  }
  j["reason"] = r.reason;
  j["audit"] = audit;
  j["total_ms"] = r.times.total_ms;
  if (detected_mono_ns > 0) j["detect_to_verdict_ms"] = static_cast<double>(MonotonicNs() - detected_mono_ns) / 1e6;
  if (Status st = Append(journal_, j.dump()); !st.ok()) {  // durable before anyone sees it
    if (journal_.clean) --sequence_;  // surely not recorded: the number is given again (else a gap)
    return st;
  }
  if (!claim.empty()) journaled_.insert(claim);  // judged: a restart of Run finishes it, never judges it again
  if (server_) {
    auto regs = apps::VerdictRegisters(seq, r, pid);
    regs[apps::kHeartbeatRegister] = heartbeat_.load();  // one update for the whole map: the heartbeat stays
    if (Status st = server_->Set(0, regs); !st.ok()) PF_LOG_ERROR("station: verdict {} not on the registers: {}", seq, st.ToString());
  }
  book_->AddInspection(seq, pid, std::string(apps::VerdictName(r.verdict)), deciding ? deciding->class_name : "",
                        audit);
  ++counters_.inspected;
  ++(r.verdict == apps::Verdict::kAccept ? counters_.accept : r.verdict == apps::Verdict::kReject ? counters_.reject : counters_.uncertain);
  if ((r.verdict != apps::Verdict::kAccept || audit) && options_.review_budget_bytes > 0) {
    ReviewJob job;
    job.sequence = seq;
    job.part_id = pid;
    if (image) job.image = *image;
    else job.bytes.assign(bytes.data(), bytes.size());
    job.inspection = std::move(r);
    *review = std::move(job);
  }
  Json out = Json::parse(j.dump());
  if (options_.on_record) options_.on_record(out);
  return out;
}

Status VisionStation::Process(const images::ClaimedFile& f, const std::function<void(const std::string&)>& on_inspection) {
  const std::string claim = fs::path(f.path).filename().string();
  const auto t0 = std::chrono::steady_clock::now();
  auto bytes = ReadFileBytes(f.path);
  const double acquire = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::string line, from, part_id;
  {
    // A claim retried after a failed Run keeps the part id it was given at its arrival.
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = claim_ids_.find(claim); it != claim_ids_.end()) std::tie(part_id, from) = it->second;
  }
  if (part_id.empty()) {
    part_id = PartId(f.arrived_mono_ns, fs::path(f.name).stem().string(), "file", &from, f.name);
    std::lock_guard<std::mutex> lock(mu_);
    claim_ids_[claim] = {part_id, from};
  }
  std::optional<ReviewJob> review;
  {
    const auto t_wait = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    // Waiting for the station counts against the cycle budget like the file read.
    const double waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_wait).count();
    // An unreadable file is judged on no bytes: a decode error, "uncertain", like any bad image.
    PF_ASSIGN_OR_RETURN(Json j, InspectLocked(bytes.ok() ? std::string_view(*bytes) : std::string_view(), nullptr, f.name,
                                              part_id, from, claim, "folder", acquire + waited, f.detected_mono_ns,
                                              &review));
    line = j.dump();
  }
  if (review) KeepForReview(*review);
  if (on_inspection) on_inspection(line);
  PF_RETURN_IF_ERROR(folder_->Done(f));
  std::lock_guard<std::mutex> lock(mu_);
  journaled_.erase(claim);
  claim_ids_.erase(claim);
  return Status::Ok();
}

Result<Json> VisionStation::InspectUpload(std::string_view bytes, const std::string& given_part_id) {
  // A part id given with the upload wins; else the tag latched now, else "upload-<sequence>".
  std::string from = "upload";
  const std::string part_id = given_part_id.empty() ? PartId(MonotonicNs(), "", "upload", &from) : given_part_id;
  std::optional<ReviewJob> review;
  Result<Json> j = Internal("unset");
  {
    const auto t_wait = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    const double waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_wait).count();
    ++counters_.uploads;
    j = InspectLocked(bytes, nullptr, given_part_id.empty() ? "upload" : given_part_id, part_id, from, "", "upload", waited, 0,
                      &review);
  }
  if (review) KeepForReview(*review);
  return j;
}

Result<Json> VisionStation::InspectFrame(const images::Image& image, const std::string& frame_name, int64_t trigger_mono_ns) {
  std::string from;
  const std::string part_id = PartId(trigger_mono_ns, frame_name, "camera", &from);
  std::optional<ReviewJob> review;
  Result<Json> j = Internal("unset");
  {
    const auto t_wait = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    const double waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_wait).count();
    ++counters_.frames;
    j = InspectLocked({}, &image, frame_name, part_id, from, "", "camera", waited, 0, &review);
  }
  if (review) KeepForReview(*review);
  return j;
}

Result<Json> VisionStation::AddVerdict(uint32_t sequence, bool agree, const std::string& label, const std::string& who) {
  Json out;
  {
  std::lock_guard<std::mutex> lock(mu_);
  if (!label.empty()) {
    const auto& cls = inspector_->classes();
    if (std::find(cls.begin(), cls.end(), label) == cls.end())
      return InvalidArgument("class '{}' is not one of the model's classes", label);
  }
  PF_ASSIGN_OR_RETURN(apps::ReviewRecord r, book_->AddVerdict(sequence, agree, label));
  nlohmann::ordered_json j;
  j["sequence"] = sequence;
  j["part_id"] = r.part_id;
  j["time"] = FormatRfc3339(Now());
  j["inspector"] = who;
  j["agree"] = agree;
  j["label_given"] = label;
  j["model_verdict"] = r.verdict;
  j["model_class"] = r.model_class;
  j["label"] = r.label;
  j["good"] = r.truth_good.value_or(false);
  j["audit"] = r.audit;
  Status st = Append(feedback_, j.dump());
  if (!st.ok()) return st;  // the book has it; the next start re-reads the file (the verdict may be asked again)
  out = Json::parse(j.dump());
  }
  if (options_.on_label) {
    Status f = options_.on_label(out);
    out["forwarded"] = f.ok();
    if (!f.ok()) {
      PF_LOG_WARN("station: label on inspection {} kept in {} but not forwarded: {}", sequence, options_.feedback, f.ToString());
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.labels_not_forwarded;
    }
  }
  return out;
}

Json VisionStation::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto s = book_->ComputeStats();
  return Json{{"inspected", s.inspected},
              {"accept", s.accept},
              {"reject", s.reject},
              {"uncertain", s.uncertain},
              {"audited", s.audited},
              {"expired_from_queue", s.expired},
              {"audit_rate", options_.audit_rate},
              {"reviewed", {{"rejects", s.reviewed_rejects}, {"audits", s.reviewed_audits}, {"uncertain", s.reviewed_uncertain}}},
              {"confirmed_rejects", s.confirmed_rejects},
              {"escapes_found", s.escapes_found},
              {"uncertain_defective", s.uncertain_defective},
              {"precision", IntervalJson(s.precision)},
              {"escape_rate", IntervalJson(s.escape_rate)},
              {"estimated_escapes", IntervalJson(s.estimated_escapes)},
              {"recall", IntervalJson(s.recall)}};
}

Json VisionStation::Queue(size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  Json items = Json::array();
  for (const auto& r : book_->Queue(limit)) {
    Json j = RecordJson(r);
    for (const std::string& name : {ReviewName(r.sequence, r.part_id), fmt::format("{:010d}", r.sequence)})  // (older releases)
      for (const char* ext : {".png", ".bin"}) {
        const std::string p = fmt::format("{}/{}{}", review_dir_, name, ext);
        if (!j.contains("image") && fs::exists(p)) j["image"] = p;
      }
    items.push_back(std::move(j));
  }
  return Json{{"items", items}, {"next_cursor", nullptr}};
}

Status VisionStation::AddRoutes(ApiServer& api) {
  return AddStationRoutes(api, [this](const ApiRequest&) -> Result<VisionStation*> { return this; });
}

Status AddStationRoutes(ApiServer& api, StationPicker pick) {
  PF_RETURN_IF_ERROR(api.AddRoute(
      "POST", "/api/v1/inspect",
      [pick](const ApiRequest& req) {
        auto st = pick(req);
        if (!st.ok()) return ApiResponse::Error(st.status(), "station");
        if (req.body.empty()) return ApiResponse::Error(InvalidArgument("the request body must be the image bytes"), "body");
        auto r = (*st)->InspectUpload(req.body, req.Query("part_id").value_or(""));
        if (!r.ok()) return ApiResponse::Error(r.status());
        return ApiResponse::Json(*r);
      },
      true));
  PF_RETURN_IF_ERROR(api.AddRoute(
      "GET", "/api/v1/inspections",
      [pick](const ApiRequest& req) {
        auto st = pick(req);
        if (!st.ok()) return ApiResponse::Error(st.status(), "station");
        size_t limit = 100;
        if (auto l = req.Query("limit")) {
          char* end = nullptr;
          const long v = std::strtol(l->c_str(), &end, 10);
          if (!end || *end || v < 1 || v > 1000) return ApiResponse::Error(InvalidArgument("limit '{}' (1..1000)", *l), "limit");
          limit = static_cast<size_t>(v);
        }
        return ApiResponse::Json((*st)->Queue(limit));
      },
      false));
  PF_RETURN_IF_ERROR(api.AddRoute(
      "GET", "/api/v1/inspections/stats",
      [pick](const ApiRequest& req) {
        auto st = pick(req);
        if (!st.ok()) return ApiResponse::Error(st.status(), "station");
        return ApiResponse::Json((*st)->Stats());
      },
      false));
  PF_RETURN_IF_ERROR(api.AddRoute(
      "POST", "/api/v1/inspections/{sequence}/verdict",
      [pick](const ApiRequest& req) {
        auto st = pick(req);
        if (!st.ok()) return ApiResponse::Error(st.status(), "station");
        const std::string& id = req.Param("sequence");
        char* end = nullptr;
        const unsigned long seq = std::strtoul(id.c_str(), &end, 10);
        if (id.empty() || !end || *end || seq == 0 || seq > UINT32_MAX)
          return ApiResponse::Error(InvalidArgument("inspection id '{}' is not a sequence number", id), "sequence");
        auto body = Json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
          return ApiResponse::Error(InvalidArgument("the body must be a JSON object {{\"agree\": true|false, \"class\": \"...\"}}"), "body");
        if (!body.contains("agree") || !body["agree"].is_boolean())
          return ApiResponse::Error(InvalidArgument("'agree' must be true or false"), "agree");
        if (body.contains("class") && !body["class"].is_string())
          return ApiResponse::Error(InvalidArgument("'class' must be a string"), "class");
        if (body.contains("inspector") && !body["inspector"].is_string())
          return ApiResponse::Error(InvalidArgument("'inspector' must be a string"), "inspector");
        auto r = (*st)->AddVerdict(static_cast<uint32_t>(seq), body["agree"].get<bool>(), body.value("class", ""),
                            body.value("inspector", req.remote_addr));
        if (!r.ok()) return ApiResponse::Error(r.status());
        return ApiResponse::Json(*r, 201);
      },
      true));
  return Status::Ok();
}

void VisionStation::CameraLoop(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection) {
  // A camera that fails (unplugged, power-cycled, a GVCP timeout) is closed and reopened every 2 s;
  // the folder and uploads go on meanwhile. Each loss and recovery is reported once.
  const std::string& device = options_.camera.device;
  bool lost = false;
  int64_t retry_at = 0;
  // A camera that answers its heartbeat but sends nothing (stream broken, host address changed) is
  // lost too, when it was asked for a frame rate: after 20 frame periods, at least 5 s.
  const int64_t stall_ns =
      options_.camera.frame_rate > 0 ? std::max<int64_t>(5'000'000'000, static_cast<int64_t>(20e9 / options_.camera.frame_rate)) : 0;
  int64_t last_frame = MonotonicNs();
  const auto fail = [&](const Status& why) {
    camera_.reset();
    retry_at = MonotonicNs() + 2'000'000'000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.camera_errors;
    }
    if (!lost) {
      lost = true;
      PF_LOG_WARN("station: camera {} lost: {}", device, why.ToString());
      if (options_.on_event) options_.on_event("camera_lost", "high", fmt::format("camera {}: {}", device, why.ToString()));
    }
  };
  while (!stop.load()) {
    if (!camera_) {
      if (MonotonicNs() < retry_at) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      auto c = images::CameraSource::Open(options_.camera);
      if (!c.ok()) {
        fail(c.status());
        continue;
      }
      camera_ = std::move(*c);
      last_frame = MonotonicNs();
      if (lost) {
        lost = false;
        PF_LOG_INFO("station: camera {} restored", device);
        if (options_.on_event) options_.on_event("camera_restored", "info", fmt::format("camera {} delivers frames again", device));
      }
    }
    auto f = camera_->Next(std::chrono::milliseconds(200));
    if (!f.ok()) {
      fail(f.status());
      continue;
    }
    if (!*f) {
      if (stall_ns > 0 && MonotonicNs() - last_frame > stall_ns)
        fail(Unavailable("camera '{}': no frame for {} s at {} frames/s", device, stall_ns / 1'000'000'000, options_.camera.frame_rate));
      continue;
    }
    const int64_t now = MonotonicNs();
    last_frame = now;
    // The trigger: when the host received the frame (its wall-clock stamp), on the steady clock.
    const auto sys = static_cast<int64_t>((*f)->system_timestamp_ns);
    const int64_t trigger = sys > 0 ? WallToMonotonicNs(sys) : now;
    auto j = InspectFrame((*f)->image, fmt::format("{}-{}", device, (*f)->frame_id), trigger);
    if (!j.ok()) {  // the journal refused the record: the station cannot go on judging
      PF_LOG_ERROR("station: camera frame not journaled: {}", j.status().ToString());
      camera_status_ = j.status();
      camera_failed_.store(true);
      return;
    }
    if (on_inspection) on_inspection(j->dump());
  }
}

Status VisionStation::Run(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection) {
  // One printer at a time: the folder loop and the camera thread both report lines.
  std::mutex echo_mu;
  const std::function<void(const std::string&)> echo = [&](const std::string& line) {
    if (!on_inspection) return;
    std::lock_guard<std::mutex> lock(echo_mu);
    on_inspection(line);
  };
  camera_failed_.store(false);  // a restart after a failure begins clean
  camera_status_ = Status::Ok();
  std::atomic<bool> stop_camera{false};
  std::thread camera_thread;
  if (!options_.camera.device.empty())
    camera_thread = std::thread([&] { CameraLoop(stop_camera, echo); });
  Status st = RunFolder(stop, echo);
  stop_camera.store(true);
  if (camera_thread.joinable()) camera_thread.join();
  if (st.ok() && !camera_status_.ok()) st = camera_status_;
  return st;
}

Status VisionStation::RunFolder(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection) {
  for (const auto& f : folder_->Pending()) {
    const std::string claim = fs::path(f.path).filename().string();
    bool judged;
    {
      std::lock_guard<std::mutex> lock(mu_);
      judged = journaled_.count(claim) > 0;
      if (judged) ++counters_.recovered;
    }
    if (judged) {
      PF_RETURN_IF_ERROR(folder_->Done(f));  // inspected before the crash: finish, do not judge twice
      std::lock_guard<std::mutex> lock(mu_);
      journaled_.erase(claim);
      claim_ids_.erase(claim);
    } else {
      PF_RETURN_IF_ERROR(Process(f, on_inspection));
    }
  }
  int64_t next_beat = MonotonicNs();
  while (!stop.load() && !camera_failed_.load()) {
    if (server_ && MonotonicNs() >= next_beat) {
      std::lock_guard<std::mutex> lock(mu_);  // ordered with the verdict updates, which copy it
      PF_RETURN_IF_ERROR(server_->Set(apps::kHeartbeatRegister, {static_cast<uint16_t>(heartbeat_.load() + 1)}));
      heartbeat_.store(static_cast<uint16_t>(heartbeat_.load() + 1));
      next_beat += 1'000'000'000;
    }
    PF_ASSIGN_OR_RETURN(auto f, folder_->Next(std::chrono::milliseconds(100)));
    if (f) PF_RETURN_IF_ERROR(Process(*f, on_inspection));
  }
  return Status::Ok();
}

}  // namespace pf
