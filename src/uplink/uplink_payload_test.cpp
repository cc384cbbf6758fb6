#include "uplink/uplink_payload.h"

#include <gtest/gtest.h>

#include <limits>

#include <nlohmann/json.hpp>

namespace pf::uplink {
namespace {

using nlohmann::json;

OutboxRecord SampleRecord(uint64_t id, Value v) {
  OutboxSample s;
  s.tag = "press7.temp";
  s.asset = "press7";
  s.unit = "degC";
  s.source = "plc1";
  s.value = std::move(v);
  s.source_time = Timestamp::FromNs(1'700'000'000'123'456'789);
  s.receive_time = Timestamp::FromNs(1'700'000'000'223'456'789);
  s.seq = 42;
  s.quality = Quality::kUncertain;
  s.sub = QualitySub::kStale;
  OutboxRecord r;
  r.id = id;
  r.type = RecordType::kSample;
  r.body = s;
  return r;
}

TEST(UplinkPayload, SampleTopicAndFields) {
  Encoded e = Encode(SampleRecord(17, 21.5), "plantfloor/v1", "edge1");
  EXPECT_EQ(e.topic, "plantfloor/v1/edge1/sample/press7/press7.temp");
  json j = json::parse(e.payload);
  EXPECT_EQ(j["schema"], 1);
  EXPECT_EQ(j["id"], "edge1/17");
  EXPECT_EQ(j["record"], 17);
  EXPECT_EQ(j["type"], "sample");
  EXPECT_EQ(j["asset"], "press7");
  EXPECT_EQ(j["tag"], "press7.temp");
  EXPECT_EQ(j["unit"], "degC");
  EXPECT_EQ(j["source"], "plc1");
  EXPECT_EQ(j["value"], 21.5);
  EXPECT_EQ(j["quality"], "uncertain");
  EXPECT_EQ(j["quality_sub"], "stale");
  EXPECT_EQ(j["source_time"], "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(j["receive_time"], "2023-11-14T22:13:20.223456789Z");
  EXPECT_EQ(j["seq"], 42);
  EXPECT_EQ(e.bytes(), e.topic.size() + e.payload.size());
}

TEST(UplinkPayload, ValueKinds) {
  EXPECT_TRUE(json::parse(Encode(SampleRecord(1, std::monostate{}), "p", "d").payload)["value"].is_null());
  EXPECT_EQ(json::parse(Encode(SampleRecord(1, true), "p", "d").payload)["value"], true);
  EXPECT_EQ(json::parse(Encode(SampleRecord(1, int64_t{-9007199254740993}), "p", "d").payload)["value"].get<int64_t>(),
            -9007199254740993);
  EXPECT_EQ(json::parse(Encode(SampleRecord(1, std::string("AB-7")), "p", "d").payload)["value"], "AB-7");
  EXPECT_TRUE(json::parse(Encode(SampleRecord(1, std::numeric_limits<double>::quiet_NaN()), "p", "d").payload)["value"]
                  .is_null());
}

TEST(UplinkPayload, InvalidUtf8IsRepairedNotRefused) {
  Encoded e = Encode(SampleRecord(3, std::string("a\xff" "b")), "p", "d");
  EXPECT_EQ(json::parse(e.payload)["value"], "a\xef\xbf\xbd" "b");
}

TEST(UplinkPayload, TopicLevelsAreSanitized) {
  EXPECT_EQ(TopicLevel("a/b+c#d"), "a_b_c_d");
  EXPECT_EQ(TopicLevel(""), "_");
  OutboxRecord r = SampleRecord(5, 1.0);
  std::get<OutboxSample>(r.body).asset = "";
  std::get<OutboxSample>(r.body).tag = "line/1#temp";
  EXPECT_EQ(Encode(r, "plantfloor/v1", "edge1").topic, "plantfloor/v1/edge1/sample/_/line_1_temp");
}

TEST(UplinkPayload, EventAlertLabel) {
  Event ev;
  ev.id = "0000018bcfe56800-00000001";
  ev.asset_id = "press7";
  ev.source = "spc:press7.temp";
  ev.start = ev.end = Timestamp::FromNs(1'700'000'000'000'000'000);
  ev.kind = "alert";
  ev.severity = "high";
  ev.message = "rule 1";
  ev.payload_json = R"({"rule":1})";
  ev.context = {{"product", "P-100"}};
  for (auto [type, name] : {std::pair{RecordType::kEvent, "event"}, std::pair{RecordType::kAlert, "alert"},
                            std::pair{RecordType::kLabel, "label"}}) {
    OutboxRecord r;
    r.id = 99;
    r.type = type;
    r.body = ev;
    Encoded e = Encode(r, "plantfloor/v1", "edge1");
    EXPECT_EQ(e.topic, std::string("plantfloor/v1/edge1/") + name + "/press7");
    json j = json::parse(e.payload);
    EXPECT_EQ(j["id"], "edge1/99");
    EXPECT_EQ(j["type"], name);
    EXPECT_EQ(j["event"]["id"], ev.id);
    EXPECT_EQ(j["event"]["severity"], "high");
    EXPECT_EQ(j["event"]["payload"]["rule"], 1);
    EXPECT_EQ(j["event"]["context"]["product"], "P-100");
    EXPECT_EQ(j["event"]["start"], "2023-11-14T22:13:20.000000000Z");
  }
}

TEST(UplinkPayload, Ledger) {
  LedgerEntry l;
  l.id = "L1";
  l.recorded = Timestamp::FromNs(1'700'000'100'000'000'000);
  l.asset = "press7";
  l.tag = "press7.temp";
  l.evicted_type = RecordType::kSample;
  l.from = Timestamp::FromNs(1'700'000'000'000'000'000);
  l.to = Timestamp::FromNs(1'700'000'050'000'000'000);
  l.count = 500;
  l.first_record = 10;
  l.last_record = 509;
  l.reason = "disk_budget";
  OutboxRecord r;
  r.id = 600;
  r.type = RecordType::kLedger;
  r.body = l;
  Encoded e = Encode(r, "plantfloor/v1", "edge1");
  EXPECT_EQ(e.topic, "plantfloor/v1/edge1/ledger/press7");
  json j = json::parse(e.payload);
  EXPECT_EQ(j["type"], "ledger");
  EXPECT_EQ(j["ledger"]["id"], "L1");
  EXPECT_EQ(j["ledger"]["evicted_type"], "sample");
  EXPECT_EQ(j["ledger"]["count"], 500);
  EXPECT_EQ(j["ledger"]["first_record"], 10);
  EXPECT_EQ(j["ledger"]["last_record"], 509);
  EXPECT_EQ(j["ledger"]["from"], "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(j["ledger"]["to"], "2023-11-14T22:14:10.000000000Z");
  EXPECT_EQ(j["ledger"]["reason"], "disk_budget");
  EXPECT_EQ(j["ledger"]["upstream_loss"], true);
}

}  // namespace
}  // namespace pf::uplink
