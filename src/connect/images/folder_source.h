#pragma once
// A watched folder of images (issue 10 item 1). A file is taken only when complete: closed after
// writing (inotify IN_CLOSE_WRITE) or renamed into the folder (IN_MOVED_TO), else when its size has
// not changed for `settle_ms` (files present at start, writers that keep the file open). Hidden
// files (a leading '.', the usual temporary name before a rename) and other extensions are ignored.
//
// Exactly once across crashes: Next() claims a file by renaming it into <dir>/.processing/ (atomic
// within one file system) under a unique name "<claim ns>-<original name>"; the caller records its
// result durably and then calls Done(), which moves it to <dir>/.done/ (or deletes it). After a kill
// -9, Pending() lists what is still in .processing: the caller checks its own record and either calls
// Done() (result already recorded) or inspects it again (it never was). A file is never in the watched
// folder and .processing at once, so it is neither lost nor taken twice.
// Not thread-safe: one thread calls Next/Done.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pf::images {

struct FolderOptions {
  std::string dir;
  int settle_ms = 500;
  bool keep_done = true;  // move finished files to .done/ (false: delete them)
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"};
};

struct ClaimedFile {
  std::string path;      // in .processing/
  std::string name;      // the name it arrived with
  int64_t detected_mono_ns = 0;  // when it was seen complete (steady clock)
  int64_t arrived_mono_ns = 0;   // when it appeared (renamed in: its ctime; written in place: its btime,
                                 // else ctime), steady clock: the trigger; 0 unknown (recovered claims)
};

class FolderSource {
 public:
  // Creates .processing/ and .done/ inside dir. Errors: dir missing or not writable, inotify limits.
  static Result<std::unique_ptr<FolderSource>> Open(const FolderOptions& options);
  ~FolderSource();

  // Waits up to `timeout` for a complete file and claims it; nullopt when none became complete.
  Result<std::optional<ClaimedFile>> Next(std::chrono::milliseconds timeout);
  // The result of `f` is recorded: move it out of .processing/.
  Status Done(const ClaimedFile& f);
  // Files claimed before a crash (in .processing/), oldest claim first.
  std::vector<ClaimedFile> Pending() const;
  // Files seen but not complete yet (waiting to settle).
  size_t waiting() const { return waiting_.size(); }

 private:
  FolderSource() = default;
  bool Wanted(const std::string& name) const;
  void Scan();  // every wanted file in dir: waiting to settle
  void Drain();
  Result<std::optional<ClaimedFile>> Claim(const std::string& name);
  FolderOptions options_;
  int inotify_fd_ = -1;
  std::vector<std::string> ready_;  // complete, in arrival order
  struct Waiting {
    int64_t size = -1;
    int64_t changed_mono_ns = 0;
  };
  std::map<std::string, Waiting> waiting_;
  // name -> (first seen, seen complete), steady clock; until claimed.
  std::map<std::string, std::pair<int64_t, int64_t>> seen_;
  void Seen(const std::string& name, int64_t now, bool complete, bool renamed);
  int64_t last_claim_ns_ = 0;
};

}  // namespace pf::images
