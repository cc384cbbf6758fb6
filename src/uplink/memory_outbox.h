#pragma once
// Test double of OutboxReader: records in memory, one read position and one acknowledged set per
// uplink, following the contract of store/outbox.h (Peek moves only the read position, the cursor
// advances over the contiguous acknowledged prefix, Rewind goes back to it). Thread-safe.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/outbox.h"

namespace pf::uplink::testing {

class MemoryOutbox : public OutboxReader {
 public:
  // Appends a record with the next id (1, 2, ...); returns the id.
  uint64_t Add(RecordType type, std::variant<OutboxSample, Event, LedgerEntry> body, size_t bytes = 100) {
    std::lock_guard l(mu_);
    OutboxRecord r;
    r.id = ++last_id_;
    r.type = type;
    r.stored_bytes = bytes;
    r.body = std::move(body);
    records_.push_back(std::move(r));
    return last_id_;
  }

  Status RegisterUplink(const std::string& uplink) override {
    std::lock_guard l(mu_);
    uplinks_.try_emplace(uplink);
    return Status::Ok();
  }

  Result<std::vector<OutboxRecord>> Peek(const std::string& uplink, size_t max_records, size_t max_bytes) override {
    std::lock_guard l(mu_);
    auto it = uplinks_.find(uplink);
    if (it == uplinks_.end()) return NotFound("outbox: uplink '{}' is not registered", uplink);
    std::vector<OutboxRecord> out;
    size_t bytes = 0;
    for (const OutboxRecord& r : records_) {
      if (r.id <= it->second.read) continue;
      if (out.size() >= max_records || (!out.empty() && bytes + r.stored_bytes > max_bytes)) break;
      bytes += r.stored_bytes;
      out.push_back(r);
    }
    if (!out.empty()) it->second.read = out.back().id;
    ++peeks_;
    return out;
  }

  Status Ack(const std::string& uplink, uint64_t id) override {
    std::lock_guard l(mu_);
    auto it = uplinks_.find(uplink);
    if (it == uplinks_.end()) return NotFound("outbox: uplink '{}' is not registered", uplink);
    Cursor& c = it->second;
    if (id > last_id_) return OutOfRange("outbox: ack of record {} that was never written", id);
    ack_log_.push_back(id);
    if (id > c.cursor) c.acked.insert(id);
    while (c.acked.count(c.cursor + 1)) c.acked.erase(++c.cursor);
    return Status::Ok();
  }

  void Rewind(const std::string& uplink) override {
    std::lock_guard l(mu_);
    auto it = uplinks_.find(uplink);
    if (it != uplinks_.end()) {
      it->second.read = it->second.cursor;
      ++rewinds_;
    }
  }

  OutboxStats Stats(const std::string& uplink) const override {
    std::lock_guard l(mu_);
    OutboxStats s;
    auto it = uplinks_.find(uplink);
    if (it == uplinks_.end()) return s;
    for (const OutboxRecord& r : records_)
      if (r.id > it->second.cursor && !it->second.acked.count(r.id)) ++s.depth, s.bytes += r.stored_bytes;
    s.acknowledged = ack_log_.size();
    return s;
  }

  uint64_t cursor(const std::string& uplink) const {
    std::lock_guard l(mu_);
    auto it = uplinks_.find(uplink);
    return it == uplinks_.end() ? 0 : it->second.cursor;
  }
  std::vector<uint64_t> ack_log() const {
    std::lock_guard l(mu_);
    return ack_log_;
  }
  int rewinds() const {
    std::lock_guard l(mu_);
    return rewinds_;
  }

 private:
  struct Cursor {
    uint64_t cursor = 0;  // every id <= cursor is acknowledged
    uint64_t read = 0;    // Peek returns ids > read
    std::set<uint64_t> acked;
  };
  mutable std::mutex mu_;
  std::vector<OutboxRecord> records_;
  std::map<std::string, Cursor> uplinks_;
  std::vector<uint64_t> ack_log_;
  uint64_t last_id_ = 0;
  int peeks_ = 0, rewinds_ = 0;
};

}  // namespace pf::uplink::testing
