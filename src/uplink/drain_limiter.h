#pragma once
// A token bucket on bytes: the drain-rate limit of an uplink, so that a backlog flush after an
// outage does not choke a thin link. Not thread-safe (one publishing thread owns it); it never
// sleeps itself: Take() says how long the caller must wait, so the caller can wait on its own
// condition variable (and be stopped) without holding a lock while it waits.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace pf::uplink {

class DrainLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // rate_bytes_s 0 = unlimited. The burst is a tenth of a second of the rate (at least 1 byte), so
  // the average over one or two seconds stays within a few percent of the rate.
  explicit DrainLimiter(uint64_t rate_bytes_s, Clock::time_point now = Clock::now())
      : rate_(static_cast<double>(rate_bytes_s)),
        burst_(std::max(1.0, rate_ / 10)),
        tokens_(burst_),
        last_(now) {}

  bool unlimited() const { return rate_ <= 0; }

  // How long to wait before `bytes` may be sent (zero: now). A message bigger than the burst is
  // let through once the bucket is full and leaves it in debt, so any size eventually passes.
  Clock::duration Wait(uint64_t bytes, Clock::time_point now) {
    if (unlimited()) return Clock::duration::zero();
    Refill(now);
    double need = std::min(static_cast<double>(bytes), burst_);
    if (tokens_ >= need) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>((need - tokens_) / rate_));
  }
  // Spends the tokens of a message that was sent.
  void Take(uint64_t bytes, Clock::time_point now) {
    if (unlimited()) return;
    Refill(now);
    tokens_ -= static_cast<double>(bytes);
  }

 private:
  void Refill(Clock::time_point now) {
    double dt = std::chrono::duration<double>(now - last_).count();
    if (dt > 0) tokens_ = std::min(burst_, tokens_ + dt * rate_);
    last_ = std::max(last_, now);
  }
  double rate_, burst_, tokens_;
  Clock::time_point last_;
};

}  // namespace pf::uplink
