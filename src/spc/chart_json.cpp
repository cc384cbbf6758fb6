#include "spc/chart_json.h"

namespace pf::spc {
namespace {

nlohmann::json Opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json ChartJson(const Chart& c) {
  nlohmann::json points = nlohmann::json::array();
  for (const ChartPoint& p : c.points) {
    points.push_back({{"index", p.index},
                      {"label", p.label},
                      {"value", p.value},
                      {"center", p.center},
                      {"ucl", p.ucl},
                      {"lcl", p.lcl},
                      {"sigma", p.sigma},
                      {"size", Opt(p.size)},
                      {"phase", p.phase},
                      {"excluded", p.excluded}});
  }
  return {{"name", c.name}, {"center", Opt(c.center)}, {"ucl", Opt(c.ucl)}, {"lcl", Opt(c.lcl)}, {"points", points}};
}

}  // namespace

nlohmann::json ChartResultJson(const ChartResult& r, const JsonInput& input) {
  nlohmann::json j;
  j["chart"] = std::string(ChartTypeName(r.type));
  j["input"] = {{"file", input.file}, {"rows", input.rows}, {"missing", input.missing}};
  j["phase1"] = r.phase1_first > 0 ? nlohmann::json{{"first", r.phase1_first}, {"last", r.phase1_last}}
                                   : nlohmann::json(nullptr);
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : r.parameters) params[k] = v;
  j["parameters"] = params;
  j["charts"] = nlohmann::json::array();
  for (const Chart& c : r.charts) j["charts"].push_back(ChartJson(c));
  j["exclusions"] = nlohmann::json::array();
  for (const Exclusion& e : r.exclusions)
    j["exclusions"].push_back({{"index", e.index}, {"chart", e.chart}, {"iteration", e.iteration}, {"reason", e.reason}});
  j["violations"] = nlohmann::json::array();
  for (const Violation& v : r.violations)
    j["violations"].push_back(
        {{"rule", v.rule}, {"chart", v.chart}, {"points", v.points}, {"zone", v.zone}, {"message", v.message}});
  j["lag1_autocorrelation"] = Opt(r.lag1_autocorrelation);
  j["warnings"] = r.warnings;
  // capability_json comes from CapabilityJson(); parsed without exceptions, a malformed one reads as null.
  nlohmann::json cap = nlohmann::json::parse(r.capability_json, nullptr, false);
  j["capability"] = r.capability_json.empty() || cap.is_discarded() ? nlohmann::json(nullptr) : cap;
  return j;
}

}  // namespace pf::spc
