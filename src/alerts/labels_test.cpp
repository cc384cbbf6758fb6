#include "alerts/labels.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pf::alerts {
namespace {

using nlohmann::json;
const Timestamp kNow = *ParseRfc3339("2026-11-25T12:00:00Z");

TEST(Feedback, ParsesAValidBody) {
  Feedback f;
  auto e = ParseFeedbackBody(R"({"who": "anna", "verdict": "confirmed", "cause": "misalignment", "comment": "coupling"})",
                             DefaultCauseCodes(), f);
  ASSERT_FALSE(e) << e->status.ToString();
  EXPECT_EQ(f.who, "anna");
  EXPECT_EQ(f.verdict, Verdict::kConfirmed);
  EXPECT_EQ(f.cause, "misalignment");
  EXPECT_EQ(f.comment, "coupling");
}

TEST(Feedback, EachBadInputNamesItsField) {
  struct Case {
    const char* body;
    const char* field;
    const char* message;
  };
  const Case cases[] = {
      {R"({"verdict": "confirmed"})", "who", "who: required"},
      {R"({"who": "anna"})", "verdict", "verdict: required"},
      {R"({"who": "anna", "verdict": "maybe"})", "verdict",
       "verdict: unknown verdict 'maybe'; expected confirmed, false_alarm or unknown"},
      {R"({"who": "anna", "verdict": "confirmed", "cause": 3})", "cause", "cause: expected a string, got number"},
      {R"({"who": "anna", "verdict": "confirmed", "commnet": "x"})", "commnet",
       "commnet: unknown field; expected: who, verdict, cause, comment"},
      {R"([1])", "body", "the body must be a JSON object, got array"},
  };
  for (const Case& c : cases) {
    Feedback f;
    auto e = ParseFeedbackBody(c.body, DefaultCauseCodes(), f);
    ASSERT_TRUE(e) << c.body;
    EXPECT_EQ(e->field, c.field) << c.body;
    EXPECT_EQ(e->status.message(), c.message) << c.body;
    EXPECT_EQ(e->status.code(), StatusCode::kInvalidArgument);
  }
  Feedback f;
  auto e = ParseFeedbackBody(R"({"who": "anna", "verdict": "confirmed", "cause": "gremlins"})", DefaultCauseCodes(), f);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "cause");
  EXPECT_EQ(e->status.message().rfind("cause: unknown code 'gremlins'; expected one of: bearing_outer_race, ", 0), 0u)
      << e->status.message();
  e = ParseFeedbackBody(R"({"who": )", DefaultCauseCodes(), f);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "body");
  EXPECT_EQ(e->status.message().rfind("malformed JSON body at byte 9: ", 0), 0u) << e->status.message();
}

TEST(Maintenance, ParsesDefaultsTimeAndRefusesTheFuture) {
  MaintenanceRecord m;
  auto e = ParseMaintenanceBody(
      R"({"who": "ben", "component": "DE bearing", "failure_mode": "bearing_outer_race", "condition": "degraded",
          "action": "replaced", "time": "2026-11-24T08:00:00Z"})",
      DefaultCauseCodes(), kNow, m);
  ASSERT_FALSE(e) << e->status.ToString();
  EXPECT_EQ(m.component, "DE bearing");
  EXPECT_EQ(m.condition, Condition::kDegraded);
  EXPECT_EQ(m.time, *ParseRfc3339("2026-11-24T08:00:00Z"));
  EXPECT_TRUE(m.missed());

  e = ParseMaintenanceBody(R"({"who": "ben", "component": "x", "failure_mode": "wear", "condition": "failed",
                               "action": "replaced", "alert_id": "a1"})",
                           DefaultCauseCodes(), kNow, m);
  ASSERT_FALSE(e);
  EXPECT_EQ(m.time, kNow);
  EXPECT_FALSE(m.missed());

  e = ParseMaintenanceBody(R"({"who": "ben", "component": "x", "failure_mode": "wear", "condition": "failed",
                               "action": "replaced", "time": "2026-11-25T13:00:00Z"})",
                           DefaultCauseCodes(), kNow, m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "time");
  EXPECT_EQ(e->status.message(),
            "time: 2026-11-25T13:00:00Z is in the future (now 2026-11-25T12:00:00Z); give when the failure was found");

  e = ParseMaintenanceBody(R"({"who": "ben", "component": "x", "failure_mode": "wear", "condition": "broken",
                               "action": "replaced"})",
                           DefaultCauseCodes(), kNow, m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "condition");
  e = ParseMaintenanceBody(R"({"who": "ben", "component": "x", "condition": "failed", "action": "replaced"})",
                           DefaultCauseCodes(), kNow, m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "failure_mode");
  EXPECT_EQ(e->status.message(), "failure_mode: required");
}

TEST(Labels, PayloadsRoundTrip) {
  Feedback f{"a1", "threshold:p7.temp.high", "temp.high", "p7", Verdict::kFalseAlarm, "sensor_fault", "anna", "loose plug", kNow};
  auto back = FeedbackFromPayload(FeedbackPayload(f));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->alert_id, "a1");
  EXPECT_EQ(back->alert_source, f.alert_source);
  EXPECT_EQ(back->verdict, Verdict::kFalseAlarm);
  EXPECT_EQ(back->cause, "sensor_fault");
  EXPECT_EQ(back->time, kNow);
  EXPECT_FALSE(MaintenanceFromPayload(FeedbackPayload(f)));

  MaintenanceRecord m;
  m.asset = "p7";
  m.component = "pump";
  m.failure_mode = "cavitation";
  m.condition = Condition::kIncipient;
  m.action = "adjusted inlet";
  m.time = kNow;
  auto mb = MaintenanceFromPayload(MaintenancePayload(m));
  ASSERT_TRUE(mb);
  EXPECT_EQ(mb->condition, Condition::kIncipient);
  EXPECT_TRUE(mb->missed());
  EXPECT_EQ(json::parse(MaintenancePayload(m))["missed"], true);
}

// Hand-computed: source A raised a1..a4, source B raised b1, b2.
//   a1 confirmed (bearing_outer_race), a2 false_alarm, a3 first false_alarm then confirmed
//   (the latest verdict wins), a4 no feedback; b1 unknown, b2 no feedback.
//   A: confirmed 2, false 1 -> precision 2/3; coverage 3/4.  B: precision none, coverage 1/2.
//   Maintenance: one following a1, two missed on p7 and one missed on p9.
TEST(Precision, MatchesAHandComputedSequence) {
  auto fb = [](const char* id, const char* src, Verdict v, const char* cause) {
    Feedback f;
    f.alert_id = id;
    f.alert_source = src;
    f.verdict = v;
    f.cause = cause;
    return f;
  };
  std::vector<Feedback> feedback = {
      fb("a1", "A", Verdict::kConfirmed, "bearing_outer_race"), fb("a2", "A", Verdict::kFalseAlarm, ""),
      fb("a3", "A", Verdict::kFalseAlarm, ""),                  fb("b1", "B", Verdict::kUnknown, ""),
      fb("a3", "A", Verdict::kConfirmed, "looseness"),
  };
  auto mr = [](const char* asset, const char* alert) {
    MaintenanceRecord m;
    m.asset = asset;
    m.alert_id = alert;
    return m;
  };
  std::vector<MaintenanceRecord> maintenance = {mr("p7", "a1"), mr("p7", ""), mr("p7", ""), mr("p9", "")};
  std::map<std::string, std::string> raised = {{"a1", "A"}, {"a2", "A"}, {"a3", "A"}, {"a4", "A"}, {"b1", "B"}, {"b2", "B"}};
  PrecisionReport r = ComputePrecision(feedback, maintenance, raised);
  ASSERT_EQ(r.sources.size(), 2u);
  const SourcePrecision& a = r.sources[0];
  EXPECT_EQ(a.source, "A");
  EXPECT_EQ(a.alerts, 4);
  EXPECT_EQ(a.confirmed, 2);
  EXPECT_EQ(a.false_alarm, 1);
  EXPECT_EQ(a.unknown, 0);
  ASSERT_TRUE(a.precision);
  EXPECT_DOUBLE_EQ(*a.precision, 2.0 / 3.0);
  ASSERT_TRUE(a.coverage);
  EXPECT_DOUBLE_EQ(*a.coverage, 0.75);
  EXPECT_EQ(a.causes, (std::map<std::string, int>{{"bearing_outer_race", 1}, {"looseness", 1}}));
  const SourcePrecision& b = r.sources[1];
  EXPECT_EQ(b.source, "B");
  EXPECT_FALSE(b.precision);
  EXPECT_DOUBLE_EQ(*b.coverage, 0.5);
  EXPECT_EQ(b.unknown, 1);
  EXPECT_EQ(r.maintenance, 4);
  EXPECT_EQ(r.missed, 3);
  EXPECT_EQ(r.missed_by_asset, (std::map<std::string, int>{{"p7", 2}, {"p9", 1}}));
  json j = json::parse(r.ToJson());
  EXPECT_EQ(j["sources"][1]["precision"], nullptr);
  EXPECT_EQ(j["maintenance"]["missed"], 3);
}

}  // namespace
}  // namespace pf::alerts
