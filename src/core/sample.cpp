#include "core/sample.h"

#include <array>

#include <fmt/format.h>

namespace pf {
namespace {
constexpr std::array<std::string_view, 3> kQualityNames = {"good", "uncertain", "bad"};
constexpr std::array<std::string_view, 12> kSubNames = {
    "none", "stale", "comm_failure", "sensor_failure", "out_of_range", "substituted",
    "config_error", "device_failure", "last_known", "not_connected", "parse_error", "gap"};
}  // namespace

std::string_view QualityName(Quality q) { return kQualityNames[static_cast<size_t>(q)]; }
std::string_view QualitySubName(QualitySub s) { return kSubNames[static_cast<size_t>(s)]; }

std::optional<Quality> ParseQuality(std::string_view name) {
  for (size_t i = 0; i < kQualityNames.size(); ++i)
    if (kQualityNames[i] == name) return static_cast<Quality>(i);
  return std::nullopt;
}
std::optional<QualitySub> ParseQualitySub(std::string_view name) {
  for (size_t i = 0; i < kSubNames.size(); ++i)
    if (kSubNames[i] == name) return static_cast<QualitySub>(i);
  return std::nullopt;
}

std::optional<double> AsDouble(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

std::string ValueToString(const Value& v) {
  struct V {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(V{}, v);
}

}  // namespace pf
