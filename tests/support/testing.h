#pragma once
// Shared helpers for tests: free ports, the shared data folder, peers, skipping.
// A test that cannot run for missing data or peers exits 77, which ctest reports as skipped.
#include <string>
#include <vector>

namespace pf::testing {

constexpr int kSkipReturnCode = 77;

// Binds port 0 on 127.0.0.1 and returns the port the kernel chose (then closes the socket).
int FreePort();
// ../shared (PF_SHARED_DIR from ctest, else <source>/../shared). "" when absent.
std::string SharedDir();
// Exits the test process with 77 (skipped) and the reason on stderr when path does not exist.
void RequireOrSkip(const std::string& path, const std::string& why);
// The plantfloor binary (PF_BIN from ctest).
std::string PlantfloorBin();
// Runs a shell command; returns its exit code and fills out with stdout+stderr.
int Run(const std::string& command, std::string* out = nullptr);
// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
 private:
  std::string path_;
};

// A peer from ../shared/peers started on a free port and stopped on destruction.
// Skips the test (exit 77) when ../shared/peers is absent; fails loudly if it is present but the
// peer does not start.
class Peer {
 public:
  // name: mosquitto, pymodbus, libmodbus, opcua, ...; extra: e.g. "secure"
  explicit Peer(std::string name, int port = 0, std::string extra = "");
  ~Peer();
  int port() const { return port_; }
  bool ok() const { return ok_; }
  const std::string& log() const { return log_; }
  void Stop();
 private:
  std::string name_;
  int port_ = 0;
  bool ok_ = false;
  bool stopped_ = false;
  std::string log_;
};

std::string PeersScript();  // path to peers.sh or ""

}  // namespace pf::testing
