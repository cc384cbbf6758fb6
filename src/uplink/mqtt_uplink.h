#pragma once
// MqttUplink: drains an OutboxReader to an MQTT 3.1.1 broker with QoS 1 (Eclipse Paho C++).
//
// Delivery contract (with store/outbox.h): records are published in outbox order on one
// connection; a record is acknowledged to the outbox only after the broker's PUBACK, and the outbox
// deletes it once every uplink acknowledged it. After a connection loss the uplink rewinds to the
// persisted cursor and resends everything not acknowledged, so delivery is at-least-once and every
// message carries the stable id "<device>/<record id>" by which consumers drop duplicates. Topics
// and payloads: uplink/uplink_payload.h and docs/uplink-schema.md.
//
// Threads: Start() runs one worker thread that connects, publishes and calls the outbox; Paho's
// own thread only records PUBACKs and connection losses. All public methods are thread-safe.
// Lifetime: the outbox and the metrics registry must outlive the uplink. No exception escapes.
#include <memory>
#include <string>

#include "core/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "store/outbox.h"
#include "uplink/uplink_config.h"

namespace pf {

// Metrics (label uplink="<name>"): pf_uplink_connected, pf_uplink_published_total,
// pf_uplink_acked_total, pf_uplink_bytes_total (topic + payload), pf_uplink_reconnects_total,
// pf_uplink_errors_total, pf_uplink_publish_latency_seconds (publish to PUBACK), and, refreshed
// once a second from the outbox, pf_uplink_outbox_depth, pf_uplink_outbox_bytes and
// pf_uplink_outbox_oldest_age_seconds.
class MqttUplink {
 public:
  struct State {
    bool connected = false;
    uint64_t published = 0, acked = 0, bytes = 0, reconnects = 0;
    std::string last_error;  // the latest connect or publish error ("" = none)
  };

  // Reads one [[uplinks]] table (see uplink::MqttUplinkSpec()); errors name file:line:key.
  static Result<std::unique_ptr<MqttUplink>> Create(const ConfigNode& table, OutboxReader& outbox,
                                                    MetricsRegistry& metrics);
  static Result<std::unique_ptr<MqttUplink>> Create(uplink::MqttUplinkConfig config, OutboxReader& outbox,
                                                    MetricsRegistry& metrics);
  ~MqttUplink();  // Stop()s
  MqttUplink(const MqttUplink&) = delete;
  MqttUplink& operator=(const MqttUplink&) = delete;

  // Registers the uplink's cursor with the outbox and starts the worker, which connects (and keeps
  // reconnecting with backoff) in the background: an unreachable broker is not an error here.
  Status Start();
  // Disconnects (at most about a second) and joins the worker. Idempotent.
  void Stop();
  // New records were committed: publish now instead of at the next idle poll (20 ms).
  void Wake();

  State GetState() const;
  const uplink::MqttUplinkConfig& config() const;

 private:
  class Impl;
  explicit MqttUplink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pf
