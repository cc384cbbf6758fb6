#include "alerts/labels.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace pf::alerts {

using nlohmann::json;

const std::vector<std::string>& DefaultCauseCodes() {
  static const std::vector<std::string> kCodes = {
      "bearing_outer_race", "bearing_inner_race", "bearing_ball", "bearing_cage", "unbalance",
      "misalignment",       "looseness",          "lubrication",  "gear_wear",    "belt_wear",
      "cavitation",         "electrical",         "overheating",  "leakage",      "blockage",
      "wear",               "breakage",           "sensor_fault", "process_upset", "operator_error",
      "other"};
  return kCodes;
}

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kConfirmed: return "confirmed";
    case Verdict::kFalseAlarm: return "false_alarm";
    case Verdict::kUnknown: return "unknown";
  }
  return "unknown";
}

std::optional<Verdict> ParseVerdict(std::string_view s) {
  for (Verdict v : {Verdict::kConfirmed, Verdict::kFalseAlarm, Verdict::kUnknown})
    if (VerdictName(v) == s) return v;
  return std::nullopt;
}

std::string_view ConditionName(Condition c) {
  switch (c) {
    case Condition::kFailed: return "failed";
    case Condition::kDegraded: return "degraded";
    case Condition::kIncipient: return "incipient";
    case Condition::kNoFaultFound: return "no_fault_found";
  }
  return "failed";
}

std::optional<Condition> ParseCondition(std::string_view s) {
  for (Condition c : {Condition::kFailed, Condition::kDegraded, Condition::kIncipient, Condition::kNoFaultFound})
    if (ConditionName(c) == s) return c;
  return std::nullopt;
}

namespace {

constexpr size_t kMaxText = 4096;  // comment, component, action: a label is not a document

FieldError Bad(std::string field, std::string message) {
  std::string text = fmt::format("{}: {}", field, message);
  return FieldError{std::move(field), InvalidArgument("{}", text)};
}

// The body as a JSON object, or the error about it.
std::optional<FieldError> ParseObject(std::string_view body, json& out) {
  try {
    out = body.empty() ? json::object() : json::parse(body);
  } catch (const json::parse_error& e) {
    return FieldError{"body", InvalidArgument("malformed JSON body at byte {}: {}", e.byte, e.what())};
  } catch (const json::out_of_range& e) {  // a number too large for any type
    return FieldError{"body", InvalidArgument("malformed JSON body: {}", e.what())};
  }
  if (!out.is_object()) return FieldError{"body", InvalidArgument("the body must be a JSON object, got {}", out.type_name())};
  return std::nullopt;
}

// A string field: absent or null -> "" (or the error when required), wrong type -> error.
std::optional<FieldError> Str(const json& body, const char* key, bool required, std::string& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty())) {
    if (required) return Bad(key, "required");
    out.clear();
    return std::nullopt;
  }
  if (!it->is_string()) return Bad(key, fmt::format("expected a string, got {}", it->type_name()));
  out = it->get<std::string>();
  if (out.size() > kMaxText) return Bad(key, fmt::format("too long ({} bytes, at most {})", out.size(), kMaxText));
  return std::nullopt;
}

std::optional<FieldError> Code(const json& body, const char* key, bool required, std::span<const std::string> codes,
                               std::string& out) {
  if (auto e = Str(body, key, required, out)) return e;
  if (out.empty() || std::find(codes.begin(), codes.end(), out) != codes.end()) return std::nullopt;
  return Bad(key, fmt::format("unknown code '{}'; expected one of: {}", out, fmt::join(codes, ", ")));
}

// Unknown keys are refused: a misspelt "commnet" would otherwise silently lose the comment.
std::optional<FieldError> OnlyKeys(const json& body, std::initializer_list<std::string_view> keys) {
  for (const auto& [k, _] : body.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      return Bad(k, fmt::format("unknown field; expected: {}", fmt::join(keys, ", ")));
  return std::nullopt;
}

std::string TimeText(Timestamp t) { return FormatRfc3339(t, 9); }

}  // namespace

std::optional<FieldError> ParseFeedbackBody(std::string_view body, std::span<const std::string> codes, Feedback& out) {
  json j;
  if (auto e = ParseObject(body, j)) return e;
  if (auto e = OnlyKeys(j, {"who", "verdict", "cause", "comment"})) return e;
  if (auto e = Str(j, "who", true, out.who)) return e;
  std::string verdict;
  if (auto e = Str(j, "verdict", true, verdict)) return e;
  auto v = ParseVerdict(verdict);
  if (!v) return Bad("verdict", fmt::format("unknown verdict '{}'; expected confirmed, false_alarm or unknown", verdict));
  out.verdict = *v;
  if (auto e = Code(j, "cause", false, codes, out.cause)) return e;
  if (auto e = Str(j, "comment", false, out.comment)) return e;
  return std::nullopt;
}

std::optional<FieldError> ParseMaintenanceBody(std::string_view body, std::span<const std::string> codes, Timestamp now,
                                               MaintenanceRecord& out) {
  json j;
  if (auto e = ParseObject(body, j)) return e;
  if (auto e = OnlyKeys(j, {"who", "component", "failure_mode", "condition", "action", "time", "alert_id", "comment"}))
    return e;
  if (auto e = Str(j, "who", true, out.who)) return e;
  if (auto e = Str(j, "component", true, out.component)) return e;
  if (auto e = Code(j, "failure_mode", true, codes, out.failure_mode)) return e;
  std::string condition;
  if (auto e = Str(j, "condition", true, condition)) return e;
  auto c = ParseCondition(condition);
  if (!c)
    return Bad("condition",
               fmt::format("unknown condition '{}'; expected failed, degraded, incipient or no_fault_found", condition));
  out.condition = *c;
  if (auto e = Str(j, "action", true, out.action)) return e;
  std::string time;
  if (auto e = Str(j, "time", false, time)) return e;
  if (time.empty()) {
    out.time = now;
  } else {
    auto t = ParseRfc3339(time);
    if (!t.ok()) return Bad("time", t.status().message());
    if (*t > now + std::chrono::minutes(5))
      return Bad("time", fmt::format("{} is in the future (now {}); give when the failure was found", time,
                                     FormatRfc3339(now, 0)));
    out.time = *t;
  }
  if (auto e = Str(j, "alert_id", false, out.alert_id)) return e;
  if (auto e = Str(j, "comment", false, out.comment)) return e;
  return std::nullopt;
}

std::string FeedbackPayload(const Feedback& f) {
  return json{{"label", "alert_feedback"},
              {"alert_id", f.alert_id},
              {"alert_source", f.alert_source},
              {"alert_cause", f.alert_cause},
              {"asset", f.asset},
              {"verdict", VerdictName(f.verdict)},
              {"cause", f.cause.empty() ? json(nullptr) : json(f.cause)},
              {"who", f.who},
              {"comment", f.comment},
              {"time", TimeText(f.time)}}
      .dump();
}

std::string MaintenancePayload(const MaintenanceRecord& m) {
  return json{{"label", "maintenance"},
              {"asset", m.asset},
              {"component", m.component},
              {"failure_mode", m.failure_mode},
              {"condition", ConditionName(m.condition)},
              {"action", m.action},
              {"time", TimeText(m.time)},
              {"alert_id", m.alert_id.empty() ? json(nullptr) : json(m.alert_id)},
              {"missed", m.missed()},
              {"who", m.who},
              {"comment", m.comment}}
      .dump();
}

namespace {
std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

std::optional<Feedback> FeedbackFromPayload(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || Text(j, "label") != "alert_feedback") return std::nullopt;
  Feedback f;
  f.alert_id = Text(j, "alert_id");
  f.alert_source = Text(j, "alert_source");
  f.alert_cause = Text(j, "alert_cause");
  f.asset = Text(j, "asset");
  auto v = ParseVerdict(Text(j, "verdict"));
  auto t = ParseRfc3339(Text(j, "time"));
  if (!v || !t.ok() || f.alert_id.empty()) return std::nullopt;
  f.verdict = *v;
  f.time = *t;
  f.cause = Text(j, "cause");
  f.who = Text(j, "who");
  f.comment = Text(j, "comment");
  return f;
}

std::optional<MaintenanceRecord> MaintenanceFromPayload(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || Text(j, "label") != "maintenance") return std::nullopt;
  MaintenanceRecord m;
  m.asset = Text(j, "asset");
  m.component = Text(j, "component");
  m.failure_mode = Text(j, "failure_mode");
  auto c = ParseCondition(Text(j, "condition"));
  auto t = ParseRfc3339(Text(j, "time"));
  if (!c || !t.ok()) return std::nullopt;
  m.condition = *c;
  m.time = *t;
  m.action = Text(j, "action");
  m.alert_id = Text(j, "alert_id");
  m.who = Text(j, "who");
  m.comment = Text(j, "comment");
  return m;
}

PrecisionReport ComputePrecision(std::span<const Feedback> feedback, std::span<const MaintenanceRecord> maintenance,
                                 const std::map<std::string, std::string>& raised) {
  std::map<std::string, const Feedback*> latest;  // alert id -> latest verdict
  for (const Feedback& f : feedback) latest[f.alert_id] = &f;
  std::map<std::string, SourcePrecision> by_source;
  for (const auto& [id, source] : raised) ++by_source[source].alerts;
  for (const auto& [id, f] : latest) {
    SourcePrecision& s = by_source[f->alert_source];
    switch (f->verdict) {
      case Verdict::kConfirmed:
        ++s.confirmed;
        if (!f->cause.empty()) ++s.causes[f->cause];
        break;
      case Verdict::kFalseAlarm: ++s.false_alarm; break;
      case Verdict::kUnknown: ++s.unknown; break;
    }
  }
  // Coverage counts only alerts raised in the period that have a verdict.
  std::map<std::string, int> covered;
  for (const auto& [id, source] : raised)
    if (latest.count(id)) ++covered[source];
  PrecisionReport report;
  for (auto& [source, s] : by_source) {
    s.source = source;
    if (int decided = s.confirmed + s.false_alarm; decided > 0) s.precision = static_cast<double>(s.confirmed) / decided;
    if (s.alerts > 0) s.coverage = static_cast<double>(covered[source]) / s.alerts;
    report.sources.push_back(s);
  }
  for (const MaintenanceRecord& m : maintenance) {
    ++report.maintenance;
    if (m.missed()) {
      ++report.missed;
      ++report.missed_by_asset[m.asset];
    }
  }
  return report;
}

std::string PrecisionReport::ToJson() const {
  json src = json::array();
  for (const SourcePrecision& s : sources) {
    src.push_back({{"source", s.source},
                   {"alerts", s.alerts},
                   {"confirmed", s.confirmed},
                   {"false_alarm", s.false_alarm},
                   {"unknown", s.unknown},
                   {"precision", s.precision ? json(*s.precision) : json(nullptr)},
                   {"feedback_coverage", s.coverage ? json(*s.coverage) : json(nullptr)},
                   {"confirmed_causes", s.causes}});
  }
  return json{{"sources", src},
              {"maintenance", {{"records", maintenance}, {"missed", missed}, {"missed_by_asset", missed_by_asset}}}}
      .dump();
}

}  // namespace pf::alerts
