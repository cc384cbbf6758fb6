#include "store/testing/fault_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <vector>

namespace pf::store::testing {
namespace {

// One applied but unsynced change to a file, with what it replaced.
struct Change {
  bool truncate = false;
  int64_t offset = 0;     // write: first byte written; truncate: the new size
  int64_t length = 0;     // write: bytes written
  int64_t old_size = 0;   // the file's size before the change
  std::string old_bytes;  // write: bytes at [offset, ...) before; truncate: bytes at [new size, old_size)
};

// What the VFS knows about one path.
struct FileState {
  std::vector<Change> pending;  // in the order applied
  bool created_unsynced = false;  // created since its directory was last synced: may vanish
  bool deleted = false;           // unlinked (and not created again)
  // Deleted since the directory was last synced: the durable contents a cut brings back.
  std::optional<std::string> durable_before_delete;
};

constexpr int kTypeMask = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TRANSIENT_DB |
                          SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL |
                          SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL;

bool Tracked(int type) {
  return type == SQLITE_OPEN_MAIN_DB || type == SQLITE_OPEN_MAIN_JOURNAL || type == SQLITE_OPEN_SUPER_JOURNAL ||
         type == SQLITE_OPEN_WAL;
}

bool SyncsDirOnFirstSync(int flags) {
  int type = flags & kTypeMask;
  return (flags & SQLITE_OPEN_CREATE) &&
         (type == SQLITE_OPEN_MAIN_JOURNAL || type == SQLITE_OPEN_SUPER_JOURNAL || type == SQLITE_OPEN_WAL);
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Takes back `pending` (newest first) from `content`: the bytes as of the file's last sync.
void Revert(std::string& content, const std::vector<Change>& pending) {
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    const Change& c = *it;
    if (c.truncate) {
      content.resize(static_cast<size_t>(c.old_size), '\0');
      if (!c.old_bytes.empty()) content.replace(static_cast<size_t>(c.offset), c.old_bytes.size(), c.old_bytes);
    } else {
      if (!c.old_bytes.empty()) content.replace(static_cast<size_t>(c.offset), c.old_bytes.size(), c.old_bytes);
      content.resize(static_cast<size_t>(c.old_size), '\0');
    }
  }
}

}  // namespace

struct FaultVfs::Impl {
  std::string name;
  FaultVfsOptions options;
  sqlite3_vfs vfs{};
  sqlite3_vfs* base = nullptr;

  mutable std::mutex mu;
  std::map<std::string, FileState> files;
  std::mt19937_64 rng;
  uint64_t writes = 0;
  uint64_t cut_at = 0;  // 0: disarmed; else the value of `writes` that cuts
  bool cut = false;
  Status cut_status;
  PowerCutReport report;

  // The I/O below goes through the base VFS (never plain POSIX open/close, which would drop the
  // fcntl locks SQLite holds on the same file). Every handle is opened as a main database file so
  // the unix VFS does not look for the database that a WAL or journal belongs to.
  Result<std::string> ReadFile(const std::string& path) {
    std::vector<char> buf(static_cast<size_t>(base->szOsFile));
    auto* f = reinterpret_cast<sqlite3_file*>(buf.data());
    int rc = base->xOpen(base, path.c_str(), f, SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB, nullptr);
    if (rc != SQLITE_OK) {
      if (f->pMethods) f->pMethods->xClose(f);
      return Internal("faultvfs '{}': open '{}' to read: sqlite code {}", name, path, rc);
    }
    sqlite3_int64 size = 0;
    rc = f->pMethods->xFileSize(f, &size);
    std::string content(rc == SQLITE_OK ? static_cast<size_t>(size) : 0, '\0');
    if (rc == SQLITE_OK && size > 0) rc = f->pMethods->xRead(f, content.data(), static_cast<int>(size), 0);
    f->pMethods->xClose(f);
    if (rc != SQLITE_OK) return Internal("faultvfs '{}': read '{}': sqlite code {}", name, path, rc);
    return content;
  }

  Status WriteFile(const std::string& path, const std::string& content) {
    std::vector<char> buf(static_cast<size_t>(base->szOsFile));
    auto* f = reinterpret_cast<sqlite3_file*>(buf.data());
    int rc = base->xOpen(base, path.c_str(), f, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB,
                         nullptr);
    if (rc != SQLITE_OK) {
      if (f->pMethods) f->pMethods->xClose(f);
      return Internal("faultvfs '{}': open '{}' to restore: sqlite code {}", name, path, rc);
    }
    rc = f->pMethods->xTruncate(f, static_cast<sqlite3_int64>(content.size()));
    if (rc == SQLITE_OK && !content.empty())
      rc = f->pMethods->xWrite(f, content.data(), static_cast<int>(content.size()), 0);
    f->pMethods->xClose(f);
    if (rc != SQLITE_OK) return Internal("faultvfs '{}': restore '{}': sqlite code {}", name, path, rc);
    return Status::Ok();
  }

  bool Exists(const std::string& path) {
    int out = 0;
    return base->xAccess(base, path.c_str(), SQLITE_ACCESS_EXISTS, &out) == SQLITE_OK && out != 0;
  }

  // Counts a write or truncate to a tracked file; true when it is the one that cuts the power.
  bool CountWriteLocked() {
    ++writes;
    return cut_at != 0 && writes >= cut_at;
  }

  // Every creation and deletion in `dir` so far is durable.
  void DirSyncedLocked(const std::string& dir) {
    for (auto it = files.begin(); it != files.end();) {
      if (DirOf(it->first) != dir) {
        ++it;
        continue;
      }
      it->second.created_unsynced = false;
      it->second.durable_before_delete.reset();
      it = it->second.deleted ? files.erase(it) : std::next(it);
    }
  }

  // The file's contents after a cut: synced bytes, plus in torn mode a random subset of the
  // unsynced sector pieces.
  std::string AfterCut(const std::string& current, const FileState& st) {
    std::string out = current;
    Revert(out, st.pending);
    if (!options.torn) return out;
    const int64_t ss = static_cast<int64_t>(std::max<size_t>(options.sector_size, 1));
    std::set<int64_t> pieces;
    for (const Change& c : st.pending) {
      if (c.truncate || c.length == 0) continue;
      for (int64_t p = c.offset / ss; p * ss < c.offset + c.length; ++p) pieces.insert(p);
    }
    const int64_t size = static_cast<int64_t>(current.size());
    for (int64_t p : pieces) {
      int64_t begin = p * ss;
      if (begin >= size || (rng() & 1) == 0) continue;
      size_t len = static_cast<size_t>(std::min(ss, size - begin));
      if (out.size() < static_cast<size_t>(begin) + len) out.resize(static_cast<size_t>(begin) + len, '\0');
      out.replace(static_cast<size_t>(begin), len, current, static_cast<size_t>(begin), len);
      ++report.pieces_kept;
    }
    return out;
  }

  Status CutFileLocked(const std::string& path, FileState& st) {
    if (st.created_unsynced || st.deleted) {
      // The directory entry as of the last directory sync comes back: the old file or none.
      if (st.durable_before_delete) {
        PF_RETURN_IF_ERROR(WriteFile(path, *st.durable_before_delete));
        ++report.files_restored;
      } else if (Exists(path)) {
        base->xDelete(base, path.c_str(), 0);
        ++report.files_removed;
      }
      return Status::Ok();
    }
    if (st.pending.empty()) return Status::Ok();
    PF_ASSIGN_OR_RETURN(std::string current, ReadFile(path));
    std::string after = AfterCut(current, st);
    if (after != current) PF_RETURN_IF_ERROR(WriteFile(path, after));
    ++report.files_reverted;
    report.changes_reverted += st.pending.size();
    for (const Change& c : st.pending) report.bytes_reverted += static_cast<uint64_t>(c.length);
    return Status::Ok();
  }

  Status PowerCutLocked() {
    if (cut) return Status::Ok();
    cut = true;
    report = PowerCutReport{};
    Status first;
    for (auto& [path, st] : files) {
      Status s = CutFileLocked(path, st);
      if (!s.ok() && first.ok()) first = s;
      st.pending.clear();
    }
    return first;
  }

  // The durable contents of a file that is about to be unlinked (nullopt: it never durably existed).
  Result<std::optional<std::string>> DurableBeforeDeleteLocked(const std::string& path) {
    auto it = files.find(path);
    if (it != files.end() && (it->second.created_unsynced || it->second.deleted))
      return it->second.durable_before_delete;
    if (!Exists(path)) return std::optional<std::string>();
    PF_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
    if (it != files.end()) Revert(content, it->second.pending);
    return std::optional<std::string>(std::move(content));
  }
};

namespace {

using Impl = FaultVfs::Impl;

// The sqlite3_file this VFS hands out; the base VFS's file follows it in the same allocation.
struct FaultFile {
  sqlite3_file base;  // first, so sqlite3_file* and FaultFile* convert
  Impl* impl;
  std::string* path;  // tracked files only; owned
  bool dirsync_pending;
};
constexpr size_t kRealOffset = (sizeof(FaultFile) + 15) & ~size_t{15};

FaultFile* Self(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset); }

int FileClose(sqlite3_file* f) {
  sqlite3_file* real = Real(f);
  int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
  delete Self(f)->path;
  Self(f)->path = nullptr;
  return rc;
}

int FileRead(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  return Real(f)->pMethods->xRead(Real(f), buf, amount, offset);
}

int FileWrite(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  FaultFile* self = Self(f);
  Impl* impl = self->impl;
  sqlite3_file* real = Real(f);
  std::lock_guard<std::mutex> lock(impl->mu);
  if (impl->cut) return SQLITE_IOERR_WRITE;
  if (!self->path) return real->pMethods->xWrite(real, buf, amount, offset);
  if (impl->CountWriteLocked()) {
    impl->cut_status = impl->PowerCutLocked();
    return SQLITE_IOERR_WRITE;
  }
  Change c;
  c.offset = offset;
  c.length = amount;
  sqlite3_int64 size = 0;
  int rc = real->pMethods->xFileSize(real, &size);
  if (rc != SQLITE_OK) return rc;
  c.old_size = size;
  int64_t overlap = std::clamp<int64_t>(size - offset, 0, amount);
  if (overlap > 0) {
    c.old_bytes.resize(static_cast<size_t>(overlap));
    rc = real->pMethods->xRead(real, c.old_bytes.data(), static_cast<int>(overlap), offset);
    if (rc != SQLITE_OK) return rc;
  }
  rc = real->pMethods->xWrite(real, buf, amount, offset);
  // Kept even when the write failed half-way: taking it back restores the old bytes either way.
  impl->files[*self->path].pending.push_back(std::move(c));
  return rc;
}

int FileTruncate(sqlite3_file* f, sqlite3_int64 new_size) {
  FaultFile* self = Self(f);
  Impl* impl = self->impl;
  sqlite3_file* real = Real(f);
  std::lock_guard<std::mutex> lock(impl->mu);
  if (impl->cut) return SQLITE_IOERR_TRUNCATE;
  if (!self->path) return real->pMethods->xTruncate(real, new_size);
  if (impl->CountWriteLocked()) {
    impl->cut_status = impl->PowerCutLocked();
    return SQLITE_IOERR_TRUNCATE;
  }
  Change c;
  c.truncate = true;
  c.offset = new_size;
  sqlite3_int64 size = 0;
  int rc = real->pMethods->xFileSize(real, &size);
  if (rc != SQLITE_OK) return rc;
  c.old_size = size;
  if (new_size < size) {
    c.old_bytes.resize(static_cast<size_t>(size - new_size));
    rc = real->pMethods->xRead(real, c.old_bytes.data(), static_cast<int>(size - new_size), new_size);
    if (rc != SQLITE_OK) return rc;
  }
  rc = real->pMethods->xTruncate(real, new_size);
  impl->files[*self->path].pending.push_back(std::move(c));
  return rc;
}

int FileSync(sqlite3_file* f, int flags) {
  FaultFile* self = Self(f);
  Impl* impl = self->impl;
  std::lock_guard<std::mutex> lock(impl->mu);
  if (impl->cut) return SQLITE_IOERR_FSYNC;
  int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (rc != SQLITE_OK || !self->path) return rc;
  impl->files[*self->path].pending.clear();
  if (self->dirsync_pending) {
    self->dirsync_pending = false;
    impl->DirSyncedLocked(DirOf(*self->path));
  }
  return rc;
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int FileLock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int FileUnlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int FileCheckReservedLock(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
int FileControl(sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); }
int FileSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int FileDeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int FileShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int FileShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void FileShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int FileShmUnmap(sqlite3_file* f, int delete_flag) { return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag); }

// Version 2: shared memory for WAL, but no xFetch, so SQLite never maps the database file.
const sqlite3_io_methods kMethods = {
    2,          FileClose,      FileRead,     FileWrite,       FileTruncate,          FileSync,
    FileSize,   FileLock,       FileUnlock,   FileCheckReservedLock, FileControl,     FileSectorSize,
    FileDeviceCharacteristics,  FileShmMap,   FileShmLock,     FileShmBarrier,        FileShmUnmap,
    nullptr,    nullptr,
};

Impl* ImplOf(sqlite3_vfs* vfs) { return static_cast<Impl*>(vfs->pAppData); }

int VfsOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  Impl* impl = ImplOf(vfs);
  FaultFile* self = Self(file);
  self->base.pMethods = nullptr;
  self->impl = impl;
  self->path = nullptr;
  self->dirsync_pending = false;
  sqlite3_file* real = Real(file);
  real->pMethods = nullptr;
  const int type = flags & kTypeMask;
  const bool track = name != nullptr && Tracked(type);

  std::lock_guard<std::mutex> lock(impl->mu);
  const bool existed = track && impl->Exists(name);
  if (impl->cut && track && !existed) return SQLITE_CANTOPEN;
  int rc = impl->base->xOpen(impl->base, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (real->pMethods) real->pMethods->xClose(real);
    return rc;
  }
  self->base.pMethods = &kMethods;
  if (!track) return SQLITE_OK;
  self->path = new std::string(name);
  self->dirsync_pending = SyncsDirOnFirstSync(flags);
  FileState& st = impl->files[name];
  if (!existed) {
    st.pending.clear();
    st.created_unsynced = true;
    st.deleted = false;
  }
  return SQLITE_OK;
}

int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  Impl* impl = ImplOf(vfs);
  std::lock_guard<std::mutex> lock(impl->mu);
  if (impl->cut) return SQLITE_IOERR_DELETE;
  auto durable = impl->DurableBeforeDeleteLocked(name);
  if (!durable.ok()) return SQLITE_IOERR_DELETE;
  int rc = impl->base->xDelete(impl->base, name, sync_dir);
  if (rc != SQLITE_OK) return rc;
  FileState& st = impl->files[name];
  st.pending.clear();
  st.deleted = true;
  st.durable_before_delete = std::move(durable).value();
  if (sync_dir & 1) impl->DirSyncedLocked(DirOf(name));
  return SQLITE_OK;
}

int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return ImplOf(vfs)->base->xAccess(ImplOf(vfs)->base, name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return ImplOf(vfs)->base->xFullPathname(ImplOf(vfs)->base, name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) { return ImplOf(vfs)->base->xDlOpen(ImplOf(vfs)->base, name); }
void VfsDlError(sqlite3_vfs* vfs, int n, char* out) { ImplOf(vfs)->base->xDlError(ImplOf(vfs)->base, n, out); }
using DlSym = void (*)(void);
DlSym VfsDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol) {
  return ImplOf(vfs)->base->xDlSym(ImplOf(vfs)->base, handle, symbol);
}
void VfsDlClose(sqlite3_vfs* vfs, void* handle) { ImplOf(vfs)->base->xDlClose(ImplOf(vfs)->base, handle); }
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return ImplOf(vfs)->base->xRandomness(ImplOf(vfs)->base, n, out);
}
int VfsSleep(sqlite3_vfs* vfs, int micros) { return ImplOf(vfs)->base->xSleep(ImplOf(vfs)->base, micros); }
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  return ImplOf(vfs)->base->xCurrentTime(ImplOf(vfs)->base, out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return ImplOf(vfs)->base->xGetLastError(ImplOf(vfs)->base, n, out);
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* base = ImplOf(vfs)->base;
  if (base->iVersion >= 2 && base->xCurrentTimeInt64) return base->xCurrentTimeInt64(base, out);
  double days = 0;
  int rc = base->xCurrentTime(base, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

}  // namespace

Result<std::unique_ptr<FaultVfs>> FaultVfs::Register(const std::string& name, FaultVfsOptions options) {
  if (name.empty()) return InvalidArgument("faultvfs: empty VFS name");
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (!base) return FailedPrecondition("faultvfs '{}': sqlite has no default VFS to wrap", name);
  if (sqlite3_vfs_find(name.c_str())) return AlreadyExists("faultvfs '{}': a VFS of that name is registered", name);
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->options = options;
  impl->base = base;
  impl->rng.seed(options.seed);
  sqlite3_vfs& v = impl->vfs;
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(kRealOffset) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = impl->name.c_str();
  v.pAppData = impl.get();
  v.xOpen = VfsOpen;
  v.xDelete = VfsDelete;
  v.xAccess = VfsAccess;
  v.xFullPathname = VfsFullPathname;
  v.xDlOpen = VfsDlOpen;
  v.xDlError = VfsDlError;
  v.xDlSym = VfsDlSym;
  v.xDlClose = VfsDlClose;
  v.xRandomness = VfsRandomness;
  v.xSleep = VfsSleep;
  v.xCurrentTime = VfsCurrentTime;
  v.xGetLastError = VfsGetLastError;
  v.xCurrentTimeInt64 = VfsCurrentTimeInt64;
  int rc = sqlite3_vfs_register(&v, 0);
  if (rc != SQLITE_OK) return Internal("faultvfs '{}': sqlite3_vfs_register: {} (code {})", name, sqlite3_errstr(rc), rc);
  return std::unique_ptr<FaultVfs>(new FaultVfs(std::move(impl)));
}

FaultVfs::FaultVfs(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FaultVfs::~FaultVfs() { sqlite3_vfs_unregister(&impl_->vfs); }

const std::string& FaultVfs::name() const { return impl_->name; }

Status FaultVfs::PowerCut() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->PowerCutLocked();
}

void FaultVfs::CutAfterWrites(uint64_t n) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cut_at = n == 0 ? 0 : impl_->writes + n;
}

bool FaultVfs::cut() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cut;
}

Status FaultVfs::cut_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cut_status;
}

PowerCutReport FaultVfs::last_report() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->report;
}

uint64_t FaultVfs::writes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->writes;
}

uint64_t FaultVfs::unsynced_changes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  uint64_t n = 0;
  for (const auto& [path, st] : impl_->files) n += st.pending.size();
  return n;
}

void FaultVfs::Reset() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->files.clear();
  impl_->writes = 0;
  impl_->cut_at = 0;
  impl_->cut = false;
  impl_->cut_status = Status::Ok();
  impl_->report = PowerCutReport{};
}

}  // namespace pf::store::testing
