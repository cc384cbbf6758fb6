// ServiceNotifier against a real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.
#include "runtime/service_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "testing.h"

namespace pf {
namespace {

using namespace std::chrono_literals;

// Listens where sd_notify sends; restores the environment on destruction.
class FakeServiceManager {
 public:
  FakeServiceManager() {
    path_ = dir_.path() + "/notify.sock";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  ~FakeServiceManager() {
    ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  bool bound() const { return bound_; }
  // The next datagram, or nullopt after timeout.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout = 1000ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  testing::TempDir dir_;
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(ServiceNotifier, WithoutNotifySocketEveryCallIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_FALSE(n.enabled());
  EXPECT_EQ(n.watchdog_timeout(), 0us);
  EXPECT_TRUE(n.Ready("running").ok());
  EXPECT_TRUE(n.Stopping("stopping").ok());
  auto pinged = n.KeepAlive();
  ASSERT_TRUE(pinged.ok());
  EXPECT_FALSE(*pinged);
}

TEST(ServiceNotifier, SendsReadyStatusAndStoppingAsSystemdExpects) {
  FakeServiceManager sm;
  ASSERT_TRUE(sm.bound());
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_timeout(), 0us);

  ASSERT_TRUE(n.SetStatus("starting").ok());
  EXPECT_EQ(sm.Receive(), "STATUS=starting");
  ASSERT_TRUE(n.Ready("running: 2 sources, 40 tags, API on 127.0.0.1:8080").ok());
  EXPECT_EQ(sm.Receive(), "READY=1\nSTATUS=running: 2 sources, 40 tags, API on 127.0.0.1:8080");
  // A newline inside a status would become a second assignment: it is flattened to a space.
  ASSERT_TRUE(n.Stopping("stopping:\nsignal 15").ok());
  EXPECT_EQ(sm.Receive(), "STOPPING=1\nSTATUS=stopping: signal 15");
}

TEST(ServiceNotifier, WatchdogPingsAtHalfTheTimeout) {
  FakeServiceManager sm;
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_EQ(n.watchdog_timeout(), 2s);
  EXPECT_EQ(n.keepalive_interval(), 1s);

  auto t0 = ServiceNotifier::Clock::time_point{} + 100s;
  auto first = n.KeepAlive(t0);  // the first call always pings
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  EXPECT_EQ(sm.Receive(), "WATCHDOG=1");

  auto early = n.KeepAlive(t0 + 999ms);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(*early);
  EXPECT_EQ(sm.Receive(100ms), std::nullopt);

  auto due = n.KeepAlive(t0 + 1000ms);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(*due);
  EXPECT_EQ(sm.Receive(), "WATCHDOG=1");
  // The interval counts from the last ping, not from the first.
  EXPECT_FALSE(*n.KeepAlive(t0 + 1999ms));
  EXPECT_TRUE(*n.KeepAlive(t0 + 2000ms));
  EXPECT_EQ(sm.Receive(), "WATCHDOG=1");
}

TEST(ServiceNotifier, WatchdogMeantForAnotherProcessIsOff) {
  FakeServiceManager sm;
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_timeout(), 0us);
  EXPECT_FALSE(*n.KeepAlive());
  EXPECT_EQ(sm.Receive(100ms), std::nullopt);

  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(ServiceNotifier::FromEnvironment().watchdog_timeout(), 2s);
}

TEST(ServiceNotifier, UnreachableSocketIsReportedAsUnavailable) {
  testing::TempDir dir;
  std::string path = dir.path() + "/nobody-listens.sock";
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  Status st = n.Ready("running");
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(),
            "service notify: sending 'READY=1 STATUS=running' to NOTIFY_SOCKET failed: No such file or directory");
}

}  // namespace
}  // namespace pf
