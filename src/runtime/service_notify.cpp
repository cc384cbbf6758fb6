#include "runtime/service_notify.h"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pf {
namespace {

// A STATUS= value is one line: a newline would start a new (unintended) assignment.
std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

ServiceNotifier ServiceNotifier::FromEnvironment() {
  ServiceNotifier n;
  const char* socket = std::getenv("NOTIFY_SOCKET");
  n.enabled_ = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  // > 0: WATCHDOG_USEC is set and WATCHDOG_PID (when set) is ours.
  if (n.enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) n.watchdog_timeout_ = std::chrono::microseconds(usec);
  return n;
}

Status ServiceNotifier::Notify(std::string_view text) {
  if (!enabled_) return Status::Ok();
  std::string msg(text);
  int rc = sd_notify(0, msg.c_str());
  if (rc < 0) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("service notify: sending '{}' to NOTIFY_SOCKET failed: {}", OneLine(text), std::strerror(-rc)));
  }
  if (rc == 0) {
    return Status(StatusCode::kFailedPrecondition,
                  fmt::format("service notify: NOTIFY_SOCKET vanished before sending '{}'", OneLine(text)));
  }
  return Status::Ok();
}

Status ServiceNotifier::Ready(std::string_view status) { return Notify(fmt::format("READY=1\nSTATUS={}", OneLine(status))); }

Status ServiceNotifier::SetStatus(std::string_view status) { return Notify(fmt::format("STATUS={}", OneLine(status))); }

Status ServiceNotifier::Stopping(std::string_view status) {
  return Notify(fmt::format("STOPPING=1\nSTATUS={}", OneLine(status)));
}

Result<bool> ServiceNotifier::KeepAlive(Clock::time_point now) {
  if (!enabled_ || watchdog_timeout_.count() == 0) return false;
  if (pinged_ && now - last_ping_ < keepalive_interval()) return false;
  PF_RETURN_IF_ERROR(Notify("WATCHDOG=1"));
  pinged_ = true;
  last_ping_ = now;
  return true;
}

}  // namespace pf
