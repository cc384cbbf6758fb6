#pragma once
// Reconnect backoff shared by every source that talks to a peer (Modbus, OPC UA, MQTT):
// min, 2*min, 4*min ... capped at max, each with +-20 % jitter so that many edge devices
// restarting together do not reconnect in lockstep. Reset() after a good exchange.
// Not thread-safe: owned by one source thread.
#include <algorithm>
#include <cstdint>
#include <random>

#include "core/time.h"

namespace pf {

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

}  // namespace pf
