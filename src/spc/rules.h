#pragma once
// Run rules on a control chart: the four Western Electric rules and the eight Nelson rules,
// each selectable. z = (value - center) / sigma, sigma = one standard error of the plotted point
// (per point when limits vary, so p/np/c/u with variable sizes are judged on the standardized z).
//   we1  nelson1  one point beyond the control limits              zone "beyond 3 sigma"
//   we2  nelson5  2 of 3 in a row beyond 2 sigma, same side        zone "zone A"
//   we3  nelson6  4 of 5 in a row beyond 1 sigma, same side        zone "zone B"
//   we4           8 in a row on one side of the center line        zone "same side"
//        nelson2  9 in a row on one side of the center line        zone "same side"
//        nelson3  6 in a row steadily increasing or decreasing     zone "trend"
//        nelson4  14 in a row alternating up and down              zone "alternating"
//        nelson7  15 in a row within 1 sigma (either side)         zone "zone C"
//        nelson8  8 in a row beyond 1 sigma (either side)          zone "outside zone C"
// "Beyond" is strict (a point on a limit or zone line is inside); a point on the center line
// breaks a same-side run; equal neighbours break a trend and an alternation.
// A rule fires at the point that completes its pattern, and again at every later point that
// completes it anew (a run of 10 on one side fires we4 at points 8, 9 and 10); `points` lists the
// points that make the pattern (for k-of-m rules the ones beyond the zone line, the last one
// included). Rule 1 uses the plotted limits themselves (so an LCL truncated at 0 is honoured).
// RuleMonitor is the streaming form (one point at a time, O(1) memory); EvaluateRules runs it over
// a whole series. Not thread-safe (one owner per monitor).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::spc {

enum class Rule : uint8_t {
  kWe1, kWe2, kWe3, kWe4,
  kNelson1, kNelson2, kNelson3, kNelson4, kNelson5, kNelson6, kNelson7, kNelson8,
};
constexpr int kRuleCount = 12;
std::string_view RuleName(Rule r);  // "we1" ... "nelson8"
bool IsLimitRule(Rule r);           // we1, nelson1

struct RuleSet {
  std::vector<Rule> rules;  // in evaluation order, no duplicates
  bool Has(Rule r) const;
  bool empty() const { return rules.empty(); }
  // The rule-1 of the selection (we1 before nelson1), if any.
  std::optional<Rule> LimitRule() const;
  std::string ToString() const;  // "we1,we2"
};
// "we" (we1-we4), "nelson" (nelson1-8), "none", or a comma list of rule names and families:
// "we1", "nelson1,nelson5". Unknown names: kInvalidArgument listing the valid ones.
Result<RuleSet> ParseRuleSet(std::string_view spec);

struct Violation {
  std::string rule;           // "we2"
  std::string chart;          // "xbar"
  std::vector<int> points;    // 1-based point indices that make the pattern
  std::string zone;           // "zone A"
  std::string message;        // "2 of 3 points (12, 14) beyond 2 sigma above the center line"
};

// One plotted point as the rules see it. sigma <= 0 disables the zone rules for the point
// (only rule 1 is judged).
struct RulePoint {
  int index = 0;  // 1-based
  double value = 0, center = 0, ucl = 0, lcl = 0, sigma = 0;
};

class RuleMonitor {
 public:
  // limit_zone: the zone name rule 1 reports ("beyond 3 sigma" for Shewhart charts, "beyond
  // limits" for EWMA, CUSUM and T²).
  RuleMonitor(RuleSet rules, std::string chart, std::string limit_zone = "beyond 3 sigma");
  // Judges the next point; appends the violations it completes to *out.
  void Add(const RulePoint& p, std::vector<Violation>* out);
  void Reset() { count_ = 0; }

 private:
  struct Seen {
    int index;
    double value, z;
    bool zone_ok;  // sigma > 0
  };
  static constexpr int kDepth = 16;  // the longest pattern is 15 points
  const Seen& Back(int k) const { return ring_[(count_ - 1 - k) % kDepth]; }  // k = 0: newest
  void CountBeyond(double line, int window, int need, Rule rule, std::string_view zone, std::vector<Violation>* out);
  void SameSide(int run, Rule rule, std::vector<Violation>* out);
  std::vector<int> LastIndices(int k) const;

  RuleSet rules_;
  std::string chart_;
  std::string limit_zone_;
  std::array<Seen, kDepth> ring_{};
  int64_t count_ = 0;
};

// Runs a RuleMonitor over the points in order.
std::vector<Violation> EvaluateRules(const std::vector<RulePoint>& points, const RuleSet& rules,
                                     const std::string& chart, const std::string& limit_zone = "beyond 3 sigma");

}  // namespace pf::spc
