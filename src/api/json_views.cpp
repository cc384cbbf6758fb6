#include "api/json_views.h"

#include <cmath>

namespace pf {

nlohmann::json TimeJson(Timestamp t) { return FormatRfc3339(t, 9); }

nlohmann::json OptionalTimeJson(Timestamp t) { return t.ns == 0 ? nlohmann::json(nullptr) : TimeJson(t); }

nlohmann::json ValueJson(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return std::isfinite(*d) ? nlohmann::json(*d) : nlohmann::json(nullptr);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

nlohmann::json AssetJson(const Asset& a, const std::vector<std::string>& tag_names) {
  return {{"id", a.id},
          {"name", a.name},
          {"site", a.site},
          {"area", a.area},
          {"line", a.line},
          {"path", a.Path()},
          {"template", a.template_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.template_name)},
          {"description", a.description},
          {"tags", tag_names}};
}

nlohmann::json TagJson(const TagSnapshot& t) {
  nlohmann::json j = {{"name", t.def.name},         {"asset", t.def.asset_id},
                      {"unit", t.def.unit},         {"description", t.def.description},
                      {"source", t.def.source},     {"value", nullptr},
                      {"quality", nullptr},         {"quality_sub", nullptr},
                      {"source_time", nullptr},     {"receive_time", nullptr},
                      {"seq", nullptr},             {"samples", t.samples}};
  if (t.latest) {
    const Sample& s = *t.latest;
    j["value"] = ValueJson(s.value);
    j["quality"] = std::string(QualityName(s.quality));
    j["quality_sub"] = std::string(QualitySubName(s.sub));
    j["source_time"] = TimeJson(s.source_time);
    j["receive_time"] = TimeJson(s.receive_time);
    j["seq"] = s.seq;
  }
  return j;
}

nlohmann::json SourceJson(const SourceHealth& s) {
  return {{"name", s.name},
          {"type", s.type},
          {"connected", s.connected},
          {"finished", s.finished},
          {"last_error", s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error)},
          {"reconnects", s.reconnects},
          {"last_success", OptionalTimeJson(s.last_success)}};
}

nlohmann::json StoredSampleJson(const StoredSample& s) {
  return {{"time", TimeJson(s.source_time)},
          {"value", ValueJson(s.value)},
          {"quality", std::string(QualityName(s.quality))},
          {"quality_sub", std::string(QualitySubName(s.sub))},
          {"receive_time", TimeJson(s.receive_time)},
          {"seq", s.seq}};
}

nlohmann::json BucketJson(const HistoryBucket& b) {
  return {{"start", TimeJson(b.start)},
          {"end", TimeJson(b.end)},
          {"count", b.count},
          {"min", b.min},
          {"max", b.max},
          {"mean", b.mean},
          {"first", b.first},
          {"last", b.last},
          {"min_time", TimeJson(b.min_time)},
          {"max_time", TimeJson(b.max_time)},
          {"worst_quality", std::string(QualityName(b.worst_quality))}};
}

}  // namespace pf
