#include "store/store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "core/log.h"
#include "store/connection.h"
#include "store/event_rows.h"
#include "store/eviction.h"
#include "store/history_internal.h"
#include "store/outbox_impl.h"

namespace pf {
namespace {

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Writes a file of n bytes (really allocated); false (and nothing left behind) when there is no room.
bool MakeBallast(const std::string& path, uint64_t n) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::posix_fallocate(fd, 0, static_cast<off_t>(n)) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) ::unlink(path.c_str());
  return ok;
}

// Free bytes for an unprivileged writer on the file system holding path (0 when unknown).
uint64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

RecordType EventRecordType(const Event& e) {
  if (e.kind == "alert") return RecordType::kAlert;
  if (e.kind == "label") return RecordType::kLabel;
  return RecordType::kEvent;
}

}  // namespace

struct Store::Impl {
  StoreOptions options;
  std::shared_ptr<store::Connection> conn;
  std::unique_ptr<HistoryStore> history;
  std::unique_ptr<EventStore> events;
  std::unique_ptr<store::Outbox> outbox;
  std::string ballast_path;
  bool ballast_present = false;
  std::array<Counter*, 6> evicted_total{};  // by RecordType value
  Counter* ledger_total = nullptr;
  Counter* ballast_released = nullptr;

  Result<uint64_t> BytesUsedLocked() {
    PF_ASSIGN_OR_RETURN(uint64_t pages, store::PageBytesInUse(*conn->db));
    return pages + FileSize(options.path + "-wal");
  }

  void EnsureBallastLocked() {
    if (options.ballast_bytes == 0 || ballast_present) return;
    // The space an eviction gave back (WAL truncated) is taken again as the reserve for the next
    // disk-full episode: without it a WAL that cannot be checkpointed (the database file cannot
    // grow) and an eviction that cannot write its WAL would block each other.
    if (FreeBytes(options.path) < options.ballast_bytes + (64 << 10)) return;
    ballast_present = MakeBallast(ballast_path, options.ballast_bytes);
    if (ballast_present) PF_LOG_DEBUG("store '{}': ballast file {} restored", options.path, ballast_path);
  }

  void DropBallastLocked() {
    if (!ballast_present) return;
    ::unlink(ballast_path.c_str());
    ballast_present = false;
    if (ballast_released) ballast_released->Inc();
    PF_LOG_WARN("store '{}': disk full: ballast file {} deleted to make room for eviction", options.path,
                ballast_path);
  }

  // Evicts down to target; counts what went.
  Result<store::EvictionResult> EvictLocked(uint64_t target) {
    PF_ASSIGN_OR_RETURN(store::EvictionResult r, store::Evict(*conn->db, *outbox, target, Now()));
    for (size_t t = 1; t < r.evicted_by_type.size(); ++t)
      if (evicted_total[t] && r.evicted_by_type[t]) evicted_total[t]->Inc(r.evicted_by_type[t]);
    if (ledger_total) ledger_total->Inc(r.entries.size());
    for (const LedgerEntry& e : r.entries)
      PF_LOG_WARN("store '{}': evicted {} {} record(s) of '{}'{} from {} to {} ({}{})", options.path, e.count,
                  RecordTypeName(e.evicted_type), e.asset, e.tag.empty() ? "" : "/" + e.tag, FormatRfc3339(e.from),
                  FormatRfc3339(e.to), e.reason, e.upstream_loss ? ", lost upstream" : "");
    return r;
  }

  uint64_t Target() const {
    return static_cast<uint64_t>(static_cast<double>(options.disk_budget_bytes) * options.evict_to);
  }

  // Before writing: an exceeded budget must be brought back first, or the batch is refused.
  Status MakeRoomLocked(const CommitBatch& batch) {
    if (options.disk_budget_bytes == 0) return Status::Ok();
    PF_ASSIGN_OR_RETURN(uint64_t used, BytesUsedLocked());
    if (used <= options.disk_budget_bytes) return Status::Ok();
    PF_ASSIGN_OR_RETURN(store::EvictionResult r, EvictLocked(Target()));
    if (r.in_use_after <= options.disk_budget_bytes) return Status::Ok();
    return ResourceExhausted(
        "store '{}': disk budget of {} bytes reached ({} in use) and nothing more can be evicted (alerts, labels "
        "and ledger entries wait for every uplink's acknowledgement); batch of {} history samples, {} forwarded "
        "samples, {} events not written",
        options.path, options.disk_budget_bytes, r.in_use_after, batch.history.size(), batch.forward.size(),
        batch.events.size());
  }

  void CheckpointLocked() {
    int log = 0, done = 0;
    sqlite3_wal_checkpoint_v2(conn->db->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
  }

  // The disk (not the budget) is full: the WAL's space is given back first, then the oldest
  // records go in small rounds, each committed and checkpointed, because a round needs about as
  // much free WAL space as it evicts. Stops at evict_to of the pages in use.
  Status EvictForDiskFullLocked() {
    constexpr uint64_t kStep = 128 << 10;
    CheckpointLocked();
    PF_ASSIGN_OR_RETURN(uint64_t pages, store::PageBytesInUse(*conn->db));
    const uint64_t goal = static_cast<uint64_t>(static_cast<double>(pages) * options.evict_to);
    bool any = false;
    while (pages > goal) {
      uint64_t target = pages > goal + kStep ? pages - kStep : goal;
      auto r = EvictLocked(target);
      if (!r.ok()) {
        if (any) break;  // some room was made; the retried commit shows whether it is enough
        return r.status();
      }
      any = true;
      if (r->in_use_after >= pages) break;  // nothing left that may be evicted
      pages = r->in_use_after;
    }
    return Status::Ok();
  }

  Status WriteLocked(const CommitBatch& batch) {
    HistoryStore::Impl& h = *history->impl_;
    store::Database& db = *conn->db;
    Timestamp now = Now();
    bool queue = outbox->HasUplinksLocked();
    store::Transaction tx(db);
    PF_RETURN_IF_ERROR(tx.Begin());
    for (const Sample& s : batch.history) PF_RETURN_IF_ERROR(h.Insert(s));
    if (queue)
      for (const Sample& s : batch.forward) PF_RETURN_IF_ERROR(outbox->EnqueueSampleLocked(h.db_ids[s.tag], s, now));
    for (const Event& e : batch.events) {
      PF_RETURN_IF_ERROR(store::InsertEventRow(db, e));
      if (queue) PF_RETURN_IF_ERROR(outbox->EnqueueEventLocked(e, EventRecordType(e), now));
    }
    if (!batch.state.empty()) {
      PF_ASSIGN_OR_RETURN(store::StatementRef st,
                          db.Prepare("INSERT INTO state(key, value) VALUES(?1, ?2) "
                                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
      for (const auto& [key, value] : batch.state) {
        st->Reset();
        st->BindText(1, key);
        st->BindText(2, value);
        PF_RETURN_IF_ERROR_CTX(st->Run(), "state '{}'", key);
      }
    }
    PF_RETURN_IF_ERROR(tx.Commit());
    h.written.fetch_add(batch.history.size(), std::memory_order_relaxed);
    h.NoteAppended(batch.history.size());
    return Status::Ok();
  }

  Status CommitLocked(const CommitBatch& batch) {
    EnsureBallastLocked();
    PF_RETURN_IF_ERROR(MakeRoomLocked(batch));
    Status s = WriteLocked(batch);
    if (s.code() == StatusCode::kResourceExhausted) {  // SQLITE_FULL: the disk, not the budget
      DropBallastLocked();
      Status r = EvictForDiskFullLocked();
      if (!r.ok()) return r.WithContext(fmt::format("store '{}': disk full, commit not written", options.path));
      s = WriteLocked(batch);
      if (!s.ok()) return s.WithContext(fmt::format("store '{}': disk full even after eviction, commit not written", options.path));
    }
    if (!s.ok()) return s.WithContext(fmt::format("store '{}': commit", options.path));
    if (options.disk_budget_bytes > 0) {
      PF_ASSIGN_OR_RETURN(uint64_t used, BytesUsedLocked());
      if (used > options.disk_budget_bytes) {
        auto r = EvictLocked(Target());  // the commit is durable; a failure here shows at the next one
        if (!r.ok()) PF_LOG_WARN("store '{}': eviction after commit: {}", options.path, r.status().ToString());
      }
    }
    // Compaction is its own transaction right after the commit, on this thread: the commit is
    // durable whatever happens to it, and a failed one leaves the rows staged (retried later).
    if (Status c = history->impl_->MaybeCompactLocked(); !c.ok())
      PF_LOG_WARN("store '{}': {}", options.path, c.ToString());
    if (Status f = outbox->MaybeFlushLocked(); !f.ok())
      PF_LOG_WARN("store '{}': outbox flush: {}", options.path, f.ToString());
    return Status::Ok();
  }

  void RegisterMetrics(Store* owner) {
    MetricsRegistry* m = options.metrics;
    if (!m) return;
    for (RecordType t : {RecordType::kSample, RecordType::kEvent, RecordType::kAlert, RecordType::kLabel,
                         RecordType::kLedger})
      evicted_total[static_cast<size_t>(t)] = &m->GetCounter(
          "pf_outbox_evicted_total", "records evicted by the disk budget", {{"type", std::string(RecordTypeName(t))}});
    ledger_total = &m->GetCounter("pf_ledger_entries_total", "loss-ledger entries written");
    ballast_released = &m->GetCounter("pf_store_ballast_released_total",
                                      "times the ballast file was deleted because the disk was full");
    m->GetGauge("pf_store_budget_bytes", "the store's disk budget (0 = none)")
        .Set(static_cast<double>(options.disk_budget_bytes));
    m->GaugeCallback("pf_store_bytes", "bytes the store uses: pages in use plus the WAL", {},
                     [this] {
                       std::lock_guard lock(conn->mu);
                       auto used = BytesUsedLocked();
                       return used.ok() ? static_cast<double>(*used) : 0.0;
                     },
                     owner);
    m->GaugeCallback("pf_outbox_bytes", "approximate bytes of the records in the outbox", {},
                     [this] {
                       std::lock_guard lock(conn->mu);
                       return static_cast<double>(outbox->TotalBytesLocked());
                     },
                     owner);
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (impl_->options.metrics) impl_->options.metrics->RemoveCallbacks(this);
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.evict_to <= 0 || options.evict_to > 1)
    return InvalidArgument("store '{}': evict_to must be in (0, 1], got {}", options.path, options.evict_to);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->conn = std::make_shared<store::Connection>();
  PF_ASSIGN_OR_RETURN(impl->conn->db,
                      store::Database::Open({.path = options.path, .synchronous_full = options.fsync, .vfs = options.vfs}));
  PF_RETURN_IF_ERROR(impl->conn->db->Exec(fmt::format("PRAGMA wal_autocheckpoint={}", options.wal_autocheckpoint_pages)));
  PF_ASSIGN_OR_RETURN(impl->history, HistoryStore::OpenShared(impl->conn, {.path = options.path,
                                                                          .retention = options.retention,
                                                                          .fsync_each_commit = options.fsync,
                                                                          .staging_rows = options.staging_rows,
                                                                          .staging_age = options.staging_age}));
  PF_ASSIGN_OR_RETURN(impl->events, EventStore::OpenShared(impl->conn));
  PF_ASSIGN_OR_RETURN(impl->outbox, store::Outbox::Open(impl->conn, {.path = options.path,
                                                                     .ack_flush_count = options.ack_flush_count,
                                                                     .ack_flush_interval = options.ack_flush_interval,
                                                                     .metrics = options.metrics}));
  impl->ballast_path = options.path + ".ballast";
  impl->ballast_present = options.ballast_bytes > 0 && FileSize(impl->ballast_path) >= options.ballast_bytes;
  {
    std::lock_guard lock(impl->conn->mu);
    impl->EnsureBallastLocked();
  }
  std::unique_ptr<Store> store(new Store(std::move(impl)));
  store->impl_->RegisterMetrics(store.get());
  return store;
}

Status Store::RegisterTag(const TagDef& tag) { return impl_->history->RegisterTag(tag); }

Status Store::Commit(const CommitBatch& batch) {
  if (batch.empty()) return Status::Ok();
  for (const Event& e : batch.events) PF_RETURN_IF_ERROR_CTX(store::ValidateEvent(e), "store '{}': commit", impl_->options.path);
  std::lock_guard lock(impl_->conn->mu);
  HistoryStore::Impl& h = *impl_->history->impl_;
  PF_RETURN_IF_ERROR(h.CheckTags(batch.history));
  PF_RETURN_IF_ERROR(h.CheckTags(batch.forward));
  return impl_->CommitLocked(batch);
}

OutboxReader& Store::outbox() { return *impl_->outbox; }
HistoryStore& Store::history() { return *impl_->history; }
EventStore& Store::events() { return *impl_->events; }
const HistoryStore& Store::history() const { return *impl_->history; }
const EventStore& Store::events() const { return *impl_->events; }
const std::string& Store::path() const { return impl_->options.path; }

Result<std::vector<LedgerEntry>> Store::Ledger(uint64_t after_seq, size_t limit) const {
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(store::StatementRef st,
                      impl_->conn->db->Prepare(std::string("SELECT ") + store::kLedgerColumns +
                                               " FROM ledger WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
  st->BindInt(1, static_cast<int64_t>(after_seq));
  st->BindInt(2, static_cast<int64_t>(std::min<size_t>(limit, 1 << 30)));
  std::vector<LedgerEntry> out;
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return out;
    out.push_back(store::ReadLedgerRow(*st));
  }
}

Result<std::optional<std::string>> Store::LoadState(const std::string& key) const {
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(store::StatementRef st, impl_->conn->db->Prepare("SELECT value FROM state WHERE key = ?1"));
  st->BindText(1, key);
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Result<std::vector<std::pair<std::string, std::string>>> Store::LoadStatePrefix(const std::string& prefix) const {
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(store::StatementRef st,
                      impl_->conn->db->Prepare("SELECT key, value FROM state WHERE substr(key, 1, ?2) = ?1 ORDER BY key"));
  st->BindText(1, prefix);
  st->BindInt(2, static_cast<int64_t>(prefix.size()));
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.emplace_back(st->Text(0), st->Text(1));
  }
  return out;
}

Result<uint64_t> Store::BytesUsed() const {
  std::lock_guard lock(impl_->conn->mu);
  return impl_->BytesUsedLocked();
}

Status Store::FlushAcks() { return impl_->outbox->Flush(); }

Status Store::EvictTo(uint64_t target_bytes) {
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(store::EvictionResult r, impl_->EvictLocked(target_bytes));
  (void)r;
  return Status::Ok();
}

}  // namespace pf
