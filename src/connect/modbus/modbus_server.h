#pragma once
// A read-only Modbus TCP register map that plantfloor serves (issue 10: the vision station hands its
// verdict to the PLC without writing into the PLC; the PLC polls). libmodbus answers function codes
// 3 (read holding registers) and 4 (read input registers, the same table); every write function is
// refused with exception 1 (illegal function), a read beyond the map with exception 2. Several
// clients at once (one thread, select()). Set() replaces registers under the lock that every reply
// holds, so one read of a block never mixes two updates.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace pf::modbus {

class RegisterMapServer {
 public:
  // host "127.0.0.1" or "0.0.0.0"; port 0 picks a free one (port() tells which).
  static Result<std::unique_ptr<RegisterMapServer>> Start(const std::string& host, int port, int registers);
  ~RegisterMapServer();
  RegisterMapServer(const RegisterMapServer&) = delete;
  RegisterMapServer& operator=(const RegisterMapServer&) = delete;

  int port() const { return port_; }
  // Writes values at address `first` (0-based PDU address) as one update. kOutOfRange past the map.
  Status Set(int first, const std::vector<uint16_t>& values);
  std::vector<uint16_t> Get(int first, int count) const;
  uint64_t requests() const { return requests_.load(); }
  uint64_t refused_writes() const { return refused_writes_.load(); }
  void Stop();

 private:
  RegisterMapServer() = default;
  void Loop();
  void* ctx_ = nullptr;      // modbus_t
  void* mapping_ = nullptr;  // modbus_mapping_t
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};   // self-pipe: Stop() wakes select()
  int port_ = 0;
  int registers_ = 0;
  mutable std::mutex mu_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0}, refused_writes_{0};
};

}  // namespace pf::modbus
