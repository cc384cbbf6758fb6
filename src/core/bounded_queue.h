#pragma once
// A bounded multi-producer multi-consumer queue. Push blocks while full, which is how a source is
// paused under backpressure; memory never grows past the capacity. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace pf {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Blocks while the queue is full. Returns false (and drops nothing: item is untouched) when
  // the queue is closed.
  bool Push(T&& item) {
    std::unique_lock lk(mu_);
    if (items_.size() >= capacity_) {
      ++full_waits_;
      not_full_.wait(lk, [&] { return closed_ || items_.size() < capacity_; });
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Like Push but gives up after the timeout; returns false when full or closed.
  template <typename Rep, typename Period>
  bool PushFor(T&& item, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lk(mu_);
    if (!not_full_.wait_for(lk, timeout, [&] { return closed_ || items_.size() < capacity_; }))
      return false;
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Waits up to the timeout for at least one item, then moves up to max items into out.
  // Returns false only when the queue is closed and drained.
  template <typename Rep, typename Period>
  bool PopBatch(std::vector<T>& out, size_t max, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lk(mu_);
    not_empty_.wait_for(lk, timeout, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return !closed_;
    size_t n = 0;
    while (!items_.empty() && n < max) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
      ++n;
    }
    not_full_.notify_all();
    return true;
  }

  // Wakes every waiter; Push fails afterwards, PopBatch drains what is left.
  void Close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard lk(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  // How often a producer had to wait because the queue was full (backpressure events).
  uint64_t full_waits() const {
    std::lock_guard lk(mu_);
    return full_waits_;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
  uint64_t full_waits_ = 0;
};

}  // namespace pf
