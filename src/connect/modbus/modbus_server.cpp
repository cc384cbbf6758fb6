#include "connect/modbus/modbus_server.h"

#include <arpa/inet.h>
#include <modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace pf::modbus {
namespace {
constexpr size_t kMaxClients = 32;
}  // namespace

Result<std::unique_ptr<RegisterMapServer>> RegisterMapServer::Start(const std::string& host, int port, int registers) {
  if (registers < 1 || registers > 65535) return InvalidArgument("register map of {} registers (1..65535)", registers);
  if (port < 0 || port > 65535) return InvalidArgument("Modbus port {} (0..65535)", port);
  std::unique_ptr<RegisterMapServer> s(new RegisterMapServer());
  s->registers_ = registers;
  // The listening socket is ours (port 0 needs getsockname); libmodbus handles the frames.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("Modbus server: socket: {}", std::strerror(errno));
  s->listen_fd_ = fd;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return InvalidArgument("Modbus server: host '{}' is not an IPv4 address", host);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Unavailable("Modbus server: bind {}:{}: {}", host, port, std::strerror(errno));
  if (::listen(fd, 16) != 0) return Unavailable("Modbus server: listen: {}", std::strerror(errno));
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  if (::pipe2(s->wake_, O_CLOEXEC) != 0) return Internal("Modbus server: pipe: {}", std::strerror(errno));
  s->ctx_ = modbus_new_tcp(host.c_str(), s->port_);
  s->mapping_ = modbus_mapping_new(0, 0, registers, 0);
  if (!s->ctx_ || !s->mapping_) return Internal("Modbus server: libmodbus allocation failed");
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

RegisterMapServer::~RegisterMapServer() {
  Stop();
  if (mapping_) modbus_mapping_free(static_cast<modbus_mapping_t*>(mapping_));
  if (ctx_) modbus_free(static_cast<modbus_t*>(ctx_));
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int f : wake_)
    if (f >= 0) ::close(f);
}

void RegisterMapServer::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_[1] >= 0) {
    const char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
}

Status RegisterMapServer::Set(int first, const std::vector<uint16_t>& values) {
  if (first < 0 || first + static_cast<int64_t>(values.size()) > registers_)
    return OutOfRange("registers {}..{} outside the map of {}", first, first + values.size(), registers_);
  std::lock_guard<std::mutex> lock(mu_);
  auto* mb = static_cast<modbus_mapping_t*>(mapping_);
  std::memcpy(mb->tab_registers + first, values.data(), values.size() * sizeof(uint16_t));
  return Status::Ok();
}

std::vector<uint16_t> RegisterMapServer::Get(int first, int count) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto* mb = static_cast<modbus_mapping_t*>(mapping_);
  if (first < 0 || count < 0 || first + count > registers_) return {};
  return std::vector<uint16_t>(mb->tab_registers + first, mb->tab_registers + first + count);
}

void RegisterMapServer::Loop() {
  auto* ctx = static_cast<modbus_t*>(ctx_);
  auto* mb = static_cast<modbus_mapping_t*>(mapping_);
  // Replies come from a copy taken under the lock, so a client that stalls the socket never holds
  // up Set(); a client that sends half a frame or stops reading costs at most these timeouts.
  modbus_mapping_t* copy = modbus_mapping_new(0, 0, registers_, 0);
  if (!copy) return;
  modbus_set_byte_timeout(ctx, 0, 100'000);
  modbus_set_indication_timeout(ctx, 0, 100'000);
  std::set<int> clients;
  uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  const int header = modbus_get_header_length(ctx);
  while (!stop_.load()) {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(listen_fd_, &rd);
    FD_SET(wake_[0], &rd);
    int maxfd = std::max(listen_fd_, wake_[0]);
    for (int c : clients) {
      FD_SET(c, &rd);
      maxfd = std::max(maxfd, c);
    }
    if (::select(maxfd + 1, &rd, nullptr, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (FD_ISSET(wake_[0], &rd)) break;
    if (FD_ISSET(listen_fd_, &rd)) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0 && c < FD_SETSIZE && clients.size() < kMaxClients) {
        const timeval send_timeout{0, 100'000};
        ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
        clients.insert(c);
      } else if (c >= 0) {
        ::close(c);
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      const int c = *it;
      if (!FD_ISSET(c, &rd)) {
        ++it;
        continue;
      }
      modbus_set_socket(ctx, c);
      const int rc = modbus_receive(ctx, query);
      if (rc > 0) {
        requests_.fetch_add(1);
        const uint8_t function = query[header];
        if (function == 0x03 || function == 0x04) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            std::memcpy(copy->tab_registers, mb->tab_registers, sizeof(uint16_t) * registers_);
          }
          // Input registers mirror the holding registers.
          uint16_t* own_input = copy->tab_input_registers;
          copy->tab_input_registers = copy->tab_registers;
          copy->nb_input_registers = copy->nb_registers;
          copy->start_input_registers = copy->start_registers;
          const int sent = modbus_reply(ctx, query, rc, copy);
          copy->tab_input_registers = own_input;
          copy->nb_input_registers = 0;
          if (sent < 0) {  // the client does not read: drop it
            ::close(c);
            it = clients.erase(it);
            continue;
          }
        } else {
          refused_writes_.fetch_add(1);
          modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
        }
        ++it;
      } else if (rc == -1) {
        ::close(c);
        it = clients.erase(it);
      } else {
        ++it;  // 0: a frame for another unit (ignored)
      }
    }
  }
  for (int c : clients) ::close(c);
  modbus_mapping_free(copy);
}

}  // namespace pf::modbus
