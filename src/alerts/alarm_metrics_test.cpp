// Golden test of the ISA-18.2 / EEMUA 191 alarm-rate metrics: 200 hand-written alerts over 3 hours
// on two operator positions, with every expected figure computed by hand below.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts/alarm_metrics.h"

namespace pf::alerts {
namespace {

// One letter per (asset, cause, priority).
struct Code {
  const char* asset;
  const char* cause;
  Priority priority;
};
const std::map<char, Code> kCodes = {
    // position "press_desk" (area "pressing")
    {'A', {"press1", "temp.high", Priority::kLow}},       {'B', {"press1", "pressure.high", Priority::kLow}},
    {'C', {"press2", "temp.high", Priority::kLow}},       {'D', {"press2", "vib.high", Priority::kMedium}},
    {'E', {"press3", "oil.low", Priority::kLow}},         {'F', {"press3", "temp.high", Priority::kHigh}},
    {'G', {"press1", "stroke.stale", Priority::kLow}},    {'H', {"press2", "pressure.low", Priority::kMedium}},
    {'I', {"press3", "vib.high", Priority::kLow}},        {'J', {"press1", "oil.low", Priority::kLow}},
    {'K', {"press2", "door.open", Priority::kLow}},       {'L', {"press3", "temp.bad_quality", Priority::kLow}},
    {'S', {"press3", "hydraulic.leak", Priority::kHigh}}, {'T', {"press1", "guard.bypass", Priority::kMedium}},
    // position "paint_desk" (area "painting")
    {'a', {"paint1", "humidity.high", Priority::kLow}},   {'b', {"paint1", "temp.high", Priority::kLow}},
    {'c', {"paint2", "flow.low", Priority::kMedium}},     {'d', {"paint2", "pressure.high", Priority::kLow}},
    {'e', {"paint1", "fan.stale", Priority::kHigh}},      {'f', {"paint2", "temp.low", Priority::kLow}},
    {'g', {"paint1", "level.low", Priority::kLow}},       {'h', {"paint2", "viscosity.high", Priority::kMedium}},
    {'i', {"paint1", "humidity.bad_quality", Priority::kLow}}, {'j', {"paint2", "door.open", Priority::kLow}},
    {'k', {"paint1", "filter.high", Priority::kLow}},     {'s', {"paint2", "exhaust.fail", Priority::kHigh}},
};

// Alerts raised per 10-minute interval i (0..17) of the period 06:00-09:00; the k-th alert of an
// interval is raised at 06:00 + i*600 s + 15 s + k*35 s (so all stay inside the interval).
//                                     i:  0        1      2     3       4                 5
const std::vector<std::string> kPress = {"AABCD", "ASE", "AC", "ABDE", "AAAABBCCDDEFFG", "AAABBCCDEFGH",
                                         // 6      7      8     9       10       11     12    13
                                         "ABCDEI", "ABJ", "CK", "ABCD", "AABCE", "ACF", "BD", "AABCDI",
                                         // 14             15            16          17
                                         "AABBCCDEKKL", "AABCDEFGHT", "AJBCDEGJ", "AABBCDEFHI"};
const std::vector<std::string> kPaint = {"abc", "abcd", "aabcde", "abcdf", "asbc", "aabbcdg", "abh", "abcde",
                                         "aaaaabbbcccddefg", "abci", "aabcdj", "abk", "abcde", "abcf", "aabcdh",
                                         "abc", "abdg", "ai"};

const Timestamp kT0 = Timestamp::FromSeconds(1'767'592'800);  // 2026-01-05T06:00:00Z
Timestamp At(int64_t s) { return kT0 + std::chrono::seconds(s); }

AlertTransition Make(const std::string& id, char code, const std::string& action, AlertState from, AlertState to,
                     Timestamp t) {
  const Code& c = kCodes.at(code);
  AlertTransition r;
  r.alert_id = id;
  r.asset = c.asset;
  r.cause = c.cause;
  r.priority = c.priority;
  bool press = std::string(c.asset).rfind("press", 0) == 0;
  r.area = press ? "pressing" : "painting";
  r.position = press ? "press_desk" : "paint_desk";
  r.action = action;
  r.from = from;
  r.to = to;
  r.time = t;
  return r;
}

// Every alert is acked and cleared 120 s after its raise, except:
//   S (press, i1) and s (paint, i4): never cleared                 -> standing (raised before 08:00)
//   T (press, i15, 08:30+): never cleared, but younger than 1 h      -> not standing
//   the D of press i0: cleared at 09:05, after the period end         -> standing
//   plus one press alert (press2 lube.low) raised at 05:30, before the period, never cleared:
//   not counted as an alert of the period, but standing.
// Chattering records: the first A of press i4, the first K of press i14, the first a of paint i8.
std::vector<AlertTransition> History() {
  std::vector<AlertTransition> h;
  AlertTransition before = Make("pre", 'D', "raise", AlertState::kNormal, AlertState::kActiveUnacked, At(-1800));
  before.cause = "lube.low";
  h.push_back(before);
  for (const auto* rows : {&kPress, &kPaint}) {
    for (size_t i = 0; i < rows->size(); ++i) {
      const std::string& row = (*rows)[i];
      bool chatter_marked = false;
      for (size_t k = 0; k < row.size(); ++k) {
        char code = row[k];
        std::string id = fmt::format("{}{}-{}", code, i, k);
        Timestamp t = At(static_cast<int64_t>(i) * 600 + 15 + static_cast<int64_t>(k) * 35);
        h.push_back(Make(id, code, "raise", AlertState::kNormal, AlertState::kActiveUnacked, t));
        bool chatter = !chatter_marked && ((rows == &kPress && ((i == 4 && code == 'A') || (i == 14 && code == 'K'))) ||
                                           (rows == &kPaint && i == 8 && code == 'a'));
        if (chatter) {
          chatter_marked = true;
          h.push_back(Make(id, code, "chattering", AlertState::kActiveUnacked, AlertState::kActiveUnacked, t));
        }
        if (code == 'S' || code == 's' || code == 'T') continue;
        Timestamp end = (rows == &kPress && i == 0 && code == 'D') ? At(3 * 3600 + 300) : t + std::chrono::seconds(120);
        h.push_back(Make(id, code, "ack", AlertState::kActiveUnacked, AlertState::kActiveAcked, t + std::chrono::seconds(60)));
        h.push_back(Make(id, code, "clear", AlertState::kActiveAcked, AlertState::kNormal, end));
      }
    }
  }
  return h;
}

MetricsOptions Options() {
  MetricsOptions o;
  o.period_start = At(0);
  o.period_end = At(3 * 3600);
  o.standing_after = std::chrono::hours(1);
  return o;
}

TEST(AlarmMetricsGolden, TwoHundredAlertsOverThreeHours) {
  std::vector<AlertTransition> h = History();
  auto m = ComputeAlarmMetrics(h, Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->groups.size(), 2u);
  const GroupMetrics& paint = m->groups[0];  // groups are ordered by name
  const GroupMetrics& press = m->groups[1];
  ASSERT_EQ(paint.name, "paint_desk");
  ASSERT_EQ(press.name, "press_desk");

  // ---- press_desk -------------------------------------------------------------------------
  // Per interval (row lengths): 5 3 2 4 14 12 6 3 2 4 5 3 2 6 11 10 8 10
  // Total: 5+3+2+4+14+12+6+3+2+4+5+3+2+6+11+10+8+10 = 110 (the 05:30 alert is outside the period).
  EXPECT_EQ(press.per_interval, (std::vector<int>{5, 3, 2, 4, 14, 12, 6, 3, 2, 4, 5, 3, 2, 6, 11, 10, 8, 10}));
  EXPECT_EQ(press.alerts, 110);
  // 3 hours = 18 ten-minute intervals: 110 / 18 = 6.111 per 10 min (> 5: "very likely unacceptable").
  EXPECT_DOUBLE_EQ(press.per_10min_avg, 110.0 / 18.0);
  EXPECT_EQ(press.rate_assessment, "very likely unacceptable");
  EXPECT_EQ(press.per_interval_max, 14);
  // Intervals above 10: i4 (14), i5 (12), i14 (11); i15 and i17 hold exactly 10, not a flood.
  // 3 / 18 = 16.67 %.
  EXPECT_EQ(press.flood_intervals, 3);
  EXPECT_DOUBLE_EQ(press.flood_percent, 100.0 * 3 / 18);
  // Standing (not ended by 09:00, raised at or before 08:00): S (06:10:15), D of i0 (cleared
  // 09:05), the 05:30 lube.low = 3. T (08:30:15 + 9*35 s) is younger than 1 h.
  EXPECT_EQ(press.standing, 3);
  EXPECT_EQ(press.chattering, 2);  // A of i4, K of i14
  // Tally per code (occurrences per interval):
  //   A press1/temp.high      2+1+1+1+4+3+1+1+1+2+1+2+2+2+1+2     = 27
  //   B press1/pressure.high  1+1+2+2+1+1+1+1+1+1+2+1+1+2         = 18
  //   C press2/temp.high      1+1+2+2+1+1+1+1+1+1+2+1+1+1         = 17
  //   D press2/vib.high       1+1+2+1+1+1+1+1+1+1+1+1             = 13
  //   E press3/oil.low        1 in each of i1 i3 i4 i5 i6 i10 i14 i15 i16 i17 = 10
  //   F press3/temp.high      2 (i4) +1 (i5) +1 (i11) +1 (i15) +1 (i17) = 6
  //   G press1/stroke.stale   i4 i5 i15 i16                         = 4
  //   J press1/oil.low        1 (i7) + 2 (i16)                      = 3
  //   K press2/door.open      1 (i8) + 2 (i14)                      = 3
  //   H press2/pressure.low   i5 i15 i17                            = 3
  //   I press3/vib.high       i6 i13 i17                            = 3
  //   S, T, L                 1 each
  // Check: 27+18+17+13+10+6+4+3+3+3+3+1+1+1 = 110.
  // Top 10: the four pairs with 3 tie for places 8..10; by asset then cause: press1/oil.low,
  // press2/door.open, press2/pressure.low make it, press3/vib.high does not.
  EXPECT_EQ(press.top, (std::vector<FrequentAlert>{{"press1", "temp.high", 27},
                                                    {"press1", "pressure.high", 18},
                                                    {"press2", "temp.high", 17},
                                                    {"press2", "vib.high", 13},
                                                    {"press3", "oil.low", 10},
                                                    {"press3", "temp.high", 6},
                                                    {"press1", "stroke.stale", 4},
                                                    {"press1", "oil.low", 3},
                                                    {"press2", "door.open", 3},
                                                    {"press2", "pressure.low", 3}}));
  // Priority mix: low = A+B+C+E+G+J+K+I+L = 27+18+17+10+4+3+3+3+1 = 86 (78.18 %),
  // medium = D+H+T = 13+3+1 = 17 (15.45 %), high = F+S = 6+1 = 7 (6.36 %); 86+17+7 = 110.
  EXPECT_EQ(press.low, 86);
  EXPECT_EQ(press.medium, 17);
  EXPECT_EQ(press.high, 7);
  EXPECT_DOUBLE_EQ(press.low_percent, 100.0 * 86 / 110);
  EXPECT_DOUBLE_EQ(press.medium_percent, 100.0 * 17 / 110);
  EXPECT_DOUBLE_EQ(press.high_percent, 100.0 * 7 / 110);

  // ---- paint_desk -------------------------------------------------------------------------
  // Per interval: 3 4 6 5 4 7 3 5 16 4 6 3 5 4 6 3 4 2
  // Total: 3+4+6+5+4+7+3+5+16+4+6+3+5+4+6+3+4+2 = 90; 90 / 18 = 5.0 per 10 min
  // (<= 5: "likely over-demanding"). Flood: only i8 (16) -> 1 / 18 = 5.56 %.
  EXPECT_EQ(paint.per_interval, (std::vector<int>{3, 4, 6, 5, 4, 7, 3, 5, 16, 4, 6, 3, 5, 4, 6, 3, 4, 2}));
  EXPECT_EQ(paint.alerts, 90);
  EXPECT_DOUBLE_EQ(paint.per_10min_avg, 5.0);
  EXPECT_EQ(paint.rate_assessment, "likely over-demanding");
  EXPECT_EQ(paint.per_interval_max, 16);
  EXPECT_EQ(paint.flood_intervals, 1);
  EXPECT_DOUBLE_EQ(paint.flood_percent, 100.0 / 18);
  EXPECT_EQ(paint.standing, 1);    // s (06:40:15 + 35 s)
  EXPECT_EQ(paint.chattering, 1);  // a of i8
  // Tally:
  //   a paint1/humidity.high  1+1+2+1+1+2+1+1+5+1+2+1+1+1+2+1+1+1 = 26
  //   b paint1/temp.high      1+1+1+1+1+2+1+1+3+1+1+1+1+1+1+1+1   = 20
  //   c paint2/flow.low       1+1+1+1+1+1+1+3+1+1+1+1+1+1         = 16
  //   d paint2/pressure.high  1+1+1+1+1+2+1+1+1+1                 = 11
  //   e paint1/fan.stale      i2 i7 i8 i12                         = 4
  //   g paint1/level.low      i5 i8 i16 = 3;  f paint2/temp.low i3 i8 i13 = 3
  //   i paint1/humidity.bad_quality i9 i17 = 2;  h paint2/viscosity.high i6 i14 = 2
  //   k paint1/filter.high, j paint2/door.open, s paint2/exhaust.fail: 1 each
  // Check: 26+20+16+11+4+3+3+2+2+1+1+1 = 90. Top 10 cuts the three 1s after two of them:
  // paint1/filter.high, paint2/door.open in; paint2/exhaust.fail out.
  EXPECT_EQ(paint.top, (std::vector<FrequentAlert>{{"paint1", "humidity.high", 26},
                                                    {"paint1", "temp.high", 20},
                                                    {"paint2", "flow.low", 16},
                                                    {"paint2", "pressure.high", 11},
                                                    {"paint1", "fan.stale", 4},
                                                    {"paint1", "level.low", 3},
                                                    {"paint2", "temp.low", 3},
                                                    {"paint1", "humidity.bad_quality", 2},
                                                    {"paint2", "viscosity.high", 2},
                                                    {"paint1", "filter.high", 1}}));
  // low = a+b+d+g+f+i+k+j = 26+20+11+3+3+2+1+1 = 67 (74.44 %), medium = c+h = 16+2 = 18 (20 %),
  // high = e+s = 4+1 = 5 (5.56 %); 67+18+5 = 90.
  EXPECT_EQ(paint.low, 67);
  EXPECT_EQ(paint.medium, 18);
  EXPECT_EQ(paint.high, 5);
  EXPECT_DOUBLE_EQ(paint.medium_percent, 20.0);

  // 110 + 90 = 200 alerts in the period.
  EXPECT_EQ(press.alerts + paint.alerts, 200);
}

TEST(AlarmMetricsGolden, JsonShowsTargetsBesideValues) {
  std::vector<AlertTransition> h = History();
  auto m = ComputeAlarmMetrics(h, Options());
  ASSERT_TRUE(m.ok());
  auto j = nlohmann::json::parse(m->ToJson());
  EXPECT_EQ(j["period"]["start"], "2026-01-05T06:00:00.000Z");
  EXPECT_EQ(j["period"]["interval"], "10m");
  const auto& press = j["groups"][1];
  EXPECT_EQ(press["name"], "press_desk");
  EXPECT_EQ(press["alerts_per_10min"]["max"], 14);
  EXPECT_EQ(press["alerts_per_10min"]["target"], 1.0);
  EXPECT_EQ(press["alerts_per_10min"]["manageable"], 2.0);
  EXPECT_EQ(press["flood"]["intervals"], 3);
  EXPECT_EQ(press["flood"]["target_percent_below"], 1.0);
  EXPECT_EQ(press["standing"]["value"], 3);
  EXPECT_EQ(press["standing"]["target_below"], 5);
  EXPECT_EQ(press["priority_mix"]["low"]["count"], 86);
  EXPECT_EQ(press["priority_mix"]["low"]["target_percent"], 80.0);
  EXPECT_EQ(press["top"][0]["cause"], "temp.high");
  EXPECT_EQ(press["top"][0]["count"], 27);
}

TEST(AlarmMetrics, ByAreaAndBadPeriod) {
  std::vector<AlertTransition> h = History();
  MetricsOptions o = Options();
  o.by_area = true;
  auto m = ComputeAlarmMetrics(h, o);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->groups.size(), 2u);
  EXPECT_EQ(m->groups[0].name, "painting");
  EXPECT_EQ(m->groups[0].alerts, 90);
  EXPECT_EQ(m->groups[1].name, "pressing");
  EXPECT_EQ(m->groups[1].alerts, 110);

  o.period_end = o.period_start;
  EXPECT_EQ(ComputeAlarmMetrics(h, o).status().message(),
            "alarm metrics: the period end 2026-01-05T06:00:00.000Z is not after its start 2026-01-05T06:00:00.000Z");
  EXPECT_EQ(RateAssessment(1.0), "very likely acceptable");
  EXPECT_EQ(RateAssessment(1.5), "manageable");
}

}  // namespace
}  // namespace pf::alerts
