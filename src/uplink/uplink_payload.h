#pragma once
// The wire format of the uplink (docs/uplink-schema.md, schema version 1): one MQTT topic and one
// JSON payload per outbox record. Pure functions, no I/O; thread-safe.
//
// Topic:   <prefix>/<device>/<type>/<asset>[/<tag>]     (tag only for samples)
// Payload: {"schema":1,"id":"<device>/<record id>","record":<record id>,"type":"<type>", ...}
// The id is stable across reconnects and restarts, so consumers drop duplicates by it.
#include <cstdint>
#include <string>
#include <string_view>

#include "store/outbox.h"

namespace pf::uplink {

constexpr int kSchemaVersion = 1;

// "sample", "event", "alert", "label", "ledger": the <type> topic level and payload "type".
std::string_view TypeName(RecordType t);

// One topic level: characters MQTT forbids or reserves in a published topic level ('/', '+', '#',
// NUL) become '_'; an empty level becomes "_".
std::string TopicLevel(std::string_view s);

struct Encoded {
  std::string topic;
  std::string payload;
  size_t bytes() const { return topic.size() + payload.size(); }
};

// Encodes one record. Strings that are not valid UTF-8 are repaired (U+FFFD), never refused, so
// one odd record cannot block the outbox. Non-finite doubles are sent as null.
Encoded Encode(const OutboxRecord& record, std::string_view prefix, std::string_view device);

// "<device>/<record id>".
std::string MessageId(std::string_view device, uint64_t record_id);

}  // namespace pf::uplink
