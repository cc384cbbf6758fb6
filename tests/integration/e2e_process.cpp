#include "e2e_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <httplib.h>

namespace pf::e2e {

using namespace std::chrono_literals;

namespace {
int DecodeStatus(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
}  // namespace

pid_t Spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return DecodeStatus(status);
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

ChildProcess::ChildProcess(const std::vector<std::string>& args) : pid_(Spawn(args)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) Kill9();
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (exited_) return code_;
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  do {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      code_ = DecodeStatus(status);
      return code_;
    }
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(timeout, 20ms));
  } while (std::chrono::steady_clock::now() < end);
  return -1;
}

int ChildProcess::SignalAndWait(int sig, std::chrono::milliseconds timeout) {
  if (!exited_) kill(pid_, sig);
  return Wait(timeout);
}

int ChildProcess::Kill9() {
  if (exited_) return code_;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exited_ = true;
  code_ = DecodeStatus(status);
  return code_;
}

long ChildProcess::PeakRssKb() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

bool WaitHealthy(int api_port, std::chrono::seconds timeout) {
  httplib::Client c("127.0.0.1", api_port);
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (auto r = c.Get("/api/v1/health"); r && r->status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

nlohmann::json GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto r = c.Get(path);
  if (!r) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

}  // namespace pf::e2e
