#pragma once
// Internal to store/: HistoryStore's state, shared with Store (store/store.h), which writes history
// rows inside its own transaction. Every member function expects conn->mu to be held, except
// DeleteChunk, which takes it.
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/connection.h"
#include "store/history.h"
#include "store/sample_codec.h"

namespace pf {

struct HistoryStore::Impl {
  // Rows deleted per retention transaction: small enough that an Append waits milliseconds, not seconds.
  static constexpr int64_t kRetentionChunk = 5000;

  HistoryOptions options;
  std::shared_ptr<store::Connection> conn;    // conn->mu guards db and the maps below
  store::Database* db = nullptr;              // conn->db
  std::vector<int64_t> db_ids;                // by runtime TagId; 0 = not registered
  mutable std::unordered_map<std::string, int64_t> ids_by_name;
  std::atomic<uint64_t> written{0};
  // Staging (schema.h version 3). staged counts rows appended to `recent` since the last
  // compaction (an upper bound: retention and eviction may have deleted some); staged_since is
  // the monotonic time the oldest of them was staged; no compaction is tried before
  // compact_not_before (set after a failed one, so a full disk is not hammered every commit).
  std::atomic<uint64_t> staged{0};
  int64_t staged_since_ns = 0;
  int64_t compact_not_before_ns = 0;
  // Failed compactions are retried this long after, at the earliest.
  static constexpr int64_t kCompactRetryNs = 10'000'000'000;

  Result<int64_t> LookupTag(const std::string& name) const {
    if (auto it = ids_by_name.find(name); it != ids_by_name.end()) return it->second;
    PF_ASSIGN_OR_RETURN(store::StatementRef st, db->Prepare("SELECT id FROM tags WHERE name = ?1"));
    st->BindText(1, name);
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return NotFound("history '{}': unknown tag '{}'", options.path, name);
    int64_t id = st->Int(0);
    ids_by_name.emplace(name, id);
    return id;
  }

  Status CheckTags(std::span<const Sample> samples) const {
    for (const Sample& s : samples)
      if (s.tag >= db_ids.size() || db_ids[s.tag] == 0)
        return FailedPrecondition("history '{}': sample for TagId {} which was never registered; batch of {} not written",
                                  options.path, s.tag, samples.size());
    return Status::Ok();
  }

  bool Staging() const { return options.staging_rows > 0; }

  // Into `recent` when staging (duplicates of (tag, t) are resolved by readers and compaction),
  // else straight into samples (keep last by REPLACE).
  Status Insert(const Sample& s) {
    PF_ASSIGN_OR_RETURN(store::StatementRef st,
                        db->Prepare(Staging() ? "INSERT INTO recent(tag, t, v, q, seq, rd) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                                              : "INSERT OR REPLACE INTO samples(tag, t, v, q, seq, rd) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    st->BindInt(1, db_ids[s.tag]);
    st->BindInt(2, s.source_time.ns);
    st->BindInt(4, store::BindSampleValue(*st, 3, s.value, s.quality, s.sub));
    st->BindInt(5, static_cast<int64_t>(s.seq));
    st->BindInt(6, s.receive_time.ns - s.source_time.ns);
    return st->Run();
  }

  // After a committed append of n samples.
  void NoteAppended(size_t n) {
    if (!Staging() || n == 0) return;
    if (staged.load(std::memory_order_relaxed) == 0) staged_since_ns = MonotonicNs();
    staged.fetch_add(n, std::memory_order_relaxed);
  }

  // At open: rows a previous run left staged are compacted after staging_age at the latest.
  Status LoadStaged() {
    int64_t n = 0;
    {
      PF_ASSIGN_OR_RETURN(store::StatementRef st, db->Prepare("SELECT count(*) FROM recent"));
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) n = st->Int(0);
    }
    staged.store(static_cast<uint64_t>(n), std::memory_order_relaxed);
    staged_since_ns = MonotonicNs();
    return Status::Ok();
  }

  // Moves every staged row into samples in ONE transaction: ordered by (tag, t) so each tag's
  // leaf pages are written once, and by id within a (tag, t) so the last staged row replaces the
  // earlier ones (keep last). A crash before COMMIT leaves everything staged; after it, nothing.
  Status CompactLocked() {
    store::Transaction tx(*db);
    PF_RETURN_IF_ERROR_CTX(tx.Begin(), "history '{}': compaction", options.path);
    PF_RETURN_IF_ERROR_CTX(db->Exec("INSERT OR REPLACE INTO samples(tag, t, v, q, seq, rd) "
                                    "SELECT tag, t, v, q, seq, rd FROM recent ORDER BY tag, t, id"),
                           "history '{}': compaction", options.path);
    PF_RETURN_IF_ERROR_CTX(db->Exec("DELETE FROM recent"), "history '{}': compaction", options.path);
    PF_RETURN_IF_ERROR_CTX(tx.Commit(), "history '{}': compaction", options.path);
    staged.store(0, std::memory_order_relaxed);
    compact_not_before_ns = 0;
    return Status::Ok();
  }

  // Compacts when a threshold of HistoryOptions is crossed. A failure leaves every row staged
  // (nothing lost) and postpones the next try by kCompactRetryNs.
  Status MaybeCompactLocked() {
    uint64_t n = staged.load(std::memory_order_relaxed);
    if (!Staging() || n == 0) return Status::Ok();
    int64_t now = MonotonicNs();
    if (now < compact_not_before_ns) return Status::Ok();
    if (n <= options.staging_rows && now - staged_since_ns < options.staging_age.count()) return Status::Ok();
    Status s = CompactLocked();
    if (!s.ok()) compact_not_before_ns = now + kCompactRetryNs;
    return s;
  }

  // Deletes every staged row older than cutoff in one transaction; returns the number of
  // (tag, t) points that are gone with them (those also in samples are counted by DeleteChunk).
  Result<int64_t> DeleteStaged(Timestamp cutoff) {
    std::lock_guard lock(conn->mu);
    store::Transaction tx(*db);
    PF_RETURN_IF_ERROR(tx.Begin());
    int64_t n = 0;
    {
      PF_ASSIGN_OR_RETURN(store::StatementRef count, db->Prepare(
          "SELECT count(*) FROM (SELECT DISTINCT tag, t FROM recent WHERE t < ?1) r "
          "WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.tag = r.tag AND s.t = r.t)"));
      count->BindInt(1, cutoff.ns);
      PF_ASSIGN_OR_RETURN(bool row, count->Step());
      if (row) n = count->Int(0);
    }
    PF_ASSIGN_OR_RETURN(store::StatementRef del, db->Prepare("DELETE FROM recent WHERE t < ?1"));
    del->BindInt(1, cutoff.ns);
    PF_RETURN_IF_ERROR(del->Run());
    PF_RETURN_IF_ERROR(tx.Commit());
    return n;
  }

  // Deletes at most kRetentionChunk samples of one tag older than cutoff in one transaction.
  Result<int64_t> DeleteChunk(int64_t tag, Timestamp cutoff) {
    std::lock_guard lock(conn->mu);
    store::Transaction tx(*db);
    PF_RETURN_IF_ERROR(tx.Begin());
    PF_ASSIGN_OR_RETURN(store::StatementRef st, db->Prepare(
        "DELETE FROM samples WHERE tag = ?1 AND t IN "
        "(SELECT t FROM samples WHERE tag = ?1 AND t < ?2 ORDER BY t LIMIT ?3)"));
    st->BindInt(1, tag);
    st->BindInt(2, cutoff.ns);
    st->BindInt(3, kRetentionChunk);
    PF_RETURN_IF_ERROR(st->Run());
    int64_t n = db->Changes();
    PF_RETURN_IF_ERROR(tx.Commit());
    return n;
  }
};

}  // namespace pf
