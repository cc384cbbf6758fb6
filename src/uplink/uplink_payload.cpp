#include "uplink/uplink_payload.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/event_json.h"

namespace pf::uplink {
namespace {

using nlohmann::json;

json ValueJson(const Value& v) {
  struct Visitor {
    json operator()(std::monostate) const { return nullptr; }
    json operator()(bool b) const { return b; }
    json operator()(int64_t i) const { return i; }
    json operator()(double d) const { return std::isfinite(d) ? json(d) : json(nullptr); }
    json operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{}, v);
}

// Times are RFC 3339 strings with nanoseconds: ns integers exceed 2^53 and would lose precision
// in JavaScript and many JSON parsers.
std::string Time(Timestamp t) { return FormatRfc3339(t, 9); }

void SampleFields(const OutboxSample& s, json& j) {
  j["asset"] = s.asset;
  j["tag"] = s.tag;
  j["unit"] = s.unit;
  j["source"] = s.source;
  j["value"] = ValueJson(s.value);
  j["quality"] = QualityName(s.quality);
  j["quality_sub"] = QualitySubName(s.sub);
  j["source_time"] = Time(s.source_time);
  j["receive_time"] = Time(s.receive_time);
  j["seq"] = s.seq;
}

json LedgerJson(const LedgerEntry& l) {
  return json{{"id", l.id},
              {"recorded", Time(l.recorded)},
              {"asset", l.asset},
              {"tag", l.tag},
              {"evicted_type", TypeName(l.evicted_type)},
              {"from", Time(l.from)},
              {"to", Time(l.to)},
              {"count", l.count},
              {"first_record", l.first_record},
              {"last_record", l.last_record},
              {"reason", l.reason},
              {"upstream_loss", l.upstream_loss}};
}

// The asset (and tag) levels of the topic for a record body.
std::string TopicTail(const OutboxRecord& r) {
  if (const auto* s = std::get_if<OutboxSample>(&r.body))
    return TopicLevel(s->asset) + "/" + TopicLevel(s->tag);
  if (const auto* e = std::get_if<Event>(&r.body)) return TopicLevel(e->asset_id);
  if (const auto* l = std::get_if<LedgerEntry>(&r.body)) return TopicLevel(l->asset);
  return "_";
}

}  // namespace

std::string_view TypeName(RecordType t) { return RecordTypeName(t); }

std::string TopicLevel(std::string_view s) {
  if (s.empty()) return "_";
  std::string out(s);
  for (char& c : out)
    if (c == '/' || c == '+' || c == '#' || c == '\0') c = '_';
  return out;
}

std::string MessageId(std::string_view device, uint64_t record_id) {
  return fmt::format("{}/{}", device, record_id);
}

Encoded Encode(const OutboxRecord& r, std::string_view prefix, std::string_view device) {
  json j = json::object();
  j["schema"] = kSchemaVersion;
  j["id"] = MessageId(device, r.id);
  j["record"] = r.id;
  j["type"] = TypeName(r.type);
  if (const auto* s = std::get_if<OutboxSample>(&r.body)) SampleFields(*s, j);
  if (const auto* e = std::get_if<Event>(&r.body)) j["event"] = EventToJsonObject(*e);
  if (const auto* l = std::get_if<LedgerEntry>(&r.body)) j["ledger"] = LedgerJson(*l);
  Encoded out;
  out.topic = fmt::format("{}/{}/{}/{}", prefix, TopicLevel(device), TypeName(r.type), TopicTail(r));
  out.payload = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

}  // namespace pf::uplink
