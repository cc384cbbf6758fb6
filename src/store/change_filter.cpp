#include <cmath>

#include "store/history.h"

namespace pf {
namespace {

bool IsNumber(const Value& v) {
  return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
}

// True when v moved away from last by more than the deadband (numbers) or differs (other kinds).
bool Changed(const Value& last, const Value& v, double deadband) {
  if (IsNumber(last) && IsNumber(v)) {
    double a = *AsDouble(last), b = *AsDouble(v);
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) != std::isnan(b);
    return std::fabs(b - a) > deadband;
  }
  return last != v;
}

}  // namespace

void ChangeFilter::Configure(TagId tag, StoreMode mode, double deadband, Duration max_interval) {
  if (states_.size() <= tag) states_.resize(tag + 1);
  State& s = states_[tag];
  s.mode = mode;
  s.deadband = deadband;
  s.max_interval = max_interval;
}

bool ChangeFilter::Keep(const Sample& sample) {
  // A tag never configured is filtered on change with no deadband.
  if (states_.size() <= sample.tag) states_.resize(sample.tag + 1);
  State& s = states_[sample.tag];
  bool keep = false;
  switch (s.mode) {
    case StoreMode::kNone:
      return false;
    case StoreMode::kAll:
      keep = true;
      break;
    case StoreMode::kOnChange:
      keep = !s.has_last || sample.quality != s.quality || sample.sub != s.sub ||
             (s.max_interval > Duration::zero() && sample.source_time - s.last_time >= s.max_interval) ||
             Changed(s.last, sample.value, s.deadband);
      break;
  }
  if (keep) {
    s.has_last = true;
    s.last = sample.value;
    s.quality = sample.quality;
    s.sub = sample.sub;
    s.last_time = sample.source_time;
  }
  return keep;
}

}  // namespace pf
