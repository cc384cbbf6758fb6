#pragma once
// Internal to store/: the outbox over the shared connection. The public read side is
// OutboxReader (store/outbox.h); the write side (Enqueue*) and the eviction hooks are used by
// Store (store/store.h) with the connection's mutex held and a transaction open.
//
// Per uplink, in memory: the read position (last record id handed out by Peek), the records in
// flight (handed out, in id order, each acknowledged or not) and the cursor, which advances over
// the contiguous acknowledged prefix of the in-flight records. The cursor is persisted in the
// uplinks table, and records at or below every uplink's cursor are deleted, in one transaction
// every ack_flush_count acks or ack_flush_interval (and at Flush), not once per acknowledgement.
// A crash loses at most that window of cursor progress: those records are sent again, and
// consumers drop them by id.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "store/connection.h"
#include "store/outbox.h"

namespace pf::store {

class Statement;
// The ledger columns in the order ReadLedgerRow expects them.
constexpr const char* kLedgerColumns =
    "id, recorded, asset, tag, type, from_ns, to_ns, count, first_record, last_record, reason, upstream_loss";
// One ledger row selected with kLedgerColumns.
LedgerEntry ReadLedgerRow(const Statement& st);

struct OutboxOptions {
  std::string path;                 // for messages
  size_t ack_flush_count = 256;
  Duration ack_flush_interval{std::chrono::milliseconds(100)};
  MetricsRegistry* metrics = nullptr;
};

class Outbox final : public OutboxReader {
 public:
  // Loads the uplinks and their cursors; takes conn->mu.
  static Result<std::unique_ptr<Outbox>> Open(std::shared_ptr<Connection> conn, OutboxOptions options);
  ~Outbox() override;

  Status RegisterUplink(const std::string& uplink) override;
  Result<std::vector<OutboxRecord>> Peek(const std::string& uplink, size_t max_records, size_t max_bytes) override;
  Status Ack(const std::string& uplink, uint64_t id) override;
  void Rewind(const std::string& uplink) override;
  OutboxStats Stats(const std::string& uplink) const override;
  // Persists the cursors and deletes what every uplink acknowledged; takes conn->mu.
  Status Flush();

  // --- conn->mu held by the caller for everything below ---
  bool HasUplinksLocked() const { return !uplinks_.empty(); }
  // Inside the caller's transaction. commit_time stamps ct.
  Status EnqueueSampleLocked(int64_t db_tag, const Sample& s, Timestamp commit_time);
  Status EnqueueEventLocked(const Event& e, RecordType type, Timestamp commit_time);
  Status EnqueueLedgerLocked(const LedgerEntry& entry, Timestamp commit_time);
  // Persists cursors and deletes acknowledged records in its own transaction.
  Status FlushLocked();
  Status MaybeFlushLocked();
  // True when every uplink acknowledged the record (so dropping it loses nothing upstream).
  bool AckedByAllLocked(uint64_t id) const;
  // The records were evicted: they leave the in-flight lists; counts them.
  void OnEvictedLocked(const std::vector<uint64_t>& ids);
  uint64_t TotalBytesLocked() const;

 private:
  struct InFlight {
    uint64_t id;
    uint64_t bytes;
    bool acked;
  };
  struct Uplink {
    uint64_t cursor = 0;   // every id <= cursor acknowledged or evicted
    uint64_t persisted = 0;
    uint64_t read_pos = 0;
    std::deque<InFlight> in_flight;
    Counter* acked = nullptr;
    uint64_t acked_since_start = 0;
  };
  Outbox(std::shared_ptr<Connection> conn, OutboxOptions options);
  Result<Uplink*> Find(const std::string& uplink, std::string_view what);
  Status LoadLocked();
  Status InsertLocked(RecordType type, Timestamp t, const std::string& ref, uint64_t bytes, Timestamp commit_time);
  Result<OutboxRecord> DecodeLocked(const Statement& st);
  void AdvanceLocked(Uplink& u);
  // Registers the uplink's metrics; called without conn->mu (the registry calls back into Stats).
  void Watch(const std::string& name);

  std::shared_ptr<Connection> conn_;
  Database& db_;
  OutboxOptions options_;
  std::map<std::string, Uplink> uplinks_;
  uint64_t evicted_ = 0;
  size_t acks_since_flush_ = 0;
  int64_t last_flush_ns_ = 0;
};

// Approximate on-disk bytes of records, for OutboxRecord::stored_bytes and the budget.
uint64_t SampleRecordBytes(const Sample& s);
uint64_t EventRecordBytes(const Event& e);
constexpr uint64_t kLedgerRecordBytes = 160;

}  // namespace pf::store
