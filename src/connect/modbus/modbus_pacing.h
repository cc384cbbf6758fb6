#pragma once
// Pacing for one PLC connection: a request-rate cap and reconnect backoff. Not thread-safe: owned
// by the source thread. Times are steady-clock nanoseconds (MonotonicNs()).
#include <algorithm>
#include <cstdint>
#include <random>

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

// Exponential backoff: min, 2*min, 4*min ... capped at max, each with +-20 % jitter so that many
// edge devices restarting together do not reconnect in lockstep. Reset() after a good exchange.
class Backoff {
 public:
  Backoff(Duration min, Duration max, uint64_t seed = 0x5eed) : min_(min), max_(max), next_(min), rng_(seed) {}
  // The delay to wait before the next attempt; advances the sequence.
  Duration Next() {
    Duration d = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return std::min(max_, Duration(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng_))));
  }
  void Reset() { next_ = min_; }

 private:
  Duration min_, max_, next_;
  std::mt19937_64 rng_;
};

}  // namespace pf::modbus
