#include "core/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace pf {

void Gauge::Add(double d) {
  double cur = v_.load(std::memory_order_relaxed);
  while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

double Histogram::Quantile(double q) const {
  uint64_t total = count();
  if (total == 0) return 0;
  uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += bucket(i);
    if (acc >= target) return i < bounds_.size() ? bounds_[i] : INFINITY;
  }
  return INFINITY;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name, const std::string& help,
                                                    const char* type) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  return f;
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lk(mu_);
  auto& f = FamilyFor(name, help, "counter");
  auto key = RenderLabels(labels);
  auto& p = f.counters[key];
  if (!p) {
    p = std::make_unique<Counter>();
    f.label_sets[key] = labels;
  }
  return *p;
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lk(mu_);
  auto& f = FamilyFor(name, help, "gauge");
  auto key = RenderLabels(labels);
  auto& p = f.gauges[key];
  if (!p) {
    p = std::make_unique<Gauge>();
    f.label_sets[key] = labels;
  }
  return *p;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const Labels& labels, std::vector<double> bounds) {
  std::lock_guard lk(mu_);
  auto& f = FamilyFor(name, help, "histogram");
  auto key = RenderLabels(labels);
  auto& p = f.histograms[key];
  if (!p) {
    p = std::make_unique<Histogram>(std::move(bounds));
    f.label_sets[key] = labels;
  }
  return *p;
}

void MetricsRegistry::GaugeCallback(const std::string& name, const std::string& help, const Labels& labels,
                                    std::function<double()> fn, const void* owner) {
  std::lock_guard lk(mu_);
  auto& f = FamilyFor(name, help, "gauge");
  auto key = RenderLabels(labels);
  f.callbacks[key] = {std::move(fn), owner};
  f.label_sets[key] = labels;
}

void MetricsRegistry::GaugeFamilyCallback(const std::string& name, const std::string& help, std::function<Series()> fn,
                                          const void* owner) {
  std::lock_guard lk(mu_);
  FamilyFor(name, help, "gauge").family_callbacks.emplace_back(std::move(fn), owner);
}

void MetricsRegistry::RemoveCallbacks(const void* owner) {
  std::lock_guard lk(mu_);
  for (auto& [name, f] : families_) {
    std::erase_if(f.callbacks, [&](const auto& kv) { return kv.second.second == owner; });
    std::erase_if(f.family_callbacks, [&](const auto& cb) { return cb.second == owner; });
  }
}

namespace {
std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}
std::string WithLe(const Labels& labels, const std::string& le) {
  Labels l = labels;
  l["le"] = le;
  return RenderLabels(l);
}
}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lk(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [key, c] : f.counters) out += fmt::format("{}{} {}\n", name, key, c->value());
    for (const auto& [key, g] : f.gauges) out += fmt::format("{}{} {}\n", name, key, Num(g->value()));
    for (const auto& [key, cb] : f.callbacks) out += fmt::format("{}{} {}\n", name, key, Num(cb.first()));
    for (const auto& [fn, owner] : f.family_callbacks)
      for (const auto& [labels, v] : fn()) out += fmt::format("{}{} {}\n", name, RenderLabels(labels), Num(v));
    for (const auto& [key, h] : f.histograms) {
      const Labels& labels = f.label_sets.at(key);
      uint64_t acc = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        acc += h->bucket(i);
        out += fmt::format("{}_bucket{} {}\n", name, WithLe(labels, Num(h->bounds()[i])), acc);
      }
      acc += h->bucket(h->bounds().size());
      out += fmt::format("{}_bucket{} {}\n", name, WithLe(labels, "+Inf"), acc);
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, key, Num(h->sum()), name, key, h->count());
    }
  }
  return out;
}

double MetricsRegistry::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard lk(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto key = RenderLabels(labels);
  const auto& f = it->second;
  if (auto c = f.counters.find(key); c != f.counters.end()) return static_cast<double>(c->second->value());
  if (auto g = f.gauges.find(key); g != f.gauges.end()) return g->second->value();
  if (auto cb = f.callbacks.find(key); cb != f.callbacks.end()) return cb->second.first();
  return 0;
}

}  // namespace pf
