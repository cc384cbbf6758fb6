#include "connect/images/folder_source.h"

#include "core/file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/time.h"

namespace pf::images {
namespace fs = std::filesystem;

namespace {

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Result<std::unique_ptr<FolderSource>> FolderSource::Open(const FolderOptions& o) {
  if (o.settle_ms < 0) return InvalidArgument("folder: settle_ms {} must be >= 0", o.settle_ms);
  std::error_code ec;
  if (!fs::is_directory(o.dir, ec)) return NotFound("folder '{}' does not exist or is not a directory", o.dir);
  for (const char* sub : {"/.processing", "/.done"}) {
    fs::create_directories(o.dir + sub, ec);
    if (ec) return PermissionDenied("folder '{}': cannot create {} ({})", o.dir, sub + 1, ec.message());
  }
  std::unique_ptr<FolderSource> s(new FolderSource());
  s->options_ = o;
  s->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (s->inotify_fd_ < 0) return Unavailable("folder '{}': inotify: {}", o.dir, std::strerror(errno));
  if (::inotify_add_watch(s->inotify_fd_, o.dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY) < 0)
    return Unavailable("folder '{}': inotify watch: {}", o.dir, std::strerror(errno));
  s->Scan();  // after the watch: nothing written in between is missed
  return s;
}

FolderSource::~FolderSource() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

bool FolderSource::Wanted(const std::string& name) const {
  if (name.empty() || name[0] == '.') return false;
  const std::string ext = Lower(fs::path(name).extension().string());
  return std::find(options_.extensions.begin(), options_.extensions.end(), ext) != options_.extensions.end();
}

// When the file arrived, on the steady clock, from the file system's own stamps (inotify events carry
// none, and they are read only between two inspections): a file renamed in got its ctime then; a
// file written in place was born (btime, where the file system keeps it) when it was created. Not
// later than now; 0 when the file is gone.
static int64_t ArrivalMonoNs(const std::string& path, bool renamed) {
  struct statx sx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME | STATX_CTIME, &sx) != 0) return 0;
  const statx_timestamp& ts = (!renamed && (sx.stx_mask & STATX_BTIME)) ? sx.stx_btime : sx.stx_ctime;
  return WallToMonotonicNs(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

void FolderSource::Seen(const std::string& name, int64_t now, bool complete, bool renamed) {
  auto it = seen_.find(name);
  if (it == seen_.end()) {
    const int64_t arrived = ArrivalMonoNs(options_.dir + "/" + name, renamed);
    it = seen_.emplace(name, std::make_pair(arrived > 0 ? arrived : now, int64_t{0})).first;
  }
  if (complete && it->second.second == 0) it->second.second = now;
}

void FolderSource::Scan() {
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && Wanted(name)) found.emplace_back(e.last_write_time(ec), name);
  }
  std::sort(found.begin(), found.end());
  const int64_t now = MonotonicNs();
  for (const auto& [t, name] : found) {
    if (std::find(ready_.begin(), ready_.end(), name) == ready_.end()) waiting_[name] = {FileSize(options_.dir + "/" + name), now};
    Seen(name, now, false, false);
  }
}

void FolderSource::Drain() {
  alignas(inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        Scan();  // events were dropped: the folder itself is the truth
        continue;
      }
      if (ev->len == 0) continue;
      const std::string name = ev->name;
      if (!Wanted(name)) continue;
      if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        Seen(name, MonotonicNs(), true, (ev->mask & IN_MOVED_TO) != 0);
        waiting_.erase(name);
        if (std::find(ready_.begin(), ready_.end(), name) == ready_.end()) ready_.push_back(name);
      } else if (ev->mask & (IN_CREATE | IN_MODIFY)) {
        Seen(name, MonotonicNs(), false, false);
        if (std::find(ready_.begin(), ready_.end(), name) == ready_.end())
          waiting_[name] = {FileSize(options_.dir + "/" + name), MonotonicNs()};
      }
    }
  }
  // Files whose size has not changed for settle_ms are complete.
  const int64_t now = MonotonicNs();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const int64_t size = FileSize(options_.dir + "/" + it->first);
    if (size < 0) {
      seen_.erase(it->first);
      it = waiting_.erase(it);  // gone (renamed away, deleted)
      continue;
    }
    if (size != it->second.size) {
      it->second = {size, now};
    } else if (now - it->second.changed_mono_ns >= static_cast<int64_t>(options_.settle_ms) * 1'000'000) {
      Seen(it->first, now, true, false);
      ready_.push_back(it->first);
      it = waiting_.erase(it);
      continue;
    }
    ++it;
  }
}

Result<std::optional<ClaimedFile>> FolderSource::Claim(const std::string& name) {
  int64_t ns = Now().ns;
  if (ns <= last_claim_ns_) ns = last_claim_ns_ + 1;  // unique and ordered, even within one clock tick
  last_claim_ns_ = ns;
  ClaimedFile f;
  f.name = name;
  f.path = fmt::format("{}/.processing/{}-{}", options_.dir, ns, name);
  const int64_t now = MonotonicNs();
  if (auto s = seen_.find(name); s != seen_.end()) {
    f.arrived_mono_ns = s->second.first;
    f.detected_mono_ns = s->second.second ? s->second.second : now;
    seen_.erase(s);
  } else {
    f.arrived_mono_ns = f.detected_mono_ns = now;
  }
  if (::rename((options_.dir + "/" + name).c_str(), f.path.c_str()) != 0) {
    if (errno == ENOENT) return std::optional<ClaimedFile>();  // taken away before we claimed it
    return Unavailable("folder '{}': cannot claim {}: {}", options_.dir, name, std::strerror(errno));
  }
  (void)SyncDir(options_.dir + "/.processing");  // a power cut must not undo a claim whose result is journaled
  (void)SyncDir(options_.dir);
  return std::optional<ClaimedFile>(std::move(f));
}

Result<std::optional<ClaimedFile>> FolderSource::Next(std::chrono::milliseconds timeout) {
  const int64_t deadline = MonotonicNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  for (;;) {
    Drain();
    while (!ready_.empty()) {
      const std::string name = ready_.front();
      ready_.erase(ready_.begin());
      PF_ASSIGN_OR_RETURN(auto f, Claim(name));
      if (f) return f;
    }
    const int64_t left = deadline - MonotonicNs();
    if (left <= 0) return std::optional<ClaimedFile>();
    // Wake for inotify, or in time to re-check the files waiting to settle.
    int wait_ms = static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, waiting_.empty() ? 1000 : 20));
    pollfd p{inotify_fd_, POLLIN, 0};
    ::poll(&p, 1, wait_ms);
  }
}

Status FolderSource::Done(const ClaimedFile& f) {
  std::error_code ec;
  if (options_.keep_done) {
    const std::string to = options_.dir + "/.done/" + fs::path(f.path).filename().string();
    fs::rename(f.path, to, ec);
  } else {
    fs::remove(f.path, ec);
  }
  if (ec) return Unavailable("folder '{}': cannot finish {}: {}", options_.dir, f.name, ec.message());
  (void)SyncDir(options_.dir + "/.processing");  // a power cut must not undo a claim whose result is journaled
  return Status::Ok();
}

std::vector<ClaimedFile> FolderSource::Pending() const {
  std::vector<ClaimedFile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir + "/.processing", ec)) {
    const std::string file = e.path().filename().string();
    const auto dash = file.find('-');
    if (dash == std::string::npos) continue;
    ClaimedFile f;
    f.path = e.path().string();
    f.name = file.substr(dash + 1);
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const ClaimedFile& a, const ClaimedFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace pf::images
