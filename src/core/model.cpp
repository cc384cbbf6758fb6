#include "core/model.h"

#include <array>
#include <atomic>
#include <random>

#include <fmt/format.h>

namespace pf {
namespace {
constexpr std::array<std::string_view, 6> kRoles = {"none", "product", "recipe", "batch",
                                                    "machine_state", "other"};
}

std::string_view ContextRoleName(ContextRole r) { return kRoles[static_cast<size_t>(r)]; }
std::optional<ContextRole> ParseContextRole(std::string_view name) {
  for (size_t i = 0; i < kRoles.size(); ++i)
    if (kRoles[i] == name) return static_cast<ContextRole>(i);
  return std::nullopt;
}

std::string NewEventId(Timestamp t) {
  static std::atomic<uint32_t> counter{std::random_device{}()};
  return fmt::format("{:016x}{:08x}", static_cast<uint64_t>(t.ns), counter.fetch_add(1));
}

}  // namespace pf
