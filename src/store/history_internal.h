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

  Status Insert(const Sample& s) {
    PF_ASSIGN_OR_RETURN(store::StatementRef st,
                        db->Prepare("INSERT OR REPLACE INTO samples(tag, t, v, q, seq, rd) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    st->BindInt(1, db_ids[s.tag]);
    st->BindInt(2, s.source_time.ns);
    st->BindInt(4, store::BindSampleValue(*st, 3, s.value, s.quality, s.sub));
    st->BindInt(5, static_cast<int64_t>(s.seq));
    st->BindInt(6, s.receive_time.ns - s.source_time.ns);
    return st->Run();
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
