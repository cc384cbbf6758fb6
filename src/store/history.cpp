#include "store/history.h"

#include <sqlite3.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "core/log.h"
#include "store/history_internal.h"
#include "store/sqlite_db.h"

namespace pf {
namespace {

using store::Database;
using store::StatementRef;

// The current points of tag ?1 with t in [?2, ?3), as "SELECT t, v, q, seq, rd" over both
// tables (schema.h version 3): the clustered rows no staged row replaces, and of the staged rows
// the last one (highest id) per t. `recent` has no index: each of its two subqueries is one scan
// of at most staging_rows rows; NOT IN and id IN build a temporary b-tree of their subquery.
constexpr const char* kPoints =
    "SELECT t, v, q, seq, rd FROM samples WHERE tag = ?1 AND t >= ?2 AND t < ?3 "
    "AND t NOT IN (SELECT t FROM recent WHERE tag = ?1 AND t >= ?2 AND t < ?3) "
    "UNION ALL SELECT t, v, q, seq, rd FROM recent WHERE id IN "
    "(SELECT max(id) FROM recent WHERE tag = ?1 AND t >= ?2 AND t < ?3 GROUP BY t)";

Result<StoredSample> DecodeRow(const store::Statement& st) {
  StoredSample out;
  int64_t t = st.Int(0);
  auto decoded = store::ReadSampleValue(st, 1, st.Int(2));
  if (!decoded.ok()) return decoded.status().WithContext(fmt::format("sample at t={} ns", t));
  out.value = std::move(decoded->value);
  out.source_time = Timestamp::FromNs(t);
  out.quality = decoded->quality;
  out.sub = decoded->sub;
  out.seq = static_cast<uint64_t>(st.Int(3));
  out.receive_time = Timestamp::FromNs(t + st.Int(4));
  return out;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

int64_t ClampLimit(size_t n) {
  return n > static_cast<size_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                       : static_cast<int64_t>(n);
}

}  // namespace

HistoryStore::HistoryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HistoryStore::~HistoryStore() = default;

Result<std::unique_ptr<HistoryStore>> HistoryStore::Open(const HistoryOptions& options) {
  if (options.retention <= Duration::zero())
    return InvalidArgument("history '{}': retention must be positive, got {}", options.path,
                           FormatDuration(options.retention));
  auto conn = std::make_shared<store::Connection>();
  PF_ASSIGN_OR_RETURN(conn->db, store::Database::Open({.path = options.path,
                                                       .synchronous_full = options.fsync_each_commit,
                                                       .vfs = ""}));
  return OpenShared(std::move(conn), options);
}

Result<std::unique_ptr<HistoryStore>> HistoryStore::OpenShared(std::shared_ptr<store::Connection> conn,
                                                               const HistoryOptions& options) {
  if (options.retention <= Duration::zero())
    return InvalidArgument("history '{}': retention must be positive, got {}", options.path,
                           FormatDuration(options.retention));
  if (!conn || !conn->db) return InvalidArgument("history '{}': no open connection given", options.path);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->db = conn->db.get();
  impl->conn = std::move(conn);
  {
    std::lock_guard lock(impl->conn->mu);
    PF_RETURN_IF_ERROR_CTX(impl->LoadStaged(), "history '{}': open", options.path);
  }
  return std::unique_ptr<HistoryStore>(new HistoryStore(std::move(impl)));
}

Status HistoryStore::RegisterTag(const TagDef& tag) {
  if (tag.name.empty()) return InvalidArgument("history '{}': tag with TagId {} has an empty name", impl_->options.path, tag.id);
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(StatementRef st, impl_->db->Prepare(
      "INSERT INTO tags(name, asset, unit, description, source) VALUES(?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(name) DO UPDATE SET asset = excluded.asset, unit = excluded.unit, "
      "description = excluded.description, source = excluded.source RETURNING id"));
  st->BindText(1, tag.name);
  st->BindText(2, tag.asset_id);
  st->BindText(3, tag.unit);
  st->BindText(4, tag.description);
  st->BindText(5, tag.source);
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return Internal("history '{}': registering tag '{}' returned no id", impl_->options.path, tag.name);
  int64_t id = st->Int(0);
  PF_RETURN_IF_ERROR(st->Run());  // finishes the statement so the write completes
  if (impl_->db_ids.size() <= tag.id) impl_->db_ids.resize(tag.id + 1, 0);
  impl_->db_ids[tag.id] = id;
  impl_->ids_by_name[tag.name] = id;
  return Status::Ok();
}

Status HistoryStore::Append(std::span<const Sample> samples) {
  if (samples.empty()) return Status::Ok();
  std::lock_guard lock(impl_->conn->mu);
  PF_RETURN_IF_ERROR(impl_->CheckTags(samples));
  store::Transaction tx(*impl_->db);
  PF_RETURN_IF_ERROR_CTX(tx.Begin(), "history append");
  for (const Sample& s : samples) PF_RETURN_IF_ERROR_CTX(impl_->Insert(s), "history append");
  PF_RETURN_IF_ERROR_CTX(tx.Commit(), "history append");
  impl_->written.fetch_add(samples.size(), std::memory_order_relaxed);
  impl_->NoteAppended(samples.size());
  if (Status c = impl_->MaybeCompactLocked(); !c.ok())  // the append is durable; rows stay staged
    PF_LOG_WARN("{}", c.ToString());
  return Status::Ok();
}

Result<std::vector<StoredSample>> HistoryStore::Query(const std::string& tag, Timestamp from, Timestamp to,
                                                      size_t limit) const {
  if (to < from)
    return InvalidArgument("history query '{}': 'to' ({}) is before 'from' ({})", tag, FormatRfc3339(to),
                           FormatRfc3339(from));
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(int64_t id, impl_->LookupTag(tag));
  PF_ASSIGN_OR_RETURN(StatementRef st, impl_->db->Prepare(fmt::format("{} ORDER BY 1 LIMIT ?4", kPoints)));
  st->BindInt(1, id);
  st->BindInt(2, from.ns);
  st->BindInt(3, to.ns);
  st->BindInt(4, ClampLimit(limit));
  std::vector<StoredSample> out;
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    auto decoded = DecodeRow(*st);
    if (!decoded.ok()) return decoded.status().WithContext(fmt::format("history '{}': tag '{}'", impl_->options.path, tag));
    out.push_back(std::move(decoded).value());
  }
  return out;
}

namespace {

// Folds the points of one bucket, in time order, as the API's plot needs them: min and max with
// their times (the first one on a tie), first, last, mean and count of the numeric points (REAL
// or INTEGER, bools as 0/1; strings and NaN/no value are not numbers), worst quality of all.
void AddPoint(HistoryBucket& b, double& sum, const store::Statement& st) {
  const int64_t t = st.Int(0);
  const int64_t quality = st.Int(2) >> 8 & 255;
  if (quality == 2) b.worst_quality = Quality::kBad;
  else if (quality == 1 && b.worst_quality != Quality::kBad) b.worst_quality = Quality::kUncertain;
  const int type = st.ColumnType(1);
  if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) return;
  const double v = st.Double(1);
  if (b.count == 0 || v < b.min) {
    b.min = v;
    b.min_time = Timestamp::FromNs(t);
  }
  if (b.count == 0 || v > b.max) {
    b.max = v;
    b.max_time = Timestamp::FromNs(t);
  }
  if (b.count == 0) b.first = v;
  b.last = v;
  sum += v;
  ++b.count;
}

}  // namespace

Result<std::vector<HistoryBucket>> HistoryStore::QueryBuckets(const std::string& tag, Timestamp from, Timestamp to,
                                                              size_t max_points) const {
  if (max_points == 0) return InvalidArgument("history buckets '{}': max_points must be at least 1", tag);
  if (to < from)
    return InvalidArgument("history buckets '{}': 'to' ({}) is before 'from' ({})", tag, FormatRfc3339(to),
                           FormatRfc3339(from));
  uint64_t span = static_cast<uint64_t>(to.ns) - static_cast<uint64_t>(from.ns);
  if (span > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return InvalidArgument("history buckets '{}': range wider than 2^63 ns", tag);
  if (span == 0) return std::vector<HistoryBucket>{};
  int64_t width = static_cast<int64_t>((span + max_points - 1) / max_points);

  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(int64_t id, impl_->LookupTag(tag));
  // One pass over the points in time order (one statement: one snapshot of both tables).
  PF_ASSIGN_OR_RETURN(StatementRef st, impl_->db->Prepare(fmt::format("{} ORDER BY 1", kPoints)));
  st->BindInt(1, id);
  st->BindInt(2, from.ns);
  st->BindInt(3, to.ns);
  std::vector<HistoryBucket> out;
  uint64_t index = 0;
  double sum = 0;
  auto finish = [&] {
    HistoryBucket& b = out.back();
    b.start = from + Duration(static_cast<int64_t>(index) * width);
    b.end = Timestamp::FromNs(std::min(b.start.ns + width, to.ns));
    b.mean = b.count ? sum / static_cast<double>(b.count) : 0;
    if (b.count == 0) b.min_time = b.max_time = b.start;
  };
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    // t is in [from, to), so t - from fits in [0, span) with span < 2^63.
    uint64_t i = (static_cast<uint64_t>(st->Int(0)) - static_cast<uint64_t>(from.ns)) / static_cast<uint64_t>(width);
    if (out.empty() || i != index) {
      if (!out.empty()) finish();
      out.emplace_back();
      index = i;
      sum = 0;
    }
    AddPoint(out.back(), sum, *st);
  }
  if (!out.empty()) finish();
  return out;
}

Result<uint64_t> HistoryStore::EnforceRetention(Timestamp now) {
  Timestamp cutoff = now - impl_->options.retention;
  std::vector<int64_t> tags;
  {
    std::lock_guard lock(impl_->conn->mu);
    PF_ASSIGN_OR_RETURN(StatementRef st, impl_->db->Prepare("SELECT id FROM tags ORDER BY id"));
    for (;;) {
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      tags.push_back(st->Int(0));
    }
  }
  uint64_t deleted = 0;
  {
    auto n = impl_->DeleteStaged(cutoff);
    if (!n.ok()) return n.status().WithContext("history retention of staged samples");
    deleted += static_cast<uint64_t>(*n);
  }
  for (int64_t tag : tags) {
    for (;;) {  // the lock is released between chunks so appends interleave
      auto n = impl_->DeleteChunk(tag, cutoff);
      if (!n.ok()) return n.status().WithContext(fmt::format("history retention (deleted {} so far)", deleted));
      deleted += static_cast<uint64_t>(*n);
      if (*n < Impl::kRetentionChunk) break;
    }
  }
  return deleted;
}

uint64_t HistoryStore::BytesOnDisk() const {
  return FileSize(impl_->options.path) + FileSize(impl_->options.path + "-wal");
}

Status HistoryStore::Checkpoint() {
  std::lock_guard lock(impl_->conn->mu);
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(impl_->db->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
  if (rc != SQLITE_OK) return impl_->db->Error("wal checkpoint", rc);
  return Status::Ok();
}

Status HistoryStore::Compact() {
  std::lock_guard lock(impl_->conn->mu);
  return impl_->CompactLocked();
}

uint64_t HistoryStore::StagedSamples() const { return impl_->staged.load(std::memory_order_relaxed); }

uint64_t HistoryStore::SamplesWritten() const { return impl_->written.load(std::memory_order_relaxed); }

}  // namespace pf
