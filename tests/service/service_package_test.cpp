// The .deb as a plant PC gets it: built with `cpack -G DEB` from this build folder, inspected with
// dpkg-deb, then its binary run the way plantfloor.service runs it (unprivileged user, the unit's
// ExecStart, NOTIFY_SOCKET + WATCHDOG_USEC, STATE_DIRECTORY) against a fake service manager.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "testing.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uid_t kNobody = 65534;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Builds the package once for every test in this file.
class Package : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pf::testing::RequireOrSkip("/usr/bin/dpkg-shlibdeps", "cpack's DEB Depends need dpkg-shlibdeps (apt-get install dpkg-dev)");
    dir_ = std::make_unique<pf::testing::TempDir>();
    const char* cpack = std::getenv("PF_CPACK");
    const char* build = std::getenv("PF_BINARY_DIR");
    ASSERT_NE(cpack, nullptr) << "PF_CPACK is set by ctest";
    ASSERT_NE(build, nullptr) << "PF_BINARY_DIR is set by ctest";
    std::string out;
    int rc = pf::testing::Run(Format("{} -G DEB -B {} --config {}/CPackConfig.cmake", Quote(cpack), Quote(dir_->path()),
                                  Quote(build)),
                              &out);
    ASSERT_EQ(rc, 0) << out;
    for (const auto& e : fs::directory_iterator(dir_->path()))
      if (e.path().extension() == ".deb") deb_ = e.path().string();
    ASSERT_FALSE(deb_.empty()) << "cpack made no .deb:\n" << out;
  }
  static void TearDownTestSuite() { dir_.reset(); }

  template <typename... A>
  static std::string Format(const char* f, const A&... a) {
    std::string s = f;
    (Replace(s, a), ...);
    return s;
  }
  static void Replace(std::string& s, const std::string& v) { s.replace(s.find("{}"), 2, v); }

  static std::string Field(const std::string& name) {
    std::string out;
    EXPECT_EQ(pf::testing::Run(Format("dpkg-deb -f {} {}", Quote(deb_), name), &out), 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  static inline std::unique_ptr<pf::testing::TempDir> dir_;
  static inline std::string deb_;
};

TEST_F(Package, NameVersionAndArchitecture) {
  EXPECT_EQ(Field("Package"), "plantfloor");
  EXPECT_EQ(Field("Version"), "0.1.0");
  EXPECT_EQ(Field("Architecture"), "amd64");
  EXPECT_EQ(fs::path(deb_).filename(), "plantfloor_0.1.0_amd64.deb");
  EXPECT_NE(Field("Maintainer"), "");
  std::string description = Field("Description");
  EXPECT_EQ(description.substr(0, description.find('\n')),
            "edge runtime for manufacturing AI: PLC ingestion, history, REST API");
  EXPECT_NE(description.find("\n plantfloor reads machines"), std::string::npos) << description;
}

TEST_F(Package, DependsComeFromTheBinarysLibraries) {
  std::string depends = Field("Depends");
  for (const char* lib : {"libmodbus5", "libsqlite3-0", "libsystemd0", "libfmt9", "libc6", "adduser"})
    EXPECT_NE(depends.find(lib), std::string::npos) << lib << " missing from Depends: " << depends;
  EXPECT_NE(Field("Recommends").find("systemd"), std::string::npos);
}

// Every path in the package, with its mode and owner, and nothing else.
TEST_F(Package, InstallsExactlyTheBinaryTheUnitAndTheConfig) {
  std::string out;
  ASSERT_EQ(pf::testing::Run(Format("dpkg-deb -c {}", Quote(deb_)), &out), 0) << out;
  std::map<std::string, std::string> files;  // path -> "mode owner"
  std::istringstream in(out);
  std::string mode, owner, size, date, time, path;
  while (in >> mode >> owner >> size >> date >> time >> path) {
    if (mode[0] == 'd') continue;
    files[path] = mode + " " + owner;
  }
  std::map<std::string, std::string> want = {
      {"./usr/bin/plantfloor", "-rwxr-xr-x root/root"},
      {"./lib/systemd/system/plantfloor.service", "-rw-r--r-- root/root"},
      {"./etc/plantfloor/plantfloor.toml", "-rw-r--r-- root/root"},
      {"./usr/share/doc/plantfloor/README.md", "-rw-r--r-- root/root"},
  };
  EXPECT_EQ(files, want) << out;
}

TEST_F(Package, ConfigIsAConffileAndScriptsAreExecutableShell) {
  std::string ctrl = dir_->path() + "/control";
  std::string out;
  ASSERT_EQ(pf::testing::Run(Format("dpkg-deb -e {} {}", Quote(deb_), Quote(ctrl)), &out), 0) << out;
  EXPECT_EQ(ReadFile(ctrl + "/conffiles"), "/etc/plantfloor/plantfloor.toml\n");
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    std::string p = ctrl + "/" + script;
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << script << " missing from the control archive";
    EXPECT_EQ(st.st_mode & 07777, 0755u) << script;
    EXPECT_EQ(pf::testing::Run("sh -n " + Quote(p), &out), 0) << script << ": " << out;
  }
  // The user is made only when missing, as a system user whose home is the state directory.
  std::string postinst = ReadFile(ctrl + "/postinst");
  EXPECT_NE(postinst.find("getent passwd plantfloor"), std::string::npos);
  EXPECT_NE(postinst.find("adduser --system --group --home /var/lib/plantfloor"), std::string::npos);
}

// The maintainer scripts' decisions, with getent/adduser/systemctl replaced by stubs that log
// their arguments (a real dpkg -i needs a disposable system with systemd as PID 1).
TEST_F(Package, PostinstCreatesTheUserOnlyWhenMissingAndNeverStartsTheService) {
  std::string ctrl = dir_->path() + "/control-scripts";
  std::string stubs = dir_->path() + "/stubs";
  std::string log = dir_->path() + "/calls.log";
  std::string out;
  ASSERT_EQ(pf::testing::Run(Format("dpkg-deb -e {} {}", Quote(deb_), Quote(ctrl)), &out), 0) << out;
  fs::create_directories(stubs);
  auto stub = [&](const std::string& name, const std::string& body) {
    std::ofstream(stubs + "/" + name) << "#!/bin/sh\necho \"" << name << " $*\" >> " << log << "\n" << body << "\n";
    fs::permissions(stubs + "/" + name, fs::perms::owner_all);
  };
  stub("adduser", "exit 0");
  stub("systemctl", "exit 0");
  const std::string env = "PATH=" + stubs + ":/usr/bin:/bin ";
  const bool systemd_runs = fs::is_directory("/run/systemd/system");

  // First install: no user yet.
  stub("getent", "exit 2");
  ASSERT_EQ(pf::testing::Run(env + "sh " + Quote(ctrl + "/postinst") + " configure", &out), 0) << out;
  std::string want = "getent passwd plantfloor\n"
                     "adduser --system --group --home /var/lib/plantfloor --no-create-home --gecos plantfloor edge "
                     "runtime plantfloor\n";
  if (systemd_runs) want += "systemctl daemon-reload\n";
  EXPECT_EQ(ReadFile(log), want);

  // Upgrade from 0.0.9: the user exists; a running service is restarted, a stopped one stays stopped.
  fs::remove(log);
  stub("getent", "echo plantfloor:x:998:998::/var/lib/plantfloor:/usr/sbin/nologin");
  ASSERT_EQ(pf::testing::Run(env + "sh " + Quote(ctrl + "/postinst") + " configure 0.0.9", &out), 0) << out;
  want = "getent passwd plantfloor\n";
  if (systemd_runs) want += "systemctl daemon-reload\nsystemctl try-restart plantfloor.service\n";
  EXPECT_EQ(ReadFile(log), want);

  // prerm on upgrade leaves the service alone (postinst restarts it).
  fs::remove(log);
  ASSERT_EQ(pf::testing::Run(env + "sh " + Quote(ctrl + "/prerm") + " upgrade 0.1.0", &out), 0) << out;
  EXPECT_FALSE(fs::exists(log)) << ReadFile(log);
}

// ---- running the packaged binary as plantfloor.service would ----

// systemd's end of the notify protocol: a datagram socket anyone may send to.
class NotifyListener {
 public:
  explicit NotifyListener(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::chmod(path.c_str(), 0666) == 0;
  }
  ~NotifyListener() { ::close(fd_); }
  bool ok() const { return ok_; }
  struct Message {
    Clock::time_point at;
    std::string text;
  };
  // Receives until a message containing `what` arrives (returned) or the deadline passes.
  std::optional<Message> WaitFor(const std::string& what, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) != 1) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      Message m{Clock::now(), std::string(buf, static_cast<size_t>(n))};
      log_.push_back(m);
      if (m.text.find(what) != std::string::npos) return m;
    }
  }
  const std::vector<Message>& log() const { return log_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::vector<Message> log_;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string UnitValue(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

// "Uid" -> "65534\t65534\t65534\t65534" from /proc/PID/status, blanks around it trimmed.
std::string ProcField(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? "" : v.substr(b, e - b + 1);
  }
  return "<no " + key + ">";
}

std::optional<int> WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

TEST_F(Package, RunsAsTheUnitWould) {
  const std::string tmp = dir_->path();
  const std::string root = tmp + "/root";
  std::string out;
  ASSERT_EQ(pf::testing::Run(Format("dpkg-deb -x {} {}", Quote(deb_), Quote(root)), &out), 0) << out;
  ASSERT_EQ(::chmod(tmp.c_str(), 0755), 0);  // the unprivileged user must reach the extracted tree

  // The unit as installed decides the command line, user and watchdog.
  std::string unit = ReadFile(root + "/lib/systemd/system/plantfloor.service");
  ASSERT_EQ(UnitValue(unit, "Type"), "notify");
  ASSERT_EQ(UnitValue(unit, "WatchdogSec"), "30s");
  std::vector<std::string> argv = Split(UnitValue(unit, "ExecStart"));
  ASSERT_EQ(argv, (std::vector<std::string>{"/usr/bin/plantfloor", "run", "--config", "/etc/plantfloor/plantfloor.toml"}));

  // The packaged default config, with the API moved to a free port (the only edit).
  std::string config = ReadFile(root + argv[3]);
  const std::string kListen = "listen = \"127.0.0.1:8080\"";
  size_t at = config.find(kListen);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(config.find(kListen, at + 1), std::string::npos);
  const int port = pf::testing::FreePort();
  config.replace(at, kListen.size(), "listen = \"127.0.0.1:" + std::to_string(port) + "\"");
  const std::string config_path = tmp + "/plantfloor.toml";
  std::ofstream(config_path) << config;
  ASSERT_EQ(::chmod(config_path.c_str(), 0644), 0);
  argv[0] = root + argv[0];
  argv[3] = config_path;

  // StateDirectory=plantfloor: a directory the service user owns, mode 0750, also the cwd.
  const bool as_root = ::geteuid() == 0;
  const std::string state = tmp + "/state";
  ASSERT_EQ(::mkdir(state.c_str(), 0750), 0);
  if (as_root) {
    ASSERT_EQ(::chown(state.c_str(), kNobody, kNobody), 0);
  }

  NotifyListener notify(tmp + "/notify.sock");
  ASSERT_TRUE(notify.ok());

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::chdir(state.c_str());
    ::umask(0027);
    std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "LANG=C.UTF-8",
                                    "NOTIFY_SOCKET=" + tmp + "/notify.sock",
                                    "WATCHDOG_USEC=2000000",
                                    "WATCHDOG_PID=" + std::to_string(::getpid()),
                                    "STATE_DIRECTORY=" + state};
    std::vector<std::string> cmd;
    // As root, drop to nobody the way User=/Group= do; otherwise the test already is unprivileged.
    if (as_root)
      cmd = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--"};
    cmd.insert(cmd.end(), argv.begin(), argv.end());
    std::vector<char*> cargv, cenv;
    for (auto& s : cmd) cargv.push_back(s.data());
    for (auto& s : env) cenv.push_back(s.data());
    cargv.push_back(nullptr);
    cenv.push_back(nullptr);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  struct Reaper {  // never leave the daemon behind a failed assertion
    pid_t pid;
    bool reaped = false;
    ~Reaper() {
      if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{pid};

  auto ready = notify.WaitFor("READY=1", Clock::now() + 20s);
  ASSERT_TRUE(ready.has_value()) << "no READY=1 within 20 s";
  EXPECT_EQ(ready->text, "READY=1\nSTATUS=running: 0 sources, 0 tags, API on 127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(notify.log().empty());
  EXPECT_EQ(notify.log().front().text, "STATUS=starting");

  if (as_root) {  // the daemon really runs as nobody, with no supplementary groups
    std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
    EXPECT_EQ(ProcField(status, "Uid"), "65534\t65534\t65534\t65534") << status;
    EXPECT_EQ(ProcField(status, "Gid"), "65534\t65534\t65534\t65534") << status;
    EXPECT_EQ(ProcField(status, "Groups"), "") << status;
    EXPECT_EQ(ProcField(status, "NoNewPrivs"), "1") << status;
    EXPECT_EQ(ProcField(status, "Umask"), "0027") << status;
  }

  // WATCHDOG_USEC=2 s: a ping every second; at least two in the 3 s after READY, never 2 s apart.
  std::vector<Clock::time_point> pings;
  auto window_end = ready->at + 3s;
  while (auto m = notify.WaitFor("WATCHDOG=1", window_end)) {
    EXPECT_EQ(m->text, "WATCHDOG=1");
    pings.push_back(m->at);
  }
  ASSERT_GE(pings.size(), 2u);
  for (size_t i = 1; i < pings.size(); ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(pings[i] - pings[i - 1]);
    EXPECT_GE(gap.count(), 900) << "ping " << i << " came early";
    EXPECT_LT(gap.count(), 2000) << "ping " << i << " came after the watchdog timeout";
  }

  httplib::Client api("127.0.0.1", port);
  api.set_connection_timeout(5, 0);
  api.set_read_timeout(5, 0);
  auto health = api.Get("/api/v1/health");
  ASSERT_TRUE(health) << "API on port " << port << " did not answer";
  EXPECT_EQ(health->status, 200);
  auto body = nlohmann::json::parse(health->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << health->body;
  EXPECT_EQ(body.value("status", ""), "ok") << health->body;

  // data_dir came from STATE_DIRECTORY: the database lives there, owned by the service user.
  std::vector<std::string> dbs;
  for (const auto& e : fs::directory_iterator(state))
    if (e.path().extension() == ".db") dbs.push_back(e.path().string());
  ASSERT_FALSE(dbs.empty()) << "no SQLite database in the state directory";
  struct stat db {};
  ASSERT_EQ(::stat(dbs.front().c_str(), &db), 0);
  EXPECT_EQ(db.st_uid, as_root ? kNobody : ::geteuid());
  EXPECT_EQ(db.st_mode & 0777, 0640u) << "UMask=0027 keeps the database from other users";

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  auto stopping = notify.WaitFor("STOPPING=1", Clock::now() + 10s);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 after SIGTERM";
  EXPECT_EQ(stopping->text, "STOPPING=1\nSTATUS=stopping: signal 15");
  auto rc = WaitExit(pid, 30s);  // TimeoutStopSec=30s
  reaper.reaped = rc.has_value();
  ASSERT_TRUE(rc.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_EQ(*rc, 0);
}

}  // namespace
