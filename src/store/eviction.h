#pragma once
// Internal to store/: one eviction round of the disk budget (the order is written in
// store/store.h). The caller holds the connection's mutex and no transaction is open.
#include <array>
#include <cstdint>
#include <vector>

#include "core/time.h"
#include "store/outbox.h"
#include "store/outbox_impl.h"
#include "store/sqlite_db.h"

namespace pf::store {

struct EvictionResult {
  std::vector<LedgerEntry> entries;            // written to the ledger (and the outbox)
  std::array<uint64_t, 6> evicted_by_type{};  // outbox records lost upstream; index: RecordType value
  uint64_t in_use_after = 0;                   // page bytes in use after the round
  bool reached_target = false;
};

// (page_count - freelist_count) * page_size, inside the current transaction if one is open.
Result<uint64_t> PageBytesInUse(Database& db);

// Evicts oldest first until PageBytesInUse <= target_bytes or nothing evictable is left, writes
// the ledger entries, commits, and checkpoints the WAL (TRUNCATE).
Result<EvictionResult> Evict(Database& db, Outbox& outbox, uint64_t target_bytes, Timestamp now);

}  // namespace pf::store
