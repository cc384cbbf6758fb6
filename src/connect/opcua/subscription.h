#pragma once
// An OPC UA subscription on a connected Client (OPC 10000-4 §5.13, §5.12): CreateSubscription,
// CreateMonitoredItems (sampling interval, queue size, discard oldest, optional absolute/percent
// deadband DataChangeFilter), chunked by the server's MaxMonitoredItemsPerCall (0 = no limit), and a
// Publish loop: each Poll() sends one Publish carrying the acknowledgements of the notifications
// received so far and returns what the server sent back — data changes as (client handle, node id,
// DataValue), a keep-alive, a status change, or a gap.
//
// Sequence numbers (§5.13.1.1): a NotificationMessage with data increments the sequence number by 1
// (1, 2, ..., wrapping from 0xFFFFFFFF to 1); a keep-alive carries the number the next data message
// will have. Any number skipped is reported as a gap record listing the missing numbers, never
// silently dropped (the caller decides: Republish or mark bad quality; recovery is not done here).
//
// Synchronous, single-threaded like Client; one Subscription per Client (a Publish response for
// another subscription id is an error). Close() (and the destructor) call DeleteSubscriptions.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connect/opcua/client.h"
#include "connect/opcua/messages.h"
#include "connect/opcua/types.h"
#include "core/status.h"

namespace pf::opcua {

struct SubscriptionOptions {
  double publishing_interval_ms = 1000;
  uint32_t lifetime_count = 60;        // publishing intervals without Publish before the server drops it
  uint32_t max_keep_alive_count = 10;  // publishing intervals without data before a keep-alive
  uint32_t max_notifications_per_publish = 0;  // 0: no limit
  uint8_t priority = 0;
  TimestampsToReturn timestamps = TimestampsToReturn::kBoth;
};

struct MonitorRequest {
  NodeId node;
  uint32_t attribute_id = attribute::kValue;
  double sampling_interval_ms = -1;  // -1: the publishing interval
  uint32_t queue_size = 1;
  bool discard_oldest = true;
  DataChangeTrigger trigger = DataChangeTrigger::kStatusValue;
  DeadbandType deadband = DeadbandType::kNone;  // kAbsolute: value units; kPercent: of EURange
  double deadband_value = 0;
};

// One requested item after CreateMonitoredItems; client_handle is its index in the request list.
struct MonitoredItem {
  uint32_t client_handle = 0;
  NodeId node;
  StatusCode status;  // Bad (e.g. BadNodeIdUnknown): the item does not exist on the server
  uint32_t monitored_item_id = 0;
  double revised_sampling_interval_ms = 0;
  uint32_t revised_queue_size = 0;
};

struct DataChange {
  uint32_t client_handle = 0;
  NodeId node;
  DataValue value;
};

// What one Publish returned.
struct PublishResult {
  enum class Kind { kData, kKeepAlive, kStatusChange, kGap, kTimeout };
  Kind kind = Kind::kKeepAlive;
  uint32_t sequence_number = 0;
  int64_t publish_time = 0;          // DateTime ticks
  std::vector<DataChange> changes;   // kData
  std::optional<StatusCode> status;  // kStatusChange (e.g. BadTimeout: the subscription expired)
  std::vector<uint32_t> missing;     // kGap: the sequence numbers never received, ascending
};

// Sequence-number bookkeeping, a pure part of Subscription (unit-testable): Accept() returns the
// numbers skipped before `seq` (empty when in order). Fails for a repeated or backward number and for
// a jump of more than kMaxGap (a corrupt message rather than a gap).
class SequenceTracker {
 public:
  static constexpr uint32_t kMaxGap = 100000;
  explicit SequenceTracker(uint32_t next = 1) : next_(next) {}  // next: the first data number expected
  Result<std::vector<uint32_t>> Accept(uint32_t seq, bool keep_alive);
  uint32_t next() const { return next_; }

 private:
  uint32_t next_;  // the number the next data message must have
};

class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // CreateSubscription on `client` (which must outlive the Subscription).
  static Result<std::unique_ptr<Subscription>> Create(Client& client, const SubscriptionOptions& options);

  // CreateMonitoredItems in calls of at most MaxMonitoredItemsPerCall. Returns one MonitoredItem per
  // request in order; items the server refused keep their Bad status (the call still succeeds).
  Result<std::vector<MonitoredItem>> Monitor(const std::vector<MonitorRequest>& items);

  // One Publish round trip (acknowledging what was received before). `timeout` bounds how long the
  // server may hold the request (its timeout hint); with nothing to send the server answers with a
  // keep-alive after max_keep_alive_count intervals. A sequence gap is returned first, as its own
  // kGap result; the data of the same message comes with the next Poll() (without another Publish).
  Result<PublishResult> Poll(std::chrono::milliseconds timeout);

  Status Close();  // DeleteSubscriptions; idempotent

  // Recovery (monitor.h). Republish asks the server for one NotificationMessage from its
  // retransmission queue (OPC 10000-4 §5.13.6) and returns it like Poll (kData / kKeepAlive; it is
  // acknowledged with the next Publish); kUnavailable with "BadMessageNotAvailable" when the server no
  // longer has it. A number at or past next_sequence() moves the expected number past it.
  Result<PublishResult> Republish(uint32_t sequence_number);
  // TransferSubscriptions of this subscription to the client's current session (after
  // Client::NewSession); returns the sequence numbers still in the server's retransmission queue.
  // kUnavailable with the status name (e.g. "BadSubscriptionIdInvalid") when the server refuses.
  Result<std::vector<uint32_t>> Transfer(bool send_initial_values);
  // The sequence number the next data message should carry.
  uint32_t next_sequence() const { return seq_.next(); }

  uint32_t id() const { return id_; }
  double revised_publishing_interval_ms() const { return revised_interval_; }
  uint32_t revised_lifetime_count() const { return revised_lifetime_; }
  uint32_t revised_max_keep_alive_count() const { return revised_keep_alive_; }
  const std::vector<MonitoredItem>& items() const { return items_; }
  int create_item_calls() const { return create_item_calls_; }  // CreateMonitoredItems calls made
  size_t pending_acks() const { return acks_.size(); }

 private:
  explicit Subscription(Client& c) : client_(c) {}
  template <typename Resp, typename Req>
  Result<Resp> Call(Req req, uint32_t timeout_hint_ms = 0);
  Result<PublishResult> Convert(const NotificationMessage& m);

  Client& client_;
  SubscriptionOptions opt_;
  uint32_t id_ = 0;
  bool open_ = false;
  double revised_interval_ = 0;
  uint32_t revised_lifetime_ = 0, revised_keep_alive_ = 0;
  std::vector<MonitoredItem> items_;
  std::vector<SubscriptionAcknowledgement> acks_;
  SequenceTracker seq_;
  std::optional<PublishResult> held_;  // data that followed a gap, returned by the next Poll
  int create_item_calls_ = 0;
};

}  // namespace pf::opcua
