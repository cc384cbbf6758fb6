#pragma once
// [spc] and [[spc.charts]]: live control charts on tags. Each chart watches one declared tag,
// subgroups its samples by count (subgroup_size) or by time (subgroup_window), judges the selected
// run rules against its approved limits, and raises each rule's violations as an alert (source
// "spc:<name>", cause "spc.<name>.<rule>"). Limits come from `limits` (approved by the config), or
// from the first `baseline` points (a proposal, approved automatically when baseline_approve is
// true), and later from proposals an engineer approves through the API.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerts/alert_types.h"
#include "core/config.h"
#include "spc/rules.h"

namespace pf {

struct SpcChartConfig {
  std::string name;   // unique; default: the tag name
  std::string tag;
  std::string asset;  // default: the tag's asset
  std::string chart = "imr";  // imr, xbar_r, xbar_s
  int subgroup_size = 1;
  std::optional<Duration> subgroup_window;
  spc::RuleSet rules;
  std::optional<double> usl, lsl, target;
  int baseline = 100;            // points (subgroups) of the initial Phase I
  bool baseline_approve = true;  // the baseline limits become active without an engineer's approval
  std::optional<double> center, sigma;  // limits approved by the config
  std::string key_by;            // production-context key whose value keys the limits ("" = one set)
  bool allow_autocorrelation = false;
  alerts::Priority priority = alerts::Priority::kLow;
  std::vector<std::string> suppress_in_states;
  const ConfigNode* node = nullptr;  // for error locations
};

std::span<const FieldSpec> SpcSpec();
std::span<const FieldSpec> SpcChartSpec();
// One [[spc.charts]] table (tag existence and the asset are checked by the caller).
Result<SpcChartConfig> ReadSpcChart(const ConfigNode& table);

}  // namespace pf
