#include "spc/rules.h"

#include <algorithm>
#include <cmath>

namespace pf::spc {
namespace {

constexpr std::array<std::string_view, kRuleCount> kNames = {
    "we1", "we2", "we3", "we4", "nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8"};

// Pattern lengths (Western Electric handbook 1956; Nelson, J. Quality Technology 16(4), 1984).
constexpr int kWe4Run = 8;
constexpr int kNelson2Run = 9;
constexpr int kTrendRun = 6;
constexpr int kAlternatingRun = 14;
constexpr int kZoneCRun = 15;
constexpr int kOutsideZoneCRun = 8;

std::string Range(const std::vector<int>& pts) { return fmt::format("{}-{}", pts.front(), pts.back()); }

std::string List(const std::vector<int>& pts) {
  std::string s;
  for (int i : pts) s += (s.empty() ? "" : ", ") + std::to_string(i);
  return s;
}

}  // namespace

std::string_view RuleName(Rule r) { return kNames[static_cast<int>(r)]; }
bool IsLimitRule(Rule r) { return r == Rule::kWe1 || r == Rule::kNelson1; }

bool RuleSet::Has(Rule r) const { return std::find(rules.begin(), rules.end(), r) != rules.end(); }

std::optional<Rule> RuleSet::LimitRule() const {
  if (Has(Rule::kWe1)) return Rule::kWe1;
  if (Has(Rule::kNelson1)) return Rule::kNelson1;
  return std::nullopt;
}

std::string RuleSet::ToString() const {
  std::string s;
  for (Rule r : rules) s += (s.empty() ? "" : ",") + std::string(RuleName(r));
  return s.empty() ? "none" : s;
}

Result<RuleSet> ParseRuleSet(std::string_view spec) {
  RuleSet set;
  auto add = [&](Rule r) {
    if (!set.Has(r)) set.rules.push_back(r);
  };
  if (spec == "none") return set;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view item = spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "we") {
      for (int i = 0; i < 4; ++i) add(static_cast<Rule>(i));
    } else if (item == "nelson") {
      for (int i = 4; i < kRuleCount; ++i) add(static_cast<Rule>(i));
    } else {
      auto it = std::find(kNames.begin(), kNames.end(), item);
      if (it == kNames.end())
        return InvalidArgument("rules '{}': unknown rule '{}' (expected we, nelson, none, we1-we4, nelson1-nelson8)",
                               spec, item);
      add(static_cast<Rule>(it - kNames.begin()));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

RuleMonitor::RuleMonitor(RuleSet rules, std::string chart, std::string limit_zone)
    : rules_(std::move(rules)), chart_(std::move(chart)), limit_zone_(std::move(limit_zone)) {}

std::vector<int> RuleMonitor::LastIndices(int k) const {
  std::vector<int> out;
  for (int i = k - 1; i >= 0; --i) out.push_back(Back(i).index);
  return out;
}

// k of the last `window` points beyond `line` sigma on the newest point's side (the newest beyond).
void RuleMonitor::CountBeyond(double line, int window, int need, Rule rule, std::string_view zone,
                              std::vector<Violation>* out) {
  const Seen& now = Back(0);
  if (!now.zone_ok || std::fabs(now.z) <= line) return;
  double side = now.z > 0 ? 1 : -1;
  int avail = static_cast<int>(std::min<int64_t>(window, count_));
  auto beyond = [&](int k) {
    const Seen& s = Back(k);
    return s.zone_ok && side * s.z > line;
  };
  int hits = 0;
  for (int k = 0; k < avail; ++k) hits += beyond(k);
  if (hits < need) return;  // the common case: no allocation for a point that completes nothing
  std::vector<int> pts;
  pts.reserve(static_cast<size_t>(hits));
  for (int k = avail - 1; k >= 0; --k)
    if (beyond(k)) pts.push_back(Back(k).index);
  out->push_back({std::string(RuleName(rule)), chart_, pts, std::string(zone),
                  fmt::format("{} of {} points ({}) beyond {} sigma {} the center line", pts.size(), window, List(pts),
                              line, side > 0 ? "above" : "below")});
}

void RuleMonitor::SameSide(int run, Rule rule, std::vector<Violation>* out) {
  if (count_ < run) return;
  double side = Back(0).z > 0 ? 1 : -1;
  for (int k = 0; k < run; ++k) {
    const Seen& s = Back(k);
    if (!s.zone_ok || side * s.z <= 0) return;
  }
  std::vector<int> pts = LastIndices(run);
  out->push_back({std::string(RuleName(rule)), chart_, pts, "same side",
                  fmt::format("{} points in a row ({}) {} the center line", run, Range(pts),
                              side > 0 ? "above" : "below")});
}

void RuleMonitor::Add(const RulePoint& p, std::vector<Violation>* out) {
  bool zone_ok = p.sigma > 0 && std::isfinite(p.sigma);
  ring_[count_ % kDepth] = Seen{p.index, p.value, zone_ok ? (p.value - p.center) / p.sigma : 0.0, zone_ok};
  ++count_;
  for (Rule r : rules_.rules) {
    switch (r) {
      case Rule::kWe1:
      case Rule::kNelson1:
        if (p.value > p.ucl || p.value < p.lcl) {
          bool above = p.value > p.ucl;
          out->push_back({std::string(RuleName(r)), chart_, {p.index}, limit_zone_,
                          fmt::format("point {}: {:.6g} {} {} {:.6g}", p.index, p.value, above ? "above" : "below",
                                      above ? "UCL" : "LCL", above ? p.ucl : p.lcl)});
        }
        break;
      case Rule::kWe2:
      case Rule::kNelson5:
        CountBeyond(2, 3, 2, r, "zone A", out);
        break;
      case Rule::kWe3:
      case Rule::kNelson6:
        CountBeyond(1, 5, 4, r, "zone B", out);
        break;
      case Rule::kWe4:
        SameSide(kWe4Run, r, out);
        break;
      case Rule::kNelson2:
        SameSide(kNelson2Run, r, out);
        break;
      case Rule::kNelson3: {
        if (count_ < kTrendRun) break;
        int dir = 0;
        bool ok = true;
        for (int k = 0; k + 1 < kTrendRun && ok; ++k) {
          double d = Back(k).value - Back(k + 1).value;
          int s = d > 0 ? 1 : (d < 0 ? -1 : 0);
          if (s == 0 || (dir != 0 && s != dir)) ok = false;
          dir = s;
        }
        if (!ok) break;
        std::vector<int> pts = LastIndices(kTrendRun);
        out->push_back({std::string(RuleName(r)), chart_, pts, "trend",
                        fmt::format("{} points in a row ({}) steadily {}", kTrendRun, Range(pts),
                                    dir > 0 ? "increasing" : "decreasing")});
        break;
      }
      case Rule::kNelson4: {
        if (count_ < kAlternatingRun) break;
        int prev = 0;
        bool ok = true;
        for (int k = 0; k + 1 < kAlternatingRun && ok; ++k) {
          double d = Back(k).value - Back(k + 1).value;
          int s = d > 0 ? 1 : (d < 0 ? -1 : 0);
          if (s == 0 || s == prev) ok = false;
          prev = s;
        }
        if (!ok) break;
        std::vector<int> pts = LastIndices(kAlternatingRun);
        out->push_back({std::string(RuleName(r)), chart_, pts, "alternating",
                        fmt::format("{} points in a row ({}) alternating up and down", kAlternatingRun, Range(pts))});
        break;
      }
      case Rule::kNelson7:
      case Rule::kNelson8: {
        int run = r == Rule::kNelson7 ? kZoneCRun : kOutsideZoneCRun;
        if (count_ < run) break;
        bool ok = true;
        for (int k = 0; k < run && ok; ++k) {
          const Seen& s = Back(k);
          ok = s.zone_ok && (r == Rule::kNelson7 ? std::fabs(s.z) < 1 : std::fabs(s.z) > 1);
        }
        if (!ok) break;
        std::vector<int> pts = LastIndices(run);
        out->push_back({std::string(RuleName(r)), chart_, pts, r == Rule::kNelson7 ? "zone C" : "outside zone C",
                        r == Rule::kNelson7
                            ? fmt::format("{} points in a row ({}) within 1 sigma of the center line", run, Range(pts))
                            : fmt::format("{} points in a row ({}) beyond 1 sigma, none within 1 sigma", run,
                                          Range(pts))});
        break;
      }
    }
  }
}

std::vector<Violation> EvaluateRules(const std::vector<RulePoint>& points, const RuleSet& rules,
                                     const std::string& chart, const std::string& limit_zone) {
  RuleMonitor monitor(rules, chart, limit_zone);
  std::vector<Violation> out;
  for (const RulePoint& p : points) monitor.Add(p, &out);
  return out;
}

}  // namespace pf::spc
