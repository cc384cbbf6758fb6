#pragma once
// Metrics in one registry, rendered as Prometheus text (/metrics). Thread-safe; a metric returned
// by the registry lives as long as the registry. Cheap on the hot path: one relaxed atomic op.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pf {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Cumulative histogram with fixed upper bounds (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Approximate quantile from the buckets (upper bound of the bucket holding q).
  double Quantile(double q) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets from 100 us to 10 s.
std::vector<double> LatencyBuckets();

class MetricsRegistry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const Labels& labels = {},
                          std::vector<double> bounds = LatencyBuckets());
  // A gauge computed when rendered (queue depth, bytes on disk). fn must stay valid until
  // RemoveCallbacks(owner) or the registry's end; it is called with the registry's lock held.
  void GaugeCallback(const std::string& name, const std::string& help, const Labels& labels,
                     std::function<double()> fn, const void* owner = nullptr);
  // A gauge family whose label sets are only known when rendered (per operator position, the top
  // 10 alerts): fn returns every (labels, value) of the family. Same lifetime rules as above.
  using Series = std::vector<std::pair<Labels, double>>;
  void GaugeFamilyCallback(const std::string& name, const std::string& help, std::function<Series()> fn,
                           const void* owner = nullptr);
  void RemoveCallbacks(const void* owner);

  std::string RenderPrometheus() const;
  // Value of a counter or gauge (0 if absent); for tests and the API.
  double Value(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Family {
    std::string help, type;
    std::map<std::string, Labels> label_sets;  // key: rendered labels
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, std::pair<std::function<double()>, const void*>> callbacks;
    std::vector<std::pair<std::function<Series()>, const void*>> family_callbacks;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

std::string RenderLabels(const Labels& labels);  // {a="1",b="x"} with escaping, "" when empty

}  // namespace pf
