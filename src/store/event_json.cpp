#include "store/event_json.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "core/time.h"
#include "store/event_store.h"

namespace pf {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 15> kFields = {
    "schema_version", "id",    "asset",         "source",   "start",   "end",       "kind",   "severity",
    "message",        "payload", "model_version", "operator", "comment", "refers_to", "context"};
constexpr std::array<std::string_view, 4> kSeverities = {"info", "low", "medium", "high"};

Status Expected(std::string_view field, std::string_view what, const json& got) {
  return InvalidArgument("event json: field '{}': expected {}, got {}", field, what, got.type_name());
}

// The field's value, or nullptr when absent or null.
const json* Find(const json& j, std::string_view field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ReadString(const json& j, std::string_view field, bool required, std::string& out) {
  const json* v = Find(j, field);
  if (!v) return required ? InvalidArgument("event json: field '{}' is required", field) : Status::Ok();
  if (!v->is_string()) return Expected(field, "a string", *v);
  out = v->get<std::string>();
  if (required && out.empty()) return InvalidArgument("event json: field '{}': expected a non-empty string", field);
  return Status::Ok();
}

Status ReadTime(const json& j, std::string_view field, bool required, Timestamp& out, bool& present) {
  const json* v = Find(j, field);
  present = v != nullptr;
  if (!v) return required ? InvalidArgument("event json: field '{}' is required", field) : Status::Ok();
  if (!v->is_string()) return Expected(field, "an RFC 3339 time string", *v);
  auto t = ParseRfc3339(v->get<std::string>());
  if (!t.ok()) return InvalidArgument("event json: field '{}': {}", field, t.status().message());
  out = *t;
  return Status::Ok();
}

Status ReadHeader(const json& j, Event& e) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end())
      return InvalidArgument("event json: unknown field '{}'", it.key());
  if (const json* v = Find(j, "schema_version")) {
    if (!v->is_number_integer()) return Expected("schema_version", "an integer", *v);
    int64_t version = v->get<int64_t>();
    if (version < 1 || version > Event::kSchemaVersion)
      return InvalidArgument("event json: field 'schema_version': expected 1..{}, got {}", Event::kSchemaVersion,
                             version);
    e.schema_version = static_cast<int>(version);
  }
  return Status::Ok();
}

Status ReadTimes(const json& j, Event& e) {
  bool present = false;
  PF_RETURN_IF_ERROR(ReadTime(j, "start", true, e.start, present));
  PF_RETURN_IF_ERROR(ReadTime(j, "end", false, e.end, present));
  if (!present) e.end = e.start;
  if (e.end < e.start)
    return InvalidArgument("event json: field 'end': expected a time at or after start ({}), got {}",
                           FormatRfc3339(e.start), FormatRfc3339(e.end));
  return Status::Ok();
}

Status ReadObjects(const json& j, Event& e) {
  if (const json* v = Find(j, "payload")) {
    if (!v->is_object()) return Expected("payload", "an object", *v);
    e.payload_json = v->dump();
  }
  if (const json* v = Find(j, "context")) {
    if (!v->is_object()) return Expected("context", "an object of strings", *v);
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it->is_string())
        return InvalidArgument("event json: field 'context': key '{}': expected a string, got {}", it.key(),
                               it->type_name());
      e.context[it.key()] = it->get<std::string>();
    }
  }
  return Status::Ok();
}

}  // namespace

json EventToJsonObject(const Event& e) {
  json payload = json::parse(e.payload_json, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) payload = e.payload_json;
  json context = json::object();
  for (const auto& [k, v] : e.context) context[k] = v;
  return json{{"schema_version", e.schema_version},
              {"id", e.id},
              {"asset", e.asset_id},
              {"source", e.source},
              {"start", FormatRfc3339(e.start, 9)},
              {"end", FormatRfc3339(e.end, 9)},
              {"kind", e.kind},
              {"severity", e.severity},
              {"message", e.message},
              {"payload", std::move(payload)},
              {"model_version", e.model_version},
              {"operator", e.operator_name},
              {"comment", e.comment},
              {"refers_to", e.refers_to},
              {"context", std::move(context)}};
}

Result<Event> EventFromJsonObject(const json& j) {
  if (!j.is_object()) return InvalidArgument("event json: expected an object, got {}", j.type_name());
  Event e;
  e.severity = "info";
  PF_RETURN_IF_ERROR(ReadHeader(j, e));
  PF_RETURN_IF_ERROR(ReadString(j, "id", false, e.id));
  PF_RETURN_IF_ERROR(ReadString(j, "asset", true, e.asset_id));
  PF_RETURN_IF_ERROR(ReadString(j, "source", true, e.source));
  PF_RETURN_IF_ERROR(ReadTimes(j, e));
  PF_RETURN_IF_ERROR(ReadString(j, "kind", true, e.kind));
  PF_RETURN_IF_ERROR(ReadString(j, "severity", false, e.severity));
  if (std::find(kSeverities.begin(), kSeverities.end(), e.severity) == kSeverities.end())
    return InvalidArgument("event json: field 'severity': expected one of info, low, medium, high, got '{}'",
                           e.severity);
  PF_RETURN_IF_ERROR(ReadString(j, "message", false, e.message));
  PF_RETURN_IF_ERROR(ReadString(j, "model_version", false, e.model_version));
  PF_RETURN_IF_ERROR(ReadString(j, "operator", false, e.operator_name));
  PF_RETURN_IF_ERROR(ReadString(j, "comment", false, e.comment));
  PF_RETURN_IF_ERROR(ReadString(j, "refers_to", false, e.refers_to));
  PF_RETURN_IF_ERROR(ReadObjects(j, e));
  return e;
}

std::string EventToJson(const Event& e) {
  // replace: invalid UTF-8 in a message must not throw out of the store
  return EventToJsonObject(e).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Event> EventFromJson(std::string_view text) {
  try {
    return EventFromJsonObject(json::parse(text));
  } catch (const json::parse_error& err) {
    return InvalidArgument("event json: not valid JSON at byte {}: {}", err.byte, err.what());
  } catch (const json::exception& err) {  // e.g. invalid UTF-8 in a string while reading it
    return InvalidArgument("event json: {}", err.what());
  }
}

}  // namespace pf
