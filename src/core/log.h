#pragma once
// Logging: spdlog with fmt. One process-wide logger, configured by the CLI (level, JSON or text).
#include <spdlog/spdlog.h>

namespace pf {
// Sets the level by name ("trace".."critical", "off"); unknown names keep "info".
void SetLogLevel(std::string_view level);
}  // namespace pf

#define PF_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define PF_LOG_DEBUG(...) spdlog::debug(__VA_ARGS__)
#define PF_LOG_INFO(...) spdlog::info(__VA_ARGS__)
#define PF_LOG_WARN(...) spdlog::warn(__VA_ARGS__)
#define PF_LOG_ERROR(...) spdlog::error(__VA_ARGS__)
