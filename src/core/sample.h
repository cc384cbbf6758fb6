#pragma once
// The sample contract (docs/schema.md): what every source emits and every sink consumes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/time.h"

namespace pf {

enum class Quality : uint8_t { kGood = 0, kUncertain = 1, kBad = 2 };

// Sub-codes refine the quality; each maps from the source protocol's own status.
enum class QualitySub : uint8_t {
  kNone = 0,           // good, nothing to add
  kStale,              // not updated within the expected period
  kCommFailure,        // the source could not be reached (timeout, connection refused, CRC)
  kSensorFailure,      // the device reports the sensor broken
  kOutOfRange,         // outside the configured or physical range
  kSubstituted,        // a value set manually or by a rule, not measured
  kConfigError,        // the device refused the address (Modbus exception 2, OPC UA BadNodeIdUnknown)
  kDeviceFailure,      // the device reports an internal failure (Modbus exception 4)
  kLastKnown,          // last known value repeated while the source is down
  kNotConnected,       // never connected yet
  kParseError,         // the raw value could not be decoded (bad CSV cell, NaN where not allowed)
  kGap,                // a gap that could not be filled (recorded over its time range)
};

std::string_view QualityName(Quality q);        // "good", "uncertain", "bad"
std::string_view QualitySubName(QualitySub s);  // "stale", "comm_failure", ...
std::optional<Quality> ParseQuality(std::string_view name);
std::optional<QualitySub> ParseQualitySub(std::string_view name);

// A tag's value. Numbers are the common case; strings come from Modbus string registers and
// OPC UA; monostate means "no value" (a bad sample carries no value).
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

// Numeric view of a value: bools are 0/1, strings and monostate are nullopt.
std::optional<double> AsDouble(const Value& v);
std::string ValueToString(const Value& v);

using TagId = uint32_t;  // index into the runtime's tag table, stable for one process

struct Sample {
  TagId tag = 0;
  Value value;
  Timestamp source_time;   // when the source says the value was measured (or the poll time)
  Timestamp receive_time;  // when plantfloor received it
  uint64_t seq = 0;        // per-source sequence number, strictly increasing per source
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
};

// A block of a waveform (vibration, current): n samples at a fixed rate starting at start_time.
struct Block {
  TagId tag = 0;
  Timestamp start_time;
  double sample_rate_hz = 0;
  uint64_t seq = 0;
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
  std::vector<float> values;
};

}  // namespace pf
