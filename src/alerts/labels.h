#pragma once
// Operator labels: the verdict an operator gives on an alert (feedback) and the maintenance record
// of what was really found on an asset. Both become Events of kind "label" that travel the outbox
// to the uplink, so that every alert carries its ground truth for retraining, and failures that no
// alert caught (maintenance records without an alert) are false negatives in the data too.
//
// Cause and failure-mode codes come from one coded list (configurable, [alerts] cause_codes) so
// that labels from different operators and plants can be counted together.
//
// Precision per alert source: of the alerts of a source that received a verdict, the share that
// was confirmed (the latest verdict of an alert wins; "unknown" verdicts count as feedback but
// not in the precision). Pure functions, no I/O.
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf::alerts {

// The built-in coded list: mechanical faults a vibration or process analytic points at, sensor
// and process causes, and "other". Replaced by [alerts] cause_codes.
const std::vector<std::string>& DefaultCauseCodes();

enum class Verdict : uint8_t { kConfirmed, kFalseAlarm, kUnknown };
std::string_view VerdictName(Verdict v);  // "confirmed", "false_alarm", "unknown"
std::optional<Verdict> ParseVerdict(std::string_view s);

// What was found at a maintenance intervention (ISO 14224 distinguishes critical, degraded and
// incipient failures; "no_fault_found" records an inspection that found nothing).
enum class Condition : uint8_t { kFailed, kDegraded, kIncipient, kNoFaultFound };
std::string_view ConditionName(Condition c);  // "failed", "degraded", "incipient", "no_fault_found"
std::optional<Condition> ParseCondition(std::string_view s);

// An error about one request field: the API answers {code, message, field}.
struct FieldError {
  std::string field;
  Status status;
};

struct Feedback {
  std::string alert_id;
  std::string alert_source, alert_cause, asset;  // of the alert it labels
  Verdict verdict = Verdict::kUnknown;
  std::string cause;    // a code of the list, "" = not given
  std::string who, comment;
  Timestamp time;
};

struct MaintenanceRecord {
  std::string asset;
  std::string component;     // "drive-end bearing", "coupling"
  std::string failure_mode;  // a code of the list
  Condition condition = Condition::kFailed;
  std::string action;        // "replaced bearing", "realigned"
  Timestamp time;            // when the failure was found (may be in the past)
  std::string alert_id;      // the alert it follows up, "" = no alert caught it (a missed event)
  std::string who, comment;
  bool missed() const { return alert_id.empty(); }
};

// Parses a feedback / maintenance request body (a JSON object as text). `codes` is the coded list;
// `now` bounds `time` (at most 5 minutes in the future). The alert/asset fields of the result are
// left for the caller, who knows the alert and the asset.
std::optional<FieldError> ParseFeedbackBody(std::string_view body, std::span<const std::string> codes, Feedback& out);
std::optional<FieldError> ParseMaintenanceBody(std::string_view body, std::span<const std::string> codes, Timestamp now,
                                               MaintenanceRecord& out);

// Label payloads (the "payload" of the label Event) and back. FromPayload: nullopt when the JSON
// is not a label of that type.
std::string FeedbackPayload(const Feedback& f);
std::string MaintenancePayload(const MaintenanceRecord& m);
std::optional<Feedback> FeedbackFromPayload(std::string_view json);
std::optional<MaintenanceRecord> MaintenanceFromPayload(std::string_view json);

struct SourcePrecision {
  std::string source;
  int alerts = 0;         // occurrences raised by the source in the period (0 if unknown)
  int confirmed = 0, false_alarm = 0, unknown = 0;  // latest verdict per alert
  std::optional<double> precision;  // confirmed / (confirmed + false_alarm); nullopt without verdicts
  std::optional<double> coverage;   // alerts with feedback / alerts; nullopt when alerts == 0
  std::map<std::string, int> causes;  // confirmed alerts per cause code
};

struct PrecisionReport {
  std::vector<SourcePrecision> sources;  // by source name
  int maintenance = 0;                   // maintenance records in the period
  int missed = 0;                        // of which no alert caught (false negatives)
  std::map<std::string, int> missed_by_asset;
  std::string ToJson() const;
};

// raised: alert id -> source of every occurrence raised in the period (for alerts and coverage).
// Feedback must be in time order (the latest verdict per alert wins).
PrecisionReport ComputePrecision(std::span<const Feedback> feedback, std::span<const MaintenanceRecord> maintenance,
                                 const std::map<std::string, std::string>& raised);

}  // namespace pf::alerts
