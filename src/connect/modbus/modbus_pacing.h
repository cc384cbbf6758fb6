#pragma once
// Pacing for one PLC connection: a request-rate cap (and core/backoff.h for reconnects). Not thread-safe: owned
// by the source thread. Times are steady-clock nanoseconds (MonotonicNs()).
#include <algorithm>
#include <cstdint>
#include <random>

#include "core/backoff.h"
#include "core/time.h"

namespace pf::modbus {

// Token bucket with a burst of one request: requests are spaced at least 1/rate apart, so a PLC
// that allows few requests per second never sees a burst. rate <= 0 means unlimited.
class RequestPacer {
 public:
  explicit RequestPacer(double rate_per_s) : interval_ns_(rate_per_s > 0 ? static_cast<int64_t>(1e9 / rate_per_s) : 0) {}
  // When the next request may be sent (<= now: at once).
  int64_t NextAllowedNs() const { return next_ns_; }
  // Records a request sent at now_ns.
  void Sent(int64_t now_ns) { next_ns_ = std::max(next_ns_, now_ns) + interval_ns_; }

 private:
  int64_t interval_ns_;
  int64_t next_ns_ = 0;
};

// Reconnect backoff: the one in core (shared with the other sources).
using ::pf::Backoff;

}  // namespace pf::modbus
