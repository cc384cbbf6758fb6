#pragma once
// Alarm-rate metrics the ISA-18.2 / EEMUA 191 way, computed from a transition history per
// operator position (or per area) over a period, each shown beside its published target:
//   alerts per 10 minutes, average and max  EEMUA 191 long-term average: < 1 "very likely
//                                           acceptable", 2 "manageable", 5 "likely over-demanding",
//                                           10 and more "very likely unacceptable"
//   % of 10-minute intervals in flood       flood: more than 10 alerts in 10 minutes; target < 1%
//   standing alerts                         occurrences not ended and older than standing_after
//                                           (default 24 h) at the period end; target < 5 per position
//   chattering alerts                       occurrences flagged chattering in the period; target 0
//   top 10 most frequent (asset, cause)     raises per pair, most first, ties by asset then cause
//   priority mix                            % low/medium/high raised vs the 80/15/5 target
// An alert counts in the interval of its "raise" transition; intervals are aligned on
// period_start. Pure function of its input.
#include <span>
#include <string>
#include <vector>

#include "alerts/alert_types.h"

namespace pf::alerts {

struct AlarmTargets {
  static constexpr double kAcceptablePer10Min = 1;    // "very likely acceptable"
  static constexpr double kManageablePer10Min = 2;    // "manageable"
  static constexpr double kOverDemandingPer10Min = 5; // "likely over-demanding"
  static constexpr int kFloodAbove = 10;              // more than 10 in 10 minutes
  static constexpr double kFloodPercentBelow = 1;     // % of time in flood
  static constexpr int kStandingBelow = 5;            // per position
  static constexpr int kChatteringTarget = 0;
  static constexpr double kLowPercent = 80, kMediumPercent = 15, kHighPercent = 5;
};

struct MetricsOptions {
  Timestamp period_start, period_end;  // [start, end)
  Duration interval = std::chrono::minutes(10);
  int flood_above = AlarmTargets::kFloodAbove;  // an interval with more raises than this is a flood
  Duration standing_after = std::chrono::hours(24);
  size_t top_n = 10;
  bool by_area = false;  // group by area instead of operator position
};

struct FrequentAlert {
  std::string asset, cause;
  int count = 0;
  bool operator==(const FrequentAlert&) const = default;
};

struct GroupMetrics {
  std::string name;  // operator position (or area)
  int alerts = 0;    // raised within the period
  std::vector<int> per_interval;  // raises per interval
  double per_10min_avg = 0;       // alerts / (period length / 10 minutes)
  int per_interval_max = 0;
  int flood_intervals = 0;
  double flood_percent = 0;  // flood_intervals / intervals * 100
  int standing = 0;
  int chattering = 0;
  std::vector<FrequentAlert> top;
  int low = 0, medium = 0, high = 0;
  double low_percent = 0, medium_percent = 0, high_percent = 0;
  std::string rate_assessment;  // EEMUA 191 wording for per_10min_avg
};

struct AlarmMetrics {
  Timestamp period_start, period_end;
  Duration interval{0};
  std::vector<GroupMetrics> groups;  // by name
  // {"period": {...}, "groups": [{"position": ..., "alerts_per_10min": {"avg": .., "max": ..,
  //  "target": 1, "manageable": 2, "assessment": ..}, "flood_percent": {"value": .., "target_below": 1},
  //  ...}]}
  std::string ToJson() const;
};

// EEMUA 191 wording for an average rate per 10 minutes.
std::string_view RateAssessment(double per_10min);

// InvalidArgument when the period is empty or the interval is not above 0.
Result<AlarmMetrics> ComputeAlarmMetrics(std::span<const AlertTransition> history, const MetricsOptions& options);

}  // namespace pf::alerts
