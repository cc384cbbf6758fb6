#pragma once
// A loopback TCP proxy for fault-injection tests: listens on 127.0.0.1 (port 0: the kernel picks one)
// and forwards every accepted connection to a target. Cut(d) breaks the network for d: every live
// connection is closed on both sides and new connections are accepted and dropped at once until d has
// passed, while the target keeps running. Inject() sends bytes to the clients as if the target had sent
// them (malformed-message tests).
//
// One thread does all the I/O; the methods are thread-safe and return at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::testing {

class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  void Cut(std::chrono::milliseconds duration);
  void Inject(std::string bytes);
  // Connections forwarded so far / closed by a cut / dropped because they arrived during one.
  int forwarded() const { return forwarded_; }
  int cut_connections() const { return cut_connections_; }
  int dropped() const { return dropped_; }

 private:
  struct Pair {
    int client = -1, server = -1;
  };
  void Loop();
  void Wake();
  void CloseAll();

  std::string host_;
  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mu_;
  bool stop_ = false;
  bool cut_now_ = false;
  std::chrono::steady_clock::time_point cut_until_{};
  std::vector<std::string> inject_;
  std::vector<Pair> pairs_;  // thread only
  std::atomic<int> forwarded_{0}, cut_connections_{0}, dropped_{0};
};

}  // namespace pf::testing
