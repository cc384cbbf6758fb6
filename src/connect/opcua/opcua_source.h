#pragma once
// The OPC UA source: one Monitor (monitor.h: its own thread, one connection and one subscription) per
// server, shared by all its tags; item i of the subscription is tag i of the source.
//
// Contract:
// - Every data change becomes one sample: source_time = the DataValue's SourceTimestamp (else its
//   ServerTimestamp, else the receive time), receive_time = when the notification arrived, seq strictly
//   increasing per source. The StatusCode's severity gives the quality (MapStatusCode below); a bad
//   sample carries no value.
// - Values: Boolean -> bool; SByte..Int64, UInt64 up to 2^63-1, StatusCode -> int64; larger UInt64,
//   Float, Double -> double (NaN and infinities are refused: bad/parse_error); String, XmlElement,
//   LocalizedText (its text) -> string; ByteString -> base64; DateTime -> RFC 3339 with 7 fraction
//   digits; Guid, NodeId, ExpandedNodeId, QualifiedName ("ns:name") -> their text form. A Variant or
//   DataValue nested in a Variant is unwrapped. ExtensionObject and DiagnosticInfo have no tag value:
//   bad/config_error with a message naming the node and the type.
// - Arrays: a tag with waveform = true turns a numeric array into a Block at its sample_rate (start =
//   source_time); any other array is refused at the first value (bad/config_error, logged once).
// - Bad quality on transition only: when the connection is lost (or never made) every tag gets one
//   bad/comm_failure sample, nothing more while it stays down. A range the Monitor could not recover
//   (MonitorGap) gives each of its tags one bad/gap sample at the gap's `from` and an event of kind
//   "source_gap" (start = from, end = to); good values follow from the recovered subscription.
// - Events of kind "source_status" on connected / disconnected / unreachable (never connected).
// - Stop() returns within about one client timeout even when the server is dead (Monitor::Stop).
// - Metrics (label source): pf_opcua_notifications_total, pf_opcua_gaps_total, pf_opcua_reconnects_total,
//   pf_opcua_item_errors_total, pf_samples_read_total.
// Thread-safety: the Monitor's callbacks all run on its one thread; Start/Stop from the runtime's.
#include <variant>

#include "connect/opcua/opcua_config.h"
#include "connect/opcua/types.h"
#include "connect/source.h"

namespace pf {

// The "opcua" row of the connector table (connect/registry.cpp).
ConnectorInfo OpcuaConnector();

namespace opcua {

struct MappedQuality {
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
  bool operator==(const MappedQuality&) const = default;
};
// Severity (top two bits: 00 good, 01 uncertain, 10/11 bad) -> quality; well-known sub-codes refine it
// (BadNodeIdUnknown -> config_error, BadNotConnected -> comm_failure, UncertainLastUsableValue ->
// last_known, ...). The 16 info bits are ignored.
MappedQuality MapStatusCode(StatusCode status);

// One scalar Variant as a tag value (see the contract above). kFailedPrecondition for a type that has no
// tag value (ExtensionObject, DiagnosticInfo, arrays), kOutOfRange for NaN / infinities.
Result<Value> ConvertScalar(const Variant& v);

// SourceTimestamp (+ picoseconds), else ServerTimestamp, else `received`.
Timestamp SourceTime(const DataValue& dv, Timestamp received);

// What one DataValue becomes for a tag: a Sample or (waveform tags) a Block; seq left 0. When `problem`
// is not ok the value could not be used: data is a bad Sample whose sub-code says why, and problem says
// what in words (for the log).
struct TagValue {
  std::variant<Sample, Block> data;
  Status problem;
};
TagValue ConvertDataValue(const TagConfig& tag, const DataValue& dv, Timestamp received);

}  // namespace opcua
}  // namespace pf
