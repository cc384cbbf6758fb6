#include "store/eviction.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace pf::store {
namespace {

constexpr int64_t kOutboxChunk = 1000;
constexpr int64_t kEventChunk = 200;
constexpr int kHistorySteps = 16;  // history is cut in this many time slices at most per round

RecordType TypeOfKind(const std::string& kind) {
  if (kind == "alert") return RecordType::kAlert;
  if (kind == "label") return RecordType::kLabel;
  return RecordType::kEvent;
}

Result<int64_t> QueryInt(Database& db, const char* sql) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(sql));
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->Int(0) : 0;
}

class Evictor {
 public:
  Evictor(Database& db, Outbox& outbox, uint64_t target, Timestamp now)
      : db_(db), outbox_(outbox), target_(target), now_(now) {}

  Result<EvictionResult> Run() {
    Transaction tx(db_);
    PF_RETURN_IF_ERROR(tx.Begin());
    for (;;) {
      PF_ASSIGN_OR_RETURN(uint64_t used, PageBytesInUse(db_));
      result_.in_use_after = used;
      if (used <= target_) {
        result_.reached_target = true;
        break;
      }
      PF_ASSIGN_OR_RETURN(bool more, Step());
      if (!more) break;
    }
    PF_RETURN_IF_ERROR(WriteLedger());
    PF_RETURN_IF_ERROR(tx.Commit());
    outbox_.OnEvictedLocked(evicted_ids_);
    int log = 0, done = 0;
    // Busy only when another connection reads; then the WAL is reused later instead.
    sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    return std::move(result_);
  }

 private:
  struct Key {
    std::string asset, tag;
    RecordType type;
    std::string reason;
    auto operator<=>(const Key&) const = default;
  };

  // One chunk of the first class that still has something; false when nothing is left.
  Result<bool> Step() {
    PF_ASSIGN_OR_RETURN(bool did, HistorySamples());
    if (did) return true;
    PF_ASSIGN_OR_RETURN(did, OutboxRecords(RecordType::kSample));
    if (did) return true;
    PF_ASSIGN_OR_RETURN(did, HistoryEvents());
    if (did) return true;
    return OutboxRecords(RecordType::kEvent);
  }

  void Account(const Key& key, Timestamp from, Timestamp to, uint64_t count, uint64_t first, uint64_t last) {
    auto [it, fresh] = groups_.try_emplace(key);
    LedgerEntry& e = it->second;
    if (fresh) {
      e.asset = key.asset;
      e.tag = key.tag;
      e.evicted_type = key.type;
      e.reason = key.reason;
      e.upstream_loss = key.reason == "disk_budget";
      e.from = from;
      e.to = to;
      e.first_record = first;
      e.last_record = last;
    } else {
      e.from = std::min(e.from, from);
      e.to = std::max(e.to, to);
      if (first != 0) e.first_record = e.first_record == 0 ? first : std::min(e.first_record, first);
      e.last_record = std::max(e.last_record, last);
    }
    e.count += count;
    if (e.upstream_loss) result_.evicted_by_type[static_cast<size_t>(key.type)] += count;
  }

  // History samples with t < cutoff for every tag; the cutoff moves forward one slice per call.
  Result<bool> HistorySamples() {
    if (history_done_) return false;
    if (tags_.empty()) {
      PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare("SELECT id, name, asset FROM tags ORDER BY id"));
      for (;;) {
        PF_ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        tags_.push_back({st->Int(0), st->Text(1), st->Text(2)});
      }
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (const TagRow& t : tags_) {
        PF_ASSIGN_OR_RETURN(StatementRef mm, db_.Prepare("SELECT min(t), max(t) FROM samples WHERE tag = ?1"));
        mm->BindInt(1, t.id);
        PF_ASSIGN_OR_RETURN(bool row, mm->Step());
        if (!row || mm->IsNull(0)) continue;
        lo = std::min(lo, mm->Int(0));
        hi = std::max(hi, mm->Int(1));
      }
      PF_ASSIGN_OR_RETURN(StatementRef staged, db_.Prepare("SELECT min(t), max(t) FROM recent"));
      PF_ASSIGN_OR_RETURN(bool staged_row, staged->Step());
      if (staged_row && !staged->IsNull(0)) {
        lo = std::min(lo, staged->Int(0));
        hi = std::max(hi, staged->Int(1));
      }
      if (lo > hi) {
        history_done_ = true;
        return false;
      }
      cutoff_ = lo;
      last_ = hi;
      slice_ = std::max<int64_t>(1, (hi - lo) / kHistorySteps + 1);
    }
    if (cutoff_ > last_) {
      history_done_ = true;
      return false;
    }
    cutoff_ = cutoff_ > last_ - slice_ ? last_ + 1 : cutoff_ + slice_;
    PF_ASSIGN_OR_RETURN(bool any, StagedSamples());
    for (const TagRow& t : tags_) {
      PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
          "SELECT count(*), min(t), max(t) FROM samples WHERE tag = ?1 AND t < ?2"));
      st->BindInt(1, t.id);
      st->BindInt(2, cutoff_);
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row || st->Int(0) == 0) continue;
      Account({t.asset, t.name, RecordType::kSample, "history_budget"}, Timestamp::FromNs(st->Int(1)),
              Timestamp::FromNs(st->Int(2)), static_cast<uint64_t>(st->Int(0)), 0, 0);
      PF_ASSIGN_OR_RETURN(StatementRef del, db_.Prepare("DELETE FROM samples WHERE tag = ?1 AND t < ?2"));
      del->BindInt(1, t.id);
      del->BindInt(2, cutoff_);
      PF_RETURN_IF_ERROR(del->Run());
      any = true;
    }
    return any || cutoff_ <= last_;
  }

  // Staged history rows (schema.h version 3) with t < cutoff_, one scan of `recent` for all tags.
  // Must run before the clustered rows of the same slice are deleted: a (tag, t) also in samples
  // is accounted there, so only the distinct staged points samples lacks are counted here.
  Result<bool> StagedSamples() {
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
        "SELECT r.tag, count(*), min(r.t), max(r.t) FROM (SELECT DISTINCT tag, t FROM recent WHERE t < ?1) r "
        "WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.tag = r.tag AND s.t = r.t) GROUP BY r.tag"));
    st->BindInt(1, cutoff_);
    for (;;) {
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      auto tag = std::find_if(tags_.begin(), tags_.end(), [&](const TagRow& t) { return t.id == st->Int(0); });
      if (tag == tags_.end()) continue;  // tags rows are never deleted; a staged row always has one
      Account({tag->asset, tag->name, RecordType::kSample, "history_budget"}, Timestamp::FromNs(st->Int(2)),
              Timestamp::FromNs(st->Int(3)), static_cast<uint64_t>(st->Int(1)), 0, 0);
    }
    PF_ASSIGN_OR_RETURN(StatementRef del, db_.Prepare("DELETE FROM recent WHERE t < ?1"));
    del->BindInt(1, cutoff_);
    PF_RETURN_IF_ERROR(del->Run());
    return db_.Changes() > 0;
  }

  // The oldest chunk of outbox records of one type (kSample or kEvent), with their event rows.
  Result<bool> OutboxRecords(RecordType type) {
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
        "SELECT o.id, o.t, o.ref, coalesce(g.name, ''), coalesce(g.asset, e.asset, ''), coalesce(e.end_ns, o.t) "
        "FROM outbox o LEFT JOIN tags g ON g.id = o.tag LEFT JOIN events e ON e.id = o.ref "
        "WHERE o.type = ?1 ORDER BY o.id LIMIT ?2"));
    st->BindInt(1, static_cast<int64_t>(type));
    st->BindInt(2, type == RecordType::kSample ? kOutboxChunk : kEventChunk);
    struct Row {
      int64_t id, t, end;
      std::string ref, tag, asset;
    };
    std::vector<Row> rows;
    for (;;) {
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      rows.push_back({st->Int(0), st->Int(1), st->Int(5), st->Text(2), st->Text(3), st->Text(4)});
    }
    if (rows.empty()) return false;
    for (const Row& r : rows) {
      PF_ASSIGN_OR_RETURN(StatementRef del, db_.Prepare("DELETE FROM outbox WHERE id = ?1"));
      del->BindInt(1, r.id);
      PF_RETURN_IF_ERROR(del->Run());
      uint64_t id = static_cast<uint64_t>(r.id);
      if (outbox_.AckedByAllLocked(id)) continue;  // every uplink has it: nothing is lost
      evicted_ids_.push_back(id);
      Account({r.asset, r.tag, type, "disk_budget"}, Timestamp::FromNs(r.t), Timestamp::FromNs(r.end), 1, id, id);
      if (type == RecordType::kEvent) {
        PF_ASSIGN_OR_RETURN(StatementRef ev, db_.Prepare("DELETE FROM events WHERE id = ?1"));
        ev->BindText(1, r.ref);
        PF_RETURN_IF_ERROR(ev->Run());
      }
    }
    return true;
  }

  // The oldest chunk of history events that no outbox record refers to (local loss only).
  Result<bool> HistoryEvents() {
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
        "SELECT e.id, e.asset, e.kind, e.start_ns, e.end_ns FROM events e "
        "WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref = e.id) ORDER BY e.start_ns, e.id LIMIT ?1"));
    st->BindInt(1, kEventChunk);
    std::vector<std::tuple<std::string, std::string, std::string, int64_t, int64_t>> rows;
    for (;;) {
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      rows.emplace_back(st->Text(0), st->Text(1), st->Text(2), st->Int(3), st->Int(4));
    }
    if (rows.empty()) return false;
    for (const auto& [id, asset, kind, start, end] : rows) {
      PF_ASSIGN_OR_RETURN(StatementRef del, db_.Prepare("DELETE FROM events WHERE id = ?1"));
      del->BindText(1, id);
      PF_RETURN_IF_ERROR(del->Run());
      Account({asset, "", TypeOfKind(kind), "history_budget"}, Timestamp::FromNs(start), Timestamp::FromNs(end), 1, 0,
              0);
    }
    return true;
  }

  Status WriteLedger() {
    for (auto& [key, e] : groups_) {
      e.recorded = now_;
      e.id = fmt::format("ledger-{}", NewEventId(now_));
      PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
          "INSERT INTO ledger(id, recorded, asset, tag, type, from_ns, to_ns, count, first_record, last_record, "
          "reason, upstream_loss) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
      st->BindText(1, e.id);
      st->BindInt(2, e.recorded.ns);
      st->BindText(3, e.asset);
      st->BindText(4, e.tag);
      st->BindInt(5, static_cast<int64_t>(e.evicted_type));
      st->BindInt(6, e.from.ns);
      st->BindInt(7, e.to.ns);
      st->BindInt(8, static_cast<int64_t>(e.count));
      st->BindInt(9, static_cast<int64_t>(e.first_record));
      st->BindInt(10, static_cast<int64_t>(e.last_record));
      st->BindText(11, e.reason);
      st->BindInt(12, e.upstream_loss ? 1 : 0);
      PF_RETURN_IF_ERROR_CTX(st->Run(), "ledger entry for '{}'/'{}'", e.asset, e.tag);
      if (outbox_.HasUplinksLocked()) PF_RETURN_IF_ERROR(outbox_.EnqueueLedgerLocked(e, now_));
      result_.entries.push_back(e);
    }
    return Status::Ok();
  }

  struct TagRow {
    int64_t id;
    std::string name, asset;
  };
  Database& db_;
  Outbox& outbox_;
  uint64_t target_;
  Timestamp now_;
  EvictionResult result_;
  std::map<Key, LedgerEntry> groups_;
  std::vector<uint64_t> evicted_ids_;
  std::vector<TagRow> tags_;
  bool history_done_ = false;
  int64_t cutoff_ = 0, last_ = 0, slice_ = 1;
};

}  // namespace

Result<uint64_t> PageBytesInUse(Database& db) {
  PF_ASSIGN_OR_RETURN(int64_t pages, QueryInt(db, "PRAGMA page_count"));
  PF_ASSIGN_OR_RETURN(int64_t free_pages, QueryInt(db, "PRAGMA freelist_count"));
  PF_ASSIGN_OR_RETURN(int64_t page_size, QueryInt(db, "PRAGMA page_size"));
  return static_cast<uint64_t>(std::max<int64_t>(0, pages - free_pages) * page_size);
}

Result<EvictionResult> Evict(Database& db, Outbox& outbox, uint64_t target_bytes, Timestamp now) {
  // Records every uplink acknowledged go first, without a ledger entry: they are not a loss.
  // When that flush fails (disk full), the acknowledged records are still recognised in memory.
  outbox.FlushLocked().IgnoreError();
  Evictor e(db, outbox, target_bytes, now);
  auto r = e.Run();
  if (!r.ok()) return r.status().WithContext(fmt::format("sqlite '{}': eviction", db.path()));
  return r;
}

}  // namespace pf::store
