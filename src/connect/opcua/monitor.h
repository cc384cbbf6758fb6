#pragma once
// A subscription that survives network faults (OPC 10000-4 §6.7, session and subscription recovery).
//
// Monitor owns one thread. It connects (Client::Connect), resolves each item (node id text, with
// nsu= re-resolved after every reconnect since namespace indexes may change when a server restarts,
// or a browse path translated by TranslateBrowsePathsToNodeIds), creates one Subscription with the
// items and runs the Publish loop, delivering data through callbacks on its own thread.
//
// Recovery after a broken connection (socket error, timeout, malformed message, server shutdown):
//   1. reopen the secure channel (backoff reconnect_min .. reconnect_max, with jitter);
//   2. ActivateSession of the existing session on the new channel; if the server refuses, create a
//      new session and TransferSubscriptions(sendInitialValues) to it;
//   3. Republish every sequence number the client did not receive (the server keeps them in its
//      retransmission queue);
//   4. if the server lost the subscription (restart, lifetime expired) recreate it and its items.
// Whatever could not be filled is reported through on_gap as a time range per item: never silent.
// A value the server sends again after a recovery (node-opcua sends every item's current value after
// each ActivateSession; a transfer with sendInitialValues does too) is not delivered twice: same source
// timestamp, value and status as the last one delivered for the item (counted in repeats_dropped).
//
// The Publish loop also keeps the session alive and lets the channel renew its token before 75 % of
// the revised lifetime: a Publish never waits longer than a fraction of the token lifetime.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connect/opcua/client.h"
#include "connect/opcua/subscription.h"
#include "connect/opcua/types.h"
#include "core/status.h"
#include "core/time.h"

namespace pf::opcua {

// One monitored item. Exactly one of node / browse_path is set.
struct MonitorItemSpec {
  std::string node;         // "ns=1;s=Line1.Temperature", "nsu=urn:x;s=T", "i=2258"
  std::string browse_path;  // from the Objects folder, browse names with namespace index or uri:
                            // "1:Line1/1:Temperature" (resolved again after every reconnect)
  double sampling_interval_ms = -1;  // -1: the publishing interval
  uint32_t queue_size = 1;           // values the server keeps per item while no Publish arrives
  DeadbandType deadband = DeadbandType::kNone;
  double deadband_value = 0;
};

struct MonitorOptions {
  ClientOptions client;
  SubscriptionOptions subscription;
  std::vector<MonitorItemSpec> items;
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{10000};
};

enum class MonitorState { kConnecting, kConnected, kDisconnected, kStopped };
std::string_view MonitorStateName(MonitorState s);  // "connecting", "connected", ...

// Values of these items between `from` and `to` (wall clock) are lost: record bad quality over the
// range. from = the last notification received before the break (or the break itself), to = the
// first notification after recovery.
struct MonitorGap {
  std::vector<uint32_t> handles;  // item indexes in MonitorOptions::items
  Timestamp from, to;
  std::string reason;  // e.g. "server lost subscription 7 (BadSubscriptionIdInvalid): recreated"
};

struct MonitorCallbacks {
  // Data changes in notification order; DataChange::client_handle = index in MonitorOptions::items.
  std::function<void(std::vector<DataChange>&&)> on_data;
  std::function<void(const MonitorGap&)> on_gap;
  // State changes with a human-readable reason (for source_status events and logs).
  std::function<void(MonitorState, const std::string& message)> on_state;
  // An item the server refused or a browse path that did not resolve (after each (re)subscribe).
  std::function<void(uint32_t handle, StatusCode status, const std::string& message)> on_item_error;
};

struct MonitorStats {
  uint64_t notifications = 0;      // data changes delivered
  uint64_t keep_alives = 0;
  uint64_t reconnects = 0;         // channels reopened after a break
  uint64_t session_reactivations = 0;
  uint64_t transfers = 0;          // successful TransferSubscriptions
  uint64_t republished = 0;        // notification messages recovered by Republish
  uint64_t recreations = 0;        // subscriptions created again because the server lost them
  uint64_t gaps = 0;               // MonitorGap records emitted
  uint64_t channel_renewals = 0;   // security token renewals over the Monitor's life
  uint64_t repeats_dropped = 0;    // values the server sent again after a recovery (not delivered twice)
};

class Monitor {
 public:
  ~Monitor();  // Stop()
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Validates the options (every item has exactly one of node / browse_path, parsable) and starts the
  // thread; returns at once. A server that is down is not an error: the thread keeps retrying.
  static Result<std::unique_ptr<Monitor>> Start(MonitorOptions options, MonitorCallbacks callbacks);

  // Ends the thread (DeleteSubscriptions + CloseSession when connected); returns within about one
  // client timeout even when the server is dead. Idempotent.
  void Stop();

  MonitorStats stats() const;  // thread-safe
  MonitorState state() const;  // thread-safe

 private:
  Monitor() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pf::opcua
