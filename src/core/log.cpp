#include "core/log.h"

namespace pf {
void SetLogLevel(std::string_view level) {
  auto l = spdlog::level::from_str(std::string(level));
  if (l == spdlog::level::off && level != "off") l = spdlog::level::info;
  spdlog::set_level(l);
}
}  // namespace pf
