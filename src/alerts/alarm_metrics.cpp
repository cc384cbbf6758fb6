#include "alerts/alarm_metrics.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace pf::alerts {

using nlohmann::json;

std::string_view RateAssessment(double per_10min) {
  if (per_10min <= AlarmTargets::kAcceptablePer10Min) return "very likely acceptable";
  if (per_10min <= AlarmTargets::kManageablePer10Min) return "manageable";
  if (per_10min <= AlarmTargets::kOverDemandingPer10Min) return "likely over-demanding";
  return "very likely unacceptable";
}

namespace {

struct Occurrence {
  std::string group;
  Timestamp raised;
  bool has_raise = false;
  std::optional<Timestamp> ended;
};

double Percent(int part, int whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; }

void Finalize(GroupMetrics& g, const std::map<std::pair<std::string, std::string>, int>& pairs,
              const MetricsOptions& o) {
  double tens = static_cast<double>((o.period_end - o.period_start).count()) /
                static_cast<double>(std::chrono::nanoseconds(std::chrono::minutes(10)).count());
  g.per_10min_avg = g.alerts / tens;
  g.per_interval_max = g.per_interval.empty() ? 0 : *std::max_element(g.per_interval.begin(), g.per_interval.end());
  g.flood_intervals = static_cast<int>(
      std::count_if(g.per_interval.begin(), g.per_interval.end(), [&](int n) { return n > o.flood_above; }));
  g.flood_percent = Percent(g.flood_intervals, static_cast<int>(g.per_interval.size()));
  g.low_percent = Percent(g.low, g.alerts);
  g.medium_percent = Percent(g.medium, g.alerts);
  g.high_percent = Percent(g.high, g.alerts);
  g.rate_assessment = std::string(RateAssessment(g.per_10min_avg));
  for (const auto& [key, n] : pairs) g.top.push_back({key.first, key.second, n});
  // pairs is ordered by (asset, cause), so a stable sort by count keeps that order for ties.
  std::stable_sort(g.top.begin(), g.top.end(), [](const FrequentAlert& a, const FrequentAlert& b) { return a.count > b.count; });
  if (g.top.size() > o.top_n) g.top.resize(o.top_n);
}

}  // namespace

Result<AlarmMetrics> ComputeAlarmMetrics(std::span<const AlertTransition> history, const MetricsOptions& o) {
  if (o.period_end <= o.period_start)
    return InvalidArgument("alarm metrics: the period end {} is not after its start {}", FormatRfc3339(o.period_end),
                           FormatRfc3339(o.period_start));
  if (o.interval.count() <= 0) return InvalidArgument("alarm metrics: the interval must be above 0");
  const int64_t span = (o.period_end - o.period_start).count();
  const size_t intervals = static_cast<size_t>((span + o.interval.count() - 1) / o.interval.count());
  auto in_period = [&](Timestamp t) { return t >= o.period_start && t < o.period_end; };

  std::map<std::string, GroupMetrics> groups;
  std::map<std::string, std::map<std::pair<std::string, std::string>, int>> pairs;
  std::map<std::string, Occurrence> occurrences;
  std::set<std::string> chattering;
  auto group = [&](const std::string& name) -> GroupMetrics& {
    GroupMetrics& g = groups[name];
    if (g.name.empty()) {
      g.name = name;
      g.per_interval.assign(intervals, 0);
    }
    return g;
  };

  for (const AlertTransition& t : history) {
    const std::string& name = o.by_area ? t.area : t.position;
    Occurrence& occ = occurrences[t.alert_id];
    if (t.action == "raise") {
      occ.group = name;
      occ.raised = t.time;
      occ.has_raise = true;
      if (in_period(t.time)) {
        GroupMetrics& g = group(name);
        ++g.alerts;
        ++g.per_interval[static_cast<size_t>((t.time - o.period_start).count() / o.interval.count())];
        if (t.priority == Priority::kLow) ++g.low;
        if (t.priority == Priority::kMedium) ++g.medium;
        if (t.priority == Priority::kHigh) ++g.high;
        ++pairs[name][{t.asset, t.cause}];
      }
    } else if (t.to == AlertState::kNormal && t.time < o.period_end && (!occ.ended || t.time < *occ.ended)) {
      occ.ended = t.time;
    }
    if (t.action == "chattering" && in_period(t.time) && chattering.insert(t.alert_id).second) ++group(name).chattering;
  }
  for (const auto& [id, occ] : occurrences)
    if (occ.has_raise && !occ.ended && occ.raised <= o.period_end - o.standing_after) ++group(occ.group).standing;

  AlarmMetrics m;
  m.period_start = o.period_start;
  m.period_end = o.period_end;
  m.interval = o.interval;
  for (auto& [name, g] : groups) {
    Finalize(g, pairs[name], o);
    m.groups.push_back(std::move(g));
  }
  return m;
}

std::string AlarmMetrics::ToJson() const {
  json groups_json = json::array();
  for (const GroupMetrics& g : groups) {
    json top = json::array();
    for (const auto& f : g.top) top.push_back({{"asset", f.asset}, {"cause", f.cause}, {"count", f.count}});
    groups_json.push_back({
        {"name", g.name},
        {"alerts", g.alerts},
        {"per_interval", g.per_interval},
        {"alerts_per_10min",
         {{"avg", g.per_10min_avg},
          {"max", g.per_interval_max},
          {"target", AlarmTargets::kAcceptablePer10Min},
          {"manageable", AlarmTargets::kManageablePer10Min},
          {"assessment", g.rate_assessment}}},
        {"flood",
         {{"intervals", g.flood_intervals},
          {"percent", g.flood_percent},
          {"flood_above_per_10min", AlarmTargets::kFloodAbove},
          {"target_percent_below", AlarmTargets::kFloodPercentBelow}}},
        {"standing", {{"value", g.standing}, {"target_below", AlarmTargets::kStandingBelow}}},
        {"chattering", {{"value", g.chattering}, {"target", AlarmTargets::kChatteringTarget}}},
        {"top", top},
        {"priority_mix",
         {{"low", {{"count", g.low}, {"percent", g.low_percent}, {"target_percent", AlarmTargets::kLowPercent}}},
          {"medium", {{"count", g.medium}, {"percent", g.medium_percent}, {"target_percent", AlarmTargets::kMediumPercent}}},
          {"high", {{"count", g.high}, {"percent", g.high_percent}, {"target_percent", AlarmTargets::kHighPercent}}}}},
    });
  }
  json j = {{"period",
             {{"start", FormatRfc3339(period_start)},
              {"end", FormatRfc3339(period_end)},
              {"interval", FormatDuration(interval)}}},
            {"groups", groups_json}};
  return j.dump();
}

}  // namespace pf::alerts
