#pragma once
// History store: samples in SQLite (WAL), staged in arrival order and compacted into a table
// clustered by (tag, time) (HistoryOptions::staging_rows), store-on-change with a per-tag
// deadband, time-range queries, downsampling that keeps extremes, retention by age. Events live
// in the same database (store/event_store.h). Thread-safety: one HistoryStore may be used from
// several threads; calls are serialised inside.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"
#include "core/time.h"

namespace pf {
namespace store {
struct Connection;
}
class Store;

struct HistoryOptions {
  std::string path;                 // the SQLite file; created with its folder when missing
  Duration retention{std::chrono::hours(24 * 30)};  // samples older than now - retention are deleted
  bool fsync_each_commit = false;   // synchronous=FULL instead of NORMAL (WAL)
  // Staging (schema.h version 3): appends go to the table `recent` in arrival order and are
  // compacted into the clustered `samples` table, in one transaction, after a commit that leaves
  // more than staging_rows staged rows or whose oldest staged row was staged staging_age ago.
  // Larger values write fewer bytes per sample (each tag's leaf page is rewritten once per
  // compaction instead of once per commit) but make every query scan up to that many staged
  // rows. 0 = no staging: appends go straight into samples (the layout before version 3).
  size_t staging_rows = 50000;
  Duration staging_age{std::chrono::seconds(60)};
};

// One stored point as a query returns it.
struct StoredSample {
  Timestamp source_time;
  Timestamp receive_time;
  Value value;
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
  uint64_t seq = 0;
};

// One bucket of a downsampled query: min and max keep the extremes a plot must not lose.
struct HistoryBucket {
  Timestamp start, end;       // bucket bounds [start, end)
  Timestamp min_time, max_time;
  double min = 0, max = 0, first = 0, last = 0, mean = 0;
  uint64_t count = 0;
  Quality worst_quality = Quality::kGood;
};

class HistoryStore {
 public:
  static Result<std::unique_ptr<HistoryStore>> Open(const HistoryOptions& options);
  // Over a connection shared with other stores (store/store.h); options.path names the file in
  // messages and for BytesOnDisk, options.fsync_each_commit is the connection's business.
  static Result<std::unique_ptr<HistoryStore>> OpenShared(std::shared_ptr<store::Connection> conn,
                                                          const HistoryOptions& options);
  ~HistoryStore();

  // Declares a tag (creates or updates its row; name is the stable key across restarts).
  Status RegisterTag(const TagDef& tag);
  // Appends in one transaction. tag ids are the runtime's TagIds given to RegisterTag.
  // Store-on-change filtering is NOT done here (see ChangeFilter); every sample given is kept.
  Status Append(std::span<const Sample> samples);
  // Raw points with source_time in [from, to), oldest first, at most limit.
  Result<std::vector<StoredSample>> Query(const std::string& tag, Timestamp from, Timestamp to,
                                          size_t limit = 100000) const;
  // At most max_points buckets of equal width over [from, to); empty buckets are omitted.
  Result<std::vector<HistoryBucket>> QueryBuckets(const std::string& tag, Timestamp from, Timestamp to,
                                                  size_t max_points) const;
  // Deletes samples older than now - retention (staged or compacted); returns the number of
  // (tag, time) points deleted.
  Result<uint64_t> EnforceRetention(Timestamp now);
  // Moves every staged sample into the clustered table now, in one transaction (a crash leaves
  // either all of them staged or all of them compacted). Appends do this by themselves when the
  // thresholds of HistoryOptions are crossed; queries give the same results before and after.
  Status Compact();
  // Samples staged and not yet compacted (as counted by this process since it opened the file).
  uint64_t StagedSamples() const;
  // Database + WAL bytes on disk.
  uint64_t BytesOnDisk() const;
  // Copies the WAL into the database file and truncates the WAL (e.g. at shutdown, or before
  // measuring BytesOnDisk). kUnavailable when a reader elsewhere keeps the WAL busy.
  Status Checkpoint();
  uint64_t SamplesWritten() const;
  struct Impl;

 private:
  friend class Store;  // writes history rows inside its own transaction
  explicit HistoryStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Store-on-change with a deadband, per tag: decides which samples reach the history store.
// A sample is kept when: it is the first of its tag; |value - last kept| > deadband (numbers);
// the value differs (strings, bools); the quality or sub-code changed; or max_interval passed
// since the last kept one (when non-zero). Not thread-safe: one filter per writer thread.
class ChangeFilter {
 public:
  void Configure(TagId tag, StoreMode mode, double deadband, Duration max_interval);
  bool Keep(const Sample& s);

 private:
  struct State {
    StoreMode mode = StoreMode::kOnChange;
    double deadband = 0;
    Duration max_interval{0};
    bool has_last = false;
    Value last;
    Quality quality = Quality::kGood;
    QualitySub sub = QualitySub::kNone;
    Timestamp last_time;
  };
  std::vector<State> states_;  // indexed by TagId
};

}  // namespace pf
