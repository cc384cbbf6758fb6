#include "alerts/flood.h"

#include <algorithm>

namespace pf::alerts {

using nlohmann::json;

void FloodDetector::Count(Position& p, const Raise& r) {
  FloodRecord& f = p.current;
  if (f.count == 0 || r.time < f.first) f.first = r.time;
  if (f.count == 0 || r.time > f.last) f.last = r.time;
  ++f.count;
  if (r.priority == Priority::kLow) ++f.low;
  if (r.priority == Priority::kMedium) ++f.medium;
  if (r.priority == Priority::kHigh) ++f.high;
  ++p.causes[{r.asset, r.cause}];
}

FloodRecord FloodDetector::Summary(const Position& p) {
  FloodRecord f = p.current;
  std::vector<CauseCount> all;
  for (const auto& [key, n] : p.causes) all.push_back({key.first, key.second, n});
  std::stable_sort(all.begin(), all.end(), [](const CauseCount& a, const CauseCount& b) { return a.count > b.count; });
  if (all.size() > 5) all.resize(5);
  f.top = std::move(all);
  return f;
}

void FloodDetector::AdvancePosition(const std::string& name, Position& p, Timestamp now,
                                    std::vector<FloodRecord>& out) {
  const size_t n = static_cast<size_t>(count_);
  if (p.in_flood && p.recent.size() > n) {
    Timestamp end = p.recent[p.recent.size() - n - 1].time + window_;
    if (end <= now) {
      p.in_flood = false;
      FloodRecord f = Summary(p);
      f.position = name;
      f.ended = true;
      f.end = end;
      out.push_back(std::move(f));
      p.current = FloodRecord{};
      p.causes.clear();
    }
  }
  while (!p.recent.empty() && p.recent.front().time <= now - window_) p.recent.pop_front();
}

void FloodDetector::Advance(Timestamp now, std::vector<FloodRecord>& out) {
  for (auto& [name, p] : positions_) AdvancePosition(name, p, now, out);
}

void FloodDetector::OnRaise(const AlertTransition& raise, std::vector<FloodRecord>& out) {
  Position& p = positions_[raise.position];
  AdvancePosition(raise.position, p, raise.time, out);
  Raise r{raise.time, raise.asset, raise.cause, raise.priority};
  auto at = std::upper_bound(p.recent.begin(), p.recent.end(), r.time,
                             [](Timestamp t, const Raise& x) { return t < x.time; });
  p.recent.insert(at, r);
  if (p.in_flood) {
    Count(p, r);
    return;
  }
  if (p.recent.size() <= static_cast<size_t>(count_)) return;
  p.in_flood = true;
  for (const Raise& x : p.recent) Count(p, x);
  p.current.position = raise.position;
  p.current.start = raise.time;
  p.current.end = raise.time;
  FloodRecord f = Summary(p);
  out.push_back(std::move(f));
}

bool FloodDetector::InFlood(const std::string& position) const {
  auto it = positions_.find(position);
  return it != positions_.end() && it->second.in_flood;
}

json FloodDetector::ToJson() const {
  json positions = json::object();
  for (const auto& [name, p] : positions_) {
    json recent = json::array();
    for (const Raise& r : p.recent) recent.push_back({r.time.ns, r.asset, r.cause, static_cast<int>(r.priority)});
    json causes = json::array();
    for (const auto& [key, n] : p.causes) causes.push_back({key.first, key.second, n});
    const FloodRecord& f = p.current;
    positions[name] = {{"recent", recent},   {"in_flood", p.in_flood}, {"causes", causes},
                       {"start", f.start.ns}, {"count", f.count},      {"low", f.low},
                       {"medium", f.medium},  {"high", f.high},        {"first", f.first.ns},
                       {"last", f.last.ns}};
  }
  return positions;
}

Status FloodDetector::FromJson(const json& j) {
  try {
    positions_.clear();
    for (const auto& [name, pj] : j.items()) {
      Position p;
      for (const auto& r : pj.at("recent"))
        p.recent.push_back({Timestamp{r.at(0).get<int64_t>()}, r.at(1).get<std::string>(), r.at(2).get<std::string>(),
                            static_cast<Priority>(std::clamp(r.at(3).get<int>(), 0, 2))});
      for (const auto& c : pj.at("causes")) p.causes[{c.at(0).get<std::string>(), c.at(1).get<std::string>()}] = c.at(2).get<int>();
      p.in_flood = pj.at("in_flood").get<bool>();
      FloodRecord& f = p.current;
      f.position = p.in_flood ? name : "";
      f.start = f.end = Timestamp{pj.at("start").get<int64_t>()};
      f.count = pj.at("count").get<int>();
      f.low = pj.at("low").get<int>();
      f.medium = pj.at("medium").get<int>();
      f.high = pj.at("high").get<int>();
      f.first = Timestamp{pj.at("first").get<int64_t>()};
      f.last = Timestamp{pj.at("last").get<int64_t>()};
      positions_[name] = std::move(p);
    }
  } catch (const json::exception& e) {
    return DataLoss("alerts snapshot: floods: {}", e.what());
  }
  return Status::Ok();
}

}  // namespace pf::alerts
