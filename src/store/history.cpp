#include "store/history.h"

#include <sqlite3.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>

#include "store/history_internal.h"
#include "store/sqlite_db.h"

namespace pf {
namespace {

using store::Database;
using store::StatementRef;

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
                                                       .synchronous_full = options.fsync_each_commit}));
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
  return Status::Ok();
}

Result<std::vector<StoredSample>> HistoryStore::Query(const std::string& tag, Timestamp from, Timestamp to,
                                                      size_t limit) const {
  if (to < from)
    return InvalidArgument("history query '{}': 'to' ({}) is before 'from' ({})", tag, FormatRfc3339(to),
                           FormatRfc3339(from));
  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(int64_t id, impl_->LookupTag(tag));
  PF_ASSIGN_OR_RETURN(StatementRef st, impl_->db->Prepare(
      "SELECT t, v, q, seq, rd FROM samples WHERE tag = ?1 AND t >= ?2 AND t < ?3 ORDER BY t LIMIT ?4"));
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

// Both bucket passes share the bucket expression and range; ?1 tag, ?2 from, ?3 to, ?4 width.
// Each has exactly one min() or max(), so sqlite takes the bare column t from the row that holds
// that extreme: this is how min_time and max_time are found. first and last are then two index
// seeks per bucket (EdgeValue) rather than two more passes over the range.
constexpr const char* kNumeric = "typeof(v) IN ('integer','real')";

std::string BucketSql(std::string_view select, bool numeric_only) {
  return fmt::format("SELECT (t - ?2) / ?4 AS b, {} FROM samples WHERE tag = ?1 AND t >= ?2 AND t < ?3{} "
                     "GROUP BY b ORDER BY b",
                     select, numeric_only ? fmt::format(" AND {}", kNumeric) : "");
}

// Runs one bucket query; fill(bucket, statement) reads the columns after b.
template <typename Fill>
Status RunBuckets(Database& db, const std::string& sql, int64_t tag, Timestamp from, Timestamp to, int64_t width,
                  std::map<int64_t, HistoryBucket>& buckets, Fill fill) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(sql));
  st->BindInt(1, tag);
  st->BindInt(2, from.ns);
  st->BindInt(3, to.ns);
  st->BindInt(4, width);
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return Status::Ok();
    fill(buckets[st->Int(0)], *st);
  }
}

// The first (or last) numeric value of tag in [start, end).
Result<double> EdgeValue(Database& db, int64_t tag, Timestamp start, Timestamp end, bool last) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(fmt::format(
      "SELECT v FROM samples WHERE tag = ?1 AND t >= ?2 AND t < ?3 AND {} ORDER BY t {} LIMIT 1", kNumeric,
      last ? "DESC" : "ASC")));
  st->BindInt(1, tag);
  st->BindInt(2, start.ns);
  st->BindInt(3, end.ns);
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return Internal("history: bucket [{}, {}) counted numeric samples but has none", start.ns, end.ns);
  return st->Double(0);
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
  Database& db = *impl_->db;
  store::Transaction tx(db);  // one snapshot for every pass
  PF_RETURN_IF_ERROR(tx.Begin(/*immediate=*/false));
  std::map<int64_t, HistoryBucket> buckets;
  const std::string num = fmt::format("CASE WHEN {} THEN v END", kNumeric);
  PF_RETURN_IF_ERROR(RunBuckets(
      db, BucketSql(fmt::format("min({0}), t, sum({1}), avg({0}), sum((q >> 8 & 255) = 2), sum((q >> 8 & 255) = 1)",
                                num, kNumeric), false),
      id, from, to, width, buckets, [](HistoryBucket& b, const store::Statement& st) {
        b.min = st.Double(1);
        b.min_time = Timestamp::FromNs(st.Int(2));
        b.count = static_cast<uint64_t>(st.Int(3));
        b.mean = st.Double(4);
        b.worst_quality = st.Int(5) > 0 ? Quality::kBad : st.Int(6) > 0 ? Quality::kUncertain : Quality::kGood;
      }));
  PF_RETURN_IF_ERROR(RunBuckets(db, BucketSql("max(v), t", true), id, from, to, width, buckets,
                                [](HistoryBucket& b, const store::Statement& st) {
                                  b.max = st.Double(1);
                                  b.max_time = Timestamp::FromNs(st.Int(2));
                                }));
  for (auto& [index, b] : buckets) {
    b.start = from + Duration(index * width);
    b.end = Timestamp::FromNs(std::min(b.start.ns + width, to.ns));
    if (b.count == 0) {
      b.min_time = b.max_time = b.start;
      continue;
    }
    PF_ASSIGN_OR_RETURN(b.first, EdgeValue(db, id, b.start, b.end, /*last=*/false));
    PF_ASSIGN_OR_RETURN(b.last, EdgeValue(db, id, b.start, b.end, /*last=*/true));
  }
  PF_RETURN_IF_ERROR(tx.Commit());

  std::vector<HistoryBucket> out;
  out.reserve(buckets.size());
  for (auto& [index, b] : buckets) out.push_back(b);
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

uint64_t HistoryStore::SamplesWritten() const { return impl_->written.load(std::memory_order_relaxed); }

}  // namespace pf
