#pragma once
// Driving the plantfloor binary from end-to-end tests: a child process and its REST API.
// No MQTT here (e2e_support.h adds the hub-side subscriber), so tests without Paho can use it.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pf::e2e {

// A child process (fork + execv), SIGKILLed and reaped by the destructor if still running.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits up to timeout: the exit code, 128 + signal when killed by one, -1 while still running.
  int Wait(std::chrono::milliseconds timeout);
  int SignalAndWait(int sig, std::chrono::milliseconds timeout);
  // SIGKILL and reap: the power-cut-like stop (no shutdown code runs). Returns 128 + SIGKILL.
  int Kill9();
  int exit_code() const { return exited_ ? code_ : -2; }  // -2: not exited yet
  long PeakRssKb() const;  // VmHWM of the running child, -1 once it is gone

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

// fork + execv for tests that manage the pid themselves; the child never returns.
pid_t Spawn(const std::vector<std::string>& args);
// Waits for pid: its exit code, 128 + signal when killed, -1 on timeout (then it is SIGKILLed).
int WaitExit(pid_t pid, std::chrono::seconds timeout);
// Polls GET /api/v1/health until 200.
bool WaitHealthy(int api_port, std::chrono::seconds timeout);
// GET path on 127.0.0.1:port parsed as JSON (a discarded value when unreachable or not JSON).
nlohmann::json GetJson(int port, const std::string& path);

}  // namespace pf::e2e
