#pragma once
// How a replay file writes its timestamps. Immutable after Parse(); thread-safe.
//   "rfc3339"            2018-01-01T00:15:00Z, with offset or Z (an absolute instant)
//   "epoch_s"            seconds since 1970 UTC, may have a fraction (absolute)
//   "epoch_ms"           milliseconds since 1970 UTC, integer (absolute)
//   strftime-like        %Y %m %d %H %M %S (%S may carry a ".fff" fraction), %% and literal
//                        characters, e.g. "%d/%m/%Y %H:%M" or "%Y-%m-%d %H:%M:%S": a local
//                        wall-clock reading, mapped to UTC with the file's time zone.
#include <cstdint>
#include <string>
#include <string_view>

#include "connect/replay/tz.h"
#include "core/status.h"
#include "core/time.h"

namespace pf {

struct ParsedTime {
  bool absolute = false;  // instant is set; otherwise local (+ fraction_ns) needs a time zone
  Timestamp instant;
  CivilTime local;
  int64_t fraction_ns = 0;
};

class TimeFormat {
 public:
  static Result<TimeFormat> Parse(std::string_view spec);
  // InvalidArgument naming the text and the expected format when it does not match.
  Result<ParsedTime> Apply(std::string_view text) const;
  const std::string& spec() const { return spec_; }

 private:
  enum class Kind { kRfc3339, kEpochS, kEpochMs, kPattern };
  Kind kind_ = Kind::kRfc3339;
  std::string spec_;
};

}  // namespace pf
