#pragma once
// FaultVfs: a SQLite VFS for crash tests that loses, at a simulated power cut, everything the
// disk was never asked to make durable. It wraps the default ("unix") VFS: every operation goes to
// the real files at once, and the shim remembers what a power cut would take back.
//
// What is modelled (and what a real disk with a POSIX file system may do on power loss):
// - File contents. Every xWrite / xTruncate of a database, rollback journal, super-journal or WAL
//   file is applied to the real file and remembered as "unsynced" together with the bytes and size
//   it replaced. xSync of a file makes that file's pending changes durable (they are forgotten);
//   the flags (NORMAL/FULL/DATAONLY) are all treated as a full sync. Writes are remembered per path,
//   so changes made through a handle that is closed without a sync are still lost at a cut.
// - Directory entries. A file created since its directory was last synced may vanish; a file
//   deleted since then may come back with its durable contents. The directory counts as synced
//   (a) on the first xSync of a WAL / journal / super-journal file that the VFS created (the unix
//   VFS fsyncs the directory then: its UNIXFILE_DIRSYNC flag) and (b) on xDelete with syncDir set.
//   Both make every creation and deletion in that directory so far durable.
// - Torn writes (FaultVfsOptions::torn): instead of reverting all unsynced changes, every
//   sector-sized piece touched since the file's last sync independently keeps either its synced
//   bytes or its newest bytes (a random choice), and the file is as long as the last piece kept.
//   This also models the disk reordering unsynced writes. Pieces are aligned to sector_size, so
//   bytes that were synced are never damaged: the "powersafe overwrite" the unix VFS reports.
//
// Not modelled: the shared-memory wal-index (-shm, written through mmap, rebuilt by SQLite's
// recovery), temporary files (no name, deleted on close), partial sectors (garbage inside a
// sector), and metadata-only reordering between different directories.
//
// After a cut every write, truncate, sync and delete through this VFS fails with SQLITE_IOERR_*,
// so nothing the still-open connections do reaches the disk: the test closes its handles (the
// closes fail their checkpoints and leave the files as the cut left them), then reopens the files
// with the normal VFS.
//
// Thread-safety: all methods and all VFS callbacks may be called from any thread (one mutex).
// Lifetime: the FaultVfs must outlive every connection opened through it; the destructor
// unregisters the VFS.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace pf::store::testing {

struct FaultVfsOptions {
  bool torn = false;         // at a cut, keep a random subset of the unsynced sector pieces
  uint64_t seed = 1;         // drives the torn choice
  size_t sector_size = 512;  // bytes per piece in torn mode
};

// What the last PowerCut did.
struct PowerCutReport {
  size_t files_reverted = 0;      // files that had unsynced changes
  uint64_t changes_reverted = 0;  // unsynced writes and truncates taken back
  uint64_t bytes_reverted = 0;    // bytes those writes had written
  uint64_t pieces_kept = 0;       // torn mode: unsynced sector pieces that survived the cut
  size_t files_removed = 0;       // created since the last directory sync: gone
  size_t files_restored = 0;      // deleted since the last directory sync: back
};

class FaultVfs {
 public:
  // Registers a VFS named `name` (not the default) over the default VFS. Fails with
  // kAlreadyExists when a VFS of that name is registered, kFailedPrecondition without a default.
  static Result<std::unique_ptr<FaultVfs>> Register(const std::string& name, FaultVfsOptions options = {});
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  const std::string& name() const;

  // Loses power now: every unsynced change is taken back on disk, in reverse order (or torn, see
  // above), then the VFS refuses all further writes. A second call does nothing. Fails only when
  // the real files cannot be read or rewritten (the test is then broken, not the database).
  Status PowerCut();
  // Arms a cut: the n-th write or truncate from now (n >= 1) cuts the power before it is applied,
  // and it and every later write fail. n = 0 disarms.
  void CutAfterWrites(uint64_t n);
  bool cut() const;
  // The status of the cut that CutAfterWrites triggered (ok when none or when it succeeded).
  Status cut_status() const;
  PowerCutReport last_report() const;

  // Writes and truncates of database, journal and WAL files counted since Register or the last
  // Reset: those applied plus the one that cut (writes refused after the cut are not counted).
  uint64_t writes() const;
  // Writes and truncates applied but not yet synced, over all files.
  uint64_t unsynced_changes() const;

  // Forgets every file and the cut, accepting writes again. Call only after every connection
  // opened through this VFS is closed.
  void Reset();

  struct Impl;

 private:
  explicit FaultVfs(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pf::store::testing
