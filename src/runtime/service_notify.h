#pragma once
// The daemon's side of the systemd service protocol (Type=notify, WatchdogSec): READY=1 once the
// runtime runs, WATCHDOG=1 at half the watchdog interval, STOPPING=1 on shutdown, STATUS= lines.
// A thin wrapper over libsystemd's sd_notify; without NOTIFY_SOCKET (not started by systemd, or a
// test) every call is a no-op that returns OK, so `plantfloor run` behaves the same in a terminal.
//
// Thread-safety: one ServiceNotifier belongs to the thread that runs the main loop (cli/ Run()).
// The environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) is read once, in FromEnvironment().
#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pf {

class ServiceNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  // Reads NOTIFY_SOCKET and, through sd_watchdog_enabled(), WATCHDOG_USEC/WATCHDOG_PID. The
  // variables stay set (children of ours are not expected, and tests read them back).
  static ServiceNotifier FromEnvironment();

  // True when a service manager listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // The service manager's watchdog timeout; zero when the watchdog is off.
  std::chrono::microseconds watchdog_timeout() const { return watchdog_timeout_; }
  // How often KeepAlive() pings: half the timeout, as sd_watchdog_enabled(3) recommends; zero when off.
  std::chrono::microseconds keepalive_interval() const { return watchdog_timeout_ / 2; }

  // "READY=1\nSTATUS=<status>": the runtime has started and the API (if any) is listening.
  Status Ready(std::string_view status);
  // "STATUS=<status>": a one-line human-readable state shown by `systemctl status`.
  Status SetStatus(std::string_view status);
  // "STOPPING=1\nSTATUS=<status>": shutdown has begun (the stop may take up to TimeoutStopSec).
  Status Stopping(std::string_view status);
  // Sends WATCHDOG=1 when the watchdog is on and at least keepalive_interval() passed since the
  // last ping (the first call always pings). Returns true when it pinged. Call it from the main
  // loop at least every keepalive_interval() / 2 so a ping is never late.
  Result<bool> KeepAlive(Clock::time_point now = Clock::now());

  // Sends text as is (newline-separated VAR=value assignments). OK when disabled.
  Status Notify(std::string_view text);

 private:
  bool enabled_ = false;
  std::chrono::microseconds watchdog_timeout_{0};
  bool pinged_ = false;
  Clock::time_point last_ping_{};
};

}  // namespace pf
