#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/event_json.h"
#include "store/event_store.h"

namespace pf {
namespace {

Event Sample() {
  Event e;
  e.id = "0018a1b2c3d4e5f600000001";
  e.asset_id = "press7";
  e.source = "spc:press7.temp";
  e.start = Timestamp::FromMs(1'780'000'000'123);
  e.end = Timestamp::FromMs(1'780'000'001'456);
  e.kind = "alert";
  e.severity = "high";
  e.message = "rule WE1: point beyond 3 sigma";
  e.payload_json = R"({"rule":"WE1","value":3.5})";
  e.model_version = "chart-3";
  e.operator_name = "ana";
  e.comment = "seen";
  e.refers_to = "0018a1b2c3d4e5f600000000";
  e.context = {{"product", "P-100"}};
  return e;
}

TEST(EventJson, FieldNamesAndFormats) {
  nlohmann::json j = nlohmann::json::parse(EventToJson(Sample()));
  EXPECT_EQ(j, nlohmann::json::parse(R"({
    "schema_version": 1, "id": "0018a1b2c3d4e5f600000001", "asset": "press7",
    "source": "spc:press7.temp", "start": "2026-05-28T20:26:40.123000000Z", "end": "2026-05-28T20:26:41.456000000Z",
    "kind": "alert", "severity": "high", "message": "rule WE1: point beyond 3 sigma",
    "payload": {"rule": "WE1", "value": 3.5}, "model_version": "chart-3", "operator": "ana",
    "comment": "seen", "refers_to": "0018a1b2c3d4e5f600000000", "context": {"product": "P-100"}})"));
}

TEST(EventJson, RoundTrip) {
  Event e = Sample();
  auto back = EventFromJson(EventToJson(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->asset_id, e.asset_id);
  EXPECT_EQ(back->source, e.source);
  EXPECT_EQ(back->start, e.start);
  EXPECT_EQ(back->end, e.end);
  EXPECT_EQ(back->kind, e.kind);
  EXPECT_EQ(back->severity, e.severity);
  EXPECT_EQ(back->message, e.message);
  EXPECT_EQ(back->payload_json, e.payload_json);
  EXPECT_EQ(back->model_version, e.model_version);
  EXPECT_EQ(back->operator_name, e.operator_name);
  EXPECT_EQ(back->comment, e.comment);
  EXPECT_EQ(back->refers_to, e.refers_to);
  EXPECT_EQ(back->context, e.context);
}

TEST(EventJson, MinimalBodyGetsDefaults) {
  auto e = EventFromJson(R"({"asset":"press7","source":"operator","start":"2026-01-01T00:00:00Z","kind":"label"})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->schema_version, 1);
  EXPECT_EQ(e->id, "");
  EXPECT_EQ(e->end, e->start);
  EXPECT_EQ(e->severity, "info");
  EXPECT_EQ(e->payload_json, "{}");
  EXPECT_TRUE(e->context.empty());
}

void ExpectError(std::string_view json, const std::string& message) {
  auto e = EventFromJson(json);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << json;
  EXPECT_EQ(e.status().message(), message) << json;
}

TEST(EventJson, PreciseErrors) {
  const std::string base = R"("asset":"a","source":"s","kind":"k")";
  ExpectError("[1]", "event json: expected an object, got array");
  ExpectError(R"({"asset":"a","source":"s","kind":"k"})", "event json: field 'start' is required");
  ExpectError("{" + base + R"(,"start":5})", "event json: field 'start': expected an RFC 3339 time string, got number");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:00Z","payload":[1]})",
              "event json: field 'payload': expected an object, got array");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:00Z","context":{"product":7}})",
              "event json: field 'context': key 'product': expected a string, got number");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:00Z","severity":"urgent"})",
              "event json: field 'severity': expected one of info, low, medium, high, got 'urgent'");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:00Z","color":"red"})", "event json: unknown field 'color'");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:00Z","schema_version":2})",
              "event json: field 'schema_version': expected 1..1, got 2");
  ExpectError("{" + base + R"(,"start":"2026-01-01T00:00:01Z","end":"2026-01-01T00:00:00Z"})",
              "event json: field 'end': expected a time at or after start (2026-01-01T00:00:01.000Z), got "
              "2026-01-01T00:00:00.000Z");
  ExpectError(R"({"asset":"","source":"s","kind":"k","start":"2026-01-01T00:00:00Z"})",
              "event json: field 'asset': expected a non-empty string");
  auto truncated = EventFromJson(R"({"asset":)");
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(truncated.status().message().rfind("event json: not valid JSON at byte 10: ", 0), 0u)
      << truncated.status().message();
}

}  // namespace
}  // namespace pf
