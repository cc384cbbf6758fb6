#include "runtime/spc_config.h"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace pf {
namespace {

constexpr std::array<std::string_view, 3> kChartNames = {"imr", "xbar_r", "xbar_s"};
constexpr std::array<std::string_view, 3> kPriorityWords = {"low", "medium", "high"};

constexpr FieldSpec kSpcSpec[] = {
    {"charts", FieldType::kTableArray, false, "", "live control charts on tags (see [[spc.charts]])"},
};

constexpr FieldSpec kSpcChartSpec[] = {
    {"tag", FieldType::kString, true, "", "the tag the chart watches, e.g. \"press7.bore_diameter\""},
    {"name", FieldType::kString, false, "<tag>", "chart name in the API and in alert causes"},
    {"asset", FieldType::kString, false, "<the tag's asset>", "asset the violations are raised on"},
    {"chart", FieldType::kString, false, "imr", "imr (individuals and moving range), xbar_r or xbar_s"},
    {"subgroup_size", FieldType::kInt, false, "1 (imr), 5 (xbar_r, xbar_s)", "values per subgroup (by count)"},
    {"subgroup_window", FieldType::kDuration, false, "",
     "subgroup by time instead: every value of one window is one subgroup (xbar_r, xbar_s)"},
    {"rules", FieldType::kString, false, "nelson",
     "run rules: we (Western Electric 1-4), nelson (1-8), none, or a list like \"nelson1,nelson2,nelson5\""},
    {"usl", FieldType::kDouble, false, "", "upper specification limit (capability in the API)"},
    {"lsl", FieldType::kDouble, false, "", "lower specification limit"},
    {"target", FieldType::kDouble, false, "", "target value (Cpm)"},
    {"baseline", FieldType::kInt, false, "100", "points (subgroups) of the initial Phase I when no limits are given"},
    {"baseline_approve", FieldType::kBool, false, "true",
     "the baseline limits are active at once (false: a proposal waits for an engineer's approval)"},
    {"center", FieldType::kDouble, false, "", "approved process mean (with sigma: limits approved by this config)"},
    {"sigma", FieldType::kDouble, false, "", "approved process standard deviation of one value"},
    {"key_by", FieldType::kString, false, "",
     "production-context key (e.g. \"product\") whose value selects its own approved limits"},
    {"allow_autocorrelation", FieldType::kBool, false, "false",
     "accept baseline limits even when the lag-1 autocorrelation is above 0.5"},
    {"priority", FieldType::kString, false, "low", "priority of the violation alerts: low, medium, high"},
    {"suppress_in_states", FieldType::kStringArray, false, "[]", "machine states that put the chart's alerts out of service"},
};

}  // namespace

std::span<const FieldSpec> SpcSpec() { return kSpcSpec; }
std::span<const FieldSpec> SpcChartSpec() { return kSpcChartSpec; }

Result<SpcChartConfig> ReadSpcChart(const ConfigNode& table) {
  ConfigReader r(table, kSpcChartSpec);
  PF_RETURN_IF_ERROR(r.Check());
  SpcChartConfig c;
  c.node = &table;
  PF_ASSIGN_OR_RETURN(c.tag, r.String("tag"));
  if (c.tag.empty()) return r.Error("tag", "must not be empty");
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", c.tag));
  if (c.name.empty() || c.name.find_first_of("/ ?#") != std::string::npos)
    return r.Error("name", fmt::format("'{}' cannot be a chart name (no '/', ' ', '?', '#')", c.name));
  PF_ASSIGN_OR_RETURN(c.asset, r.String("asset", ""));
  PF_ASSIGN_OR_RETURN(c.chart, r.Enum("chart", "imr", kChartNames));
  bool xbar = c.chart != "imr";
  PF_ASSIGN_OR_RETURN(int64_t n, r.IntIn("subgroup_size", xbar ? 5 : 1, 1, 1000));
  c.subgroup_size = static_cast<int>(n);
  if (r.Has("subgroup_window")) {
    if (!xbar) return r.Error("subgroup_window", "an imr chart plots single values; use chart = \"xbar_r\" or \"xbar_s\"");
    if (r.Has("subgroup_size")) return r.Error("subgroup_window", "give subgroup_size or subgroup_window, not both");
    PF_ASSIGN_OR_RETURN(Duration w, r.Dur("subgroup_window", Duration(0)));
    if (w.count() <= 0) return r.Error("subgroup_window", "must be above 0");
    c.subgroup_window = w;
  } else if (xbar && c.subgroup_size < 2) {
    return r.Error("subgroup_size", fmt::format("an {} chart needs subgroups of at least 2 values; use chart = \"imr\" "
                                                "for single values", c.chart));
  } else if (!xbar && c.subgroup_size != 1) {
    return r.Error("subgroup_size", "an imr chart plots single values (subgroup_size 1); use xbar_r for subgroups");
  }
  PF_ASSIGN_OR_RETURN(std::string rules, r.String("rules", "nelson"));
  auto rs = spc::ParseRuleSet(rules);
  if (!rs.ok()) return r.Error("rules", rs.status().message());
  c.rules = *rs;
  for (const char* key : {"usl", "lsl", "target", "center", "sigma"}) {
    if (!r.Has(key)) continue;
    PF_ASSIGN_OR_RETURN(double v, r.Double(key, 0));
    if (!std::isfinite(v)) return r.Error(key, "must be a finite number");
    std::string_view k = key;
    (k == "usl" ? c.usl : k == "lsl" ? c.lsl : k == "target" ? c.target : k == "center" ? c.center : c.sigma) = v;
  }
  if (c.usl && c.lsl && *c.lsl >= *c.usl)
    return r.Error("lsl", fmt::format("must be below usl ({} >= {})", *c.lsl, *c.usl));
  if (c.center.has_value() != c.sigma.has_value())
    return r.Error(c.center ? "sigma" : "center", "center and sigma are given together (approved limits)");
  if (c.sigma && *c.sigma <= 0) return r.Error("sigma", fmt::format("must be above 0, got {}", *c.sigma));
  PF_ASSIGN_OR_RETURN(int64_t baseline, r.IntIn("baseline", 100, 10, 100000));
  c.baseline = static_cast<int>(baseline);
  PF_ASSIGN_OR_RETURN(c.baseline_approve, r.Bool("baseline_approve", true));
  PF_ASSIGN_OR_RETURN(c.key_by, r.String("key_by", ""));
  PF_ASSIGN_OR_RETURN(c.allow_autocorrelation, r.Bool("allow_autocorrelation", false));
  PF_ASSIGN_OR_RETURN(std::string priority, r.Enum("priority", "low", kPriorityWords));
  c.priority = *alerts::ParsePriority(priority);
  PF_ASSIGN_OR_RETURN(c.suppress_in_states, r.Strings("suppress_in_states"));
  return c;
}

}  // namespace pf
