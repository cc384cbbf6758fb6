#include "testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace pf::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string SharedDir() {
  std::string dir;
  if (const char* e = std::getenv("PF_SHARED_DIR")) dir = e;
  else if (const char* s = std::getenv("PF_SOURCE_DIR")) dir = std::string(s) + "/../shared";
  if (dir.empty() || !std::filesystem::exists(dir)) return "";
  return std::filesystem::canonical(dir).string();
}

void RequireOrSkip(const std::string& path, const std::string& why) {
  if (!path.empty() && std::filesystem::exists(path)) return;
  std::cerr << "SKIPPED: " << why << " (missing: " << (path.empty() ? "../shared" : path) << ")\n";
  std::exit(kSkipReturnCode);
}

std::string PlantfloorBin() {
  if (const char* e = std::getenv("PF_BIN")) return e;
  return "plantfloor";
}

int Run(const std::string& command, std::string* out) {
  std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    if (out) out->append(buf.data(), n);
  int rc = ::pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pftest.XXXXXX").string();
  char* d = ::mkdtemp(tmpl.data());
  path_ = d ? d : "";
}
TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string PeersScript() {
  std::string shared = SharedDir();
  if (shared.empty()) return "";
  std::string p = shared + "/peers/peers.sh";
  return std::filesystem::exists(p) ? p : "";
}

Peer::Peer(std::string name, int port, std::string extra) : name_(std::move(name)) {
  std::string script = PeersScript();
  RequireOrSkip(script, "peer " + name_ + " needs ../shared/peers");
  port_ = port ? port : FreePort();
  int rc = Run("bash " + script + " start " + name_ + " " + std::to_string(port_) + " " + extra, &log_);
  ok_ = rc == 0;
  if (!ok_) std::cerr << "peer " << name_ << " failed to start:\n" << log_ << "\n";
}

void Peer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  std::string script = PeersScript();
  if (!script.empty()) Run("bash " + script + " stop " + name_ + " " + std::to_string(port_));
}

Peer::~Peer() { Stop(); }

}  // namespace pf::testing
