#pragma once
// The plant's store: ONE SQLite connection for the history, the events and the durable outbox,
// so that a group commit (Commit) is one transaction over all three, and one disk budget caps
// them together.
//
// Durability: with fsync (the default) a Commit that returned Ok survives a power cut
// (synchronous=FULL in WAL mode). Disk budget (disk_budget_bytes > 0): the bytes the database uses
// ((page_count - freelist_count) * page_size + the WAL file) are checked at every Commit; above
// the budget, or when the disk is full (SQLITE_FULL), records are evicted oldest first, in this
// order, until the store uses at most evict_to * budget:
//   1. history samples                 ledger reason "history_budget", upstream_loss false
//   2. outbox sample records           ledger reason "disk_budget", upstream_loss true
//   3. history events that no outbox record refers to ("history_budget", upstream_loss false),
//      then outbox event records with their events rows ("disk_budget", upstream_loss true).
// Alert, label and ledger records are never evicted before every uplink acknowledged them.
// Records every uplink already acknowledged are dropped without a ledger entry (nothing is lost).
// Each eviction round writes one LedgerEntry per (asset, tag, type, reason) into the ledger table
// and, when an uplink is registered, into the outbox as a kLedger record.
// Disk full: a ballast file "<db>.ballast" (ballast_bytes) is kept beside the database and
// deleted when SQLITE_FULL happens, so the eviction (which needs WAL space) can run; it is made
// again at a later Commit once there is room. After an eviction the WAL is checkpointed with
// TRUNCATE so the freed space is really reusable.
//
// Thread-safety: every method may be called from any thread; all share one mutex.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"
#include "store/event_store.h"
#include "store/history.h"
#include "store/outbox.h"

namespace pf {
namespace store {
struct Connection;
class Outbox;
}  // namespace store

struct StoreOptions {
  std::string path;                  // the SQLite file; created with its folder when missing
  bool fsync = true;                 // synchronous=FULL: a Commit that returned survives a power cut
  uint64_t disk_budget_bytes = 0;    // 0 = no budget (disk full is still handled)
  double evict_to = 0.9;             // eviction stops at this fraction of the budget (hysteresis)
  uint64_t ballast_bytes = 1 << 20;  // 0 = no ballast file
  Duration retention{std::chrono::hours(24 * 30)};  // of history samples (HistoryStore)
  // History staging and compaction (HistoryOptions::staging_rows): a compaction runs inside
  // Commit, as its own transaction right after the batch's, when a threshold is crossed.
  size_t staging_rows = 50000;
  Duration staging_age{std::chrono::seconds(60)};
  int wal_autocheckpoint_pages = 1000;
  size_t ack_flush_count = 256;      // outbox acknowledgements persisted in batches of this many
  Duration ack_flush_interval{std::chrono::milliseconds(100)};  // ... or at least this often
  MetricsRegistry* metrics = nullptr;  // must outlive the Store; null = no metrics
  std::string vfs;                   // sqlite VFS name, "" = default (crash tests: store/testing/fault_vfs.h)
};

// What one group-commit window hands to the store.
struct CommitBatch {
  std::vector<Sample> history;  // into the samples table
  std::vector<Sample> forward;  // into the outbox (only while at least one uplink is registered)
  std::vector<Event> events;    // into the events table and the outbox ("alert" -> kAlert,
                                // "label" -> kLabel, other kinds -> kEvent)
  // Module state (key -> value) written into the state table in the same transaction, so that
  // state and the events it produced are durable together (the alert engine's snapshot).
  std::map<std::string, std::string> state;
  bool empty() const { return history.empty() && forward.empty() && events.empty() && state.empty(); }
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();  // persists the outbox cursors
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Declares a tag (see HistoryStore::RegisterTag); samples of unregistered tags are refused.
  Status RegisterTag(const TagDef& tag);
  // One transaction (BEGIN IMMEDIATE ... COMMIT) with the whole batch, or nothing of it.
  // kFailedPrecondition: a sample of an unregistered tag; kInvalidArgument: an invalid event;
  // kAlreadyExists: a duplicate event id; kResourceExhausted: the budget or the disk is full and
  // nothing more can be evicted (keep the batch and retry later; nothing was written).
  Status Commit(const CommitBatch& batch);

  OutboxReader& outbox();
  HistoryStore& history();
  EventStore& events();
  const HistoryStore& history() const;
  const EventStore& events() const;

  // Ledger entries with ledger sequence > after_seq, oldest first (for the API and tests).
  Result<std::vector<LedgerEntry>> Ledger(uint64_t after_seq = 0, size_t limit = 1000) const;
  // The value last committed under `key` in CommitBatch::state; nullopt when never written.
  Result<std::optional<std::string>> LoadState(const std::string& key) const;
  // Every state entry whose key starts with prefix, by key.
  Result<std::vector<std::pair<std::string, std::string>>> LoadStatePrefix(const std::string& prefix) const;
  // (page_count - freelist_count) * page_size + WAL bytes.
  Result<uint64_t> BytesUsed() const;
  // Persists the outbox cursors and deletes acknowledged records now.
  Status FlushAcks();
  // Runs an eviction round now as if the budget were exceeded, down to target_bytes (tests, tools).
  Status EvictTo(uint64_t target_bytes);
  const std::string& path() const;
  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pf
