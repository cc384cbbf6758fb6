#include "alerts/alert_types.h"

#include <array>

namespace pf::alerts {
namespace {
constexpr std::array<std::string_view, 3> kPriorityNames = {"low", "medium", "high"};
constexpr std::array<std::string_view, 6> kStateNames = {"normal", "unack", "acked", "rtn_unack", "shelved", "suppressed"};
}  // namespace

std::string_view PriorityName(Priority p) { return kPriorityNames[static_cast<size_t>(p)]; }

std::optional<Priority> ParsePriority(std::string_view name) {
  for (size_t i = 0; i < kPriorityNames.size(); ++i)
    if (kPriorityNames[i] == name) return static_cast<Priority>(i);
  return std::nullopt;
}

std::string_view AlertStateName(AlertState s) { return kStateNames[static_cast<size_t>(s)]; }

std::optional<AlertState> ParseAlertState(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i)
    if (kStateNames[i] == name) return static_cast<AlertState>(i);
  return std::nullopt;
}

const ConditionConfig& AlertEngineConfig::For(const std::string& source) const {
  auto it = sources.find(source);
  return it == sources.end() ? defaults : it->second;
}

std::string AlertEngineConfig::AreaOf(const std::string& asset) const {
  auto it = asset_area.find(asset);
  return it == asset_area.end() || it->second.empty() ? "unassigned" : it->second;
}

std::string AlertEngineConfig::PositionOf(const std::string& asset) const {
  std::string area = AreaOf(asset);
  auto it = area_position.find(area);
  return it == area_position.end() || it->second.empty() ? area : it->second;
}

namespace {
Status CheckDelays(const std::string& where, const ConditionConfig& c) {
  if (c.on_delay.count() < 0) return InvalidArgument("alerts: {}: on_delay must not be negative", where);
  if (c.off_delay.count() < 0) return InvalidArgument("alerts: {}: off_delay must not be negative", where);
  return Status::Ok();
}
}  // namespace

Status AlertEngineConfig::Validate() const {
  if (chatter_count < 1) return InvalidArgument("alerts: chatter_count must be at least 1, got {}", chatter_count);
  if (chatter_window.count() <= 0) return InvalidArgument("alerts: chatter_window must be above 0");
  if (flood_count < 1) return InvalidArgument("alerts: flood_count must be at least 1, got {}", flood_count);
  if (flood_window.count() <= 0) return InvalidArgument("alerts: flood_window must be above 0");
  PF_RETURN_IF_ERROR(CheckDelays("defaults", defaults));
  for (const auto& [source, c] : sources) PF_RETURN_IF_ERROR(CheckDelays(fmt::format("source '{}'", source), c));
  return Status::Ok();
}

}  // namespace pf::alerts
