#pragma once
// The durable outbox: what plantfloor accepted and must deliver upstream, in order, through every
// outage, or account for exactly in the loss ledger. Lives in the same SQLite file as the history
// and is written in the same transaction as the history (store/store.h), so a committed sample
// is in both or in neither.
//
// Records are stored in their native columns and encoded only when sent (the uplink encodes).
// Each uplink has its own persisted cursor; a record is deleted once every registered uplink has
// acknowledged it. Record ids are strictly increasing in commit order and never reused, so
// "<device id>/<record id>" is a stable message id that consumers use to drop duplicates after a
// crash (at-least-once delivery).
//
// Thread-safety: all methods may be called from any thread.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"
#include "core/time.h"

namespace pf {

enum class RecordType : uint8_t { kSample = 1, kEvent = 2, kAlert = 3, kLabel = 4, kLedger = 5 };
std::string_view RecordTypeName(RecordType t);  // "sample", "event", "alert", "label", "ledger"

// A sample as forwarded: the tag's name and asset travel with it.
struct OutboxSample {
  std::string tag, asset, unit, source;
  Value value;
  Timestamp source_time, receive_time;
  uint64_t seq = 0;
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
};

// One loss-ledger entry: records that were evicted before every uplink had them (or history
// that was evicted locally), so that what is missing upstream is accounted for exactly.
struct LedgerEntry {
  std::string id;                 // unique
  Timestamp recorded;             // when the eviction happened
  std::string asset, tag;         // tag "" for events
  RecordType evicted_type = RecordType::kSample;
  Timestamp from, to;             // time range of what was evicted (inclusive)
  uint64_t count = 0;             // how many records
  uint64_t first_record = 0, last_record = 0;  // outbox record ids evicted (0 when history only)
  std::string reason;             // "disk_budget" (outbox, lost upstream), "history_budget" (local only)
  bool upstream_loss = true;      // false: only the local history lost it; the hub has or will have it
};

struct OutboxRecord {
  uint64_t id = 0;
  RecordType type = RecordType::kSample;
  size_t stored_bytes = 0;  // approximate bytes it occupies on disk
  std::variant<OutboxSample, Event, LedgerEntry> body;
};

struct OutboxStats {
  uint64_t depth = 0;           // records not yet acknowledged by this uplink
  uint64_t bytes = 0;           // their approximate bytes
  Timestamp oldest;             // commit time of the oldest unacknowledged record (ns 0: none)
  uint64_t acknowledged = 0;    // acknowledged since start
  uint64_t evicted = 0;         // records evicted since start (all uplinks)
};

// The read side, which an uplink uses. The write side is store/store.h (one transaction with the
// history); tests may write through it as well.
class OutboxReader {
 public:
  virtual ~OutboxReader() = default;
  // Declares an uplink (idempotent); its cursor starts at the oldest record still in the outbox.
  virtual Status RegisterUplink(const std::string& uplink) = 0;
  // Up to max_records records after the uplink's read position, in id order, stopping before
  // max_bytes (at least one record is returned when any is pending). Moves the in-memory read
  // position past them (so the uplink can keep several in flight), never the persisted cursor.
  virtual Result<std::vector<OutboxRecord>> Peek(const std::string& uplink, size_t max_records,
                                                 size_t max_bytes) = 0;
  // The uplink's broker acknowledged record `id` (PUBACK). Acks may arrive out of order; the
  // persisted cursor advances over the contiguous acknowledged prefix. Records every uplink
  // acknowledged are deleted.
  virtual Status Ack(const std::string& uplink, uint64_t id) = 0;
  // After a reconnect: the read position goes back to the persisted cursor (the first record not
  // acknowledged), so everything in flight is sent again (consumers drop duplicates by id).
  virtual void Rewind(const std::string& uplink) = 0;
  virtual OutboxStats Stats(const std::string& uplink) const = 0;
};

}  // namespace pf
