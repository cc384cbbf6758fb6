#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pf::testing {
namespace {

using Clock = std::chrono::steady_clock;

int ConnectTo(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// Copies what is readable on `from` to `to` (blocking write; loopback peers read promptly). false: closed.
bool Pump(int from, int to) {
  char buf[65536];
  ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(std::string target_host, int target_port) : host_(std::move(target_host)), target_port_(target_port) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) return;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  listen_fd_ = fd;
  thread_ = std::thread([this] { Loop(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  CloseAll();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void TcpProxy::Wake() {
  char c = 1;
  (void)!::write(wake_[1], &c, 1);
}

void TcpProxy::Cut(std::chrono::milliseconds duration) {
  {
    std::lock_guard<std::mutex> l(mu_);
    cut_now_ = true;
    cut_until_ = Clock::now() + duration;
  }
  Wake();
}

void TcpProxy::Inject(std::string bytes) {
  {
    std::lock_guard<std::mutex> l(mu_);
    inject_.push_back(std::move(bytes));
  }
  Wake();
}

void TcpProxy::CloseAll() {
  for (Pair& p : pairs_) {
    ::shutdown(p.client, SHUT_RDWR);
    ::shutdown(p.server, SHUT_RDWR);
    ::close(p.client);
    ::close(p.server);
  }
  pairs_.clear();
}

void TcpProxy::Loop() {
  for (;;) {
    bool cutting = false;
    std::vector<std::string> inject;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      if (cut_now_) {
        cut_now_ = false;
        cut_connections_ += static_cast<int>(pairs_.size());
        CloseAll();
      }
      cutting = Clock::now() < cut_until_;
      inject.swap(inject_);
    }
    for (const std::string& b : inject) {
      for (const Pair& p : pairs_) (void)!::send(p.client, b.data(), b.size(), MSG_NOSIGNAL);
    }
    std::vector<pollfd> fds;
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Pair& p : pairs_) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.server, POLLIN, 0});
    }
    int rc = ::poll(fds.data(), fds.size(), cutting ? 50 : 1000);
    if (rc < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        int s = cutting ? -1 : ConnectTo(host_, target_port_);
        if (s < 0) {
          if (cutting) ++dropped_;
          ::close(c);
        } else {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          pairs_.push_back({c, s});
          ++forwarded_;
        }
      }
    }
    std::vector<Pair> keep;
    for (size_t i = 0; i < pairs_.size(); ++i) {
      const Pair& p = pairs_[i];
      const pollfd& fc = fds[2 + 2 * i];
      const pollfd& fs = fds[3 + 2 * i];
      bool alive = true;
      if (fc.revents & (POLLIN | POLLHUP | POLLERR)) alive = Pump(p.client, p.server);
      if (alive && (fs.revents & (POLLIN | POLLHUP | POLLERR))) alive = Pump(p.server, p.client);
      if (alive) {
        keep.push_back(p);
      } else {
        ::close(p.client);
        ::close(p.server);
      }
    }
    pairs_ = std::move(keep);
  }
}

}  // namespace pf::testing
