#pragma once
// The libmodbus adapter: one connection (TCP socket or serial port) to one device. The only file
// that includes <modbus.h>. Not thread-safe: libmodbus contexts are not, so each source thread
// (and the CLI) owns its own Client.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connect/modbus/modbus_address.h"
#include "core/status.h"
#include "core/time.h"

struct _modbus;  // libmodbus' modbus_t

namespace pf::modbus {

struct Endpoint {
  enum class Kind { kTcp, kRtu };
  Kind kind = Kind::kTcp;
  std::string host;    // tcp: host name or IP
  int port = 502;      // tcp
  std::string device;  // rtu: "/dev/ttyUSB0"
  int baud = 19200;    // rtu serial parameters
  char parity = 'N';   // 'N', 'E' or 'O'
  int data_bits = 8;
  int stop_bits = 1;
  std::string ToString() const;  // "tcp://127.0.0.1:502", "rtu:///dev/ttyUSB0 19200-8N1"
};

// "tcp://host:port" (port defaults to 502) or "rtu:///dev/ttyUSB0" (serial parameters are set
// separately on the returned Endpoint).
Result<Endpoint> ParseEndpoint(std::string_view text);

// How a request failed; decides retry, reconnect and the quality sub-code.
enum class ErrorKind { kNone, kTimeout, kCrc, kException, kConnect, kProtocol };
std::string_view ErrorKindName(ErrorKind k);  // "timeout", "crc", "exception", "connect", "protocol"

struct ClientOptions {
  int unit = 1;                                  // slave id 0..247 (TCP gateways often want 1 or 255)
  Duration timeout = std::chrono::seconds(1);    // response timeout (also the TCP connect timeout)
  Duration byte_timeout = Duration(0);           // gap allowed between bytes of a reply; 0 = libmodbus' 500 ms
};

class Client {
 public:
  Client(Endpoint endpoint, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the socket or serial port. kUnavailable on failure ("connect tcp://...: Connection refused").
  Status Connect();
  void Close();
  bool connected() const { return connected_; }
  // Drops unread bytes (after a CRC error, so the next reply starts clean).
  void Flush();

  // Reads count registers (function 3/4) or bits (function 1/2, one 0/1 per element) at start.
  // On failure last_error() says why and last_exception() holds the Modbus exception code (1..11).
  Status Read(Table table, uint16_t start, uint16_t count, std::vector<uint16_t>* out);
  ErrorKind last_error() const { return last_error_; }
  int last_exception() const { return last_exception_; }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Status Fail(int err, std::string_view what);
  Endpoint endpoint_;
  ClientOptions options_;
  _modbus* ctx_ = nullptr;
  bool connected_ = false;
  ErrorKind last_error_ = ErrorKind::kNone;
  int last_exception_ = 0;
};

}  // namespace pf::modbus
