#include "connect/modbus/modbus_client.h"

#include <modbus.h>

#include <cerrno>
#include <charconv>

namespace pf::modbus {
namespace {

void SetTimeout(modbus_t* ctx, Duration d, int (*setter)(modbus_t*, uint32_t, uint32_t)) {
  int64_t us = std::max<int64_t>(d.count() / 1000, 1000);
  setter(ctx, static_cast<uint32_t>(us / 1'000'000), static_cast<uint32_t>(us % 1'000'000));
}

std::string_view ExceptionName(int code) {
  switch (code) {
    case 1: return "illegal function";
    case 2: return "illegal data address";
    case 3: return "illegal data value";
    case 4: return "server device failure";
    case 5: return "acknowledge";
    case 6: return "server device busy";
    case 8: return "memory parity error";
    case 10: return "gateway path unavailable";
    case 11: return "gateway target device failed to respond";
    default: return "unknown exception";
  }
}

}  // namespace

std::string Endpoint::ToString() const {
  if (kind == Kind::kTcp) return fmt::format("tcp://{}:{}", host, port);
  return fmt::format("rtu://{} {}-{}{}{}", device, baud, data_bits, parity, stop_bits);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  if (text.starts_with("tcp://")) {
    std::string_view rest = text.substr(6);
    auto colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      std::string_view p = rest.substr(colon + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), e.port);
      if (ec != std::errc() || ptr != p.data() + p.size() || e.port < 1 || e.port > 65535)
        return InvalidArgument("endpoint '{}': port '{}' is not 1..65535", text, p);
    }
    if (e.host.empty()) return InvalidArgument("endpoint '{}': no host; expected tcp://HOST:PORT", text);
    return e;
  }
  if (text.starts_with("rtu://")) {
    e.kind = Endpoint::Kind::kRtu;
    e.device = std::string(text.substr(6));
    if (e.device.empty() || e.device[0] != '/')
      return InvalidArgument("endpoint '{}': expected rtu:///dev/DEVICE (an absolute device path)", text);
    return e;
  }
  return InvalidArgument("endpoint '{}': expected tcp://HOST:PORT or rtu:///dev/DEVICE", text);
}

std::string_view ErrorKindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::kNone: return "none";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kCrc: return "crc";
    case ErrorKind::kException: return "exception";
    case ErrorKind::kConnect: return "connect";
    case ErrorKind::kProtocol: return "protocol";
  }
  return "?";
}

Client::Client(Endpoint endpoint, ClientOptions options) : endpoint_(std::move(endpoint)), options_(options) {}

Client::~Client() {
  Close();
  if (ctx_) modbus_free(ctx_);
}

Status Client::Connect() {
  Close();
  if (!ctx_) {
    if (endpoint_.kind == Endpoint::Kind::kTcp) {
      ctx_ = modbus_new_tcp_pi(endpoint_.host.c_str(), std::to_string(endpoint_.port).c_str());
    } else {
      ctx_ = modbus_new_rtu(endpoint_.device.c_str(), endpoint_.baud, endpoint_.parity, endpoint_.data_bits,
                            endpoint_.stop_bits);
    }
    if (!ctx_) {
      last_error_ = ErrorKind::kConnect;
      return InvalidArgument("{}: cannot create a libmodbus context: {}", endpoint_.ToString(), modbus_strerror(errno));
    }
    SetTimeout(ctx_, options_.timeout, modbus_set_response_timeout);
    if (options_.byte_timeout.count() > 0) SetTimeout(ctx_, options_.byte_timeout, modbus_set_byte_timeout);
  }
  if (modbus_set_slave(ctx_, options_.unit) != 0) {
    last_error_ = ErrorKind::kConnect;
    return InvalidArgument("{}: unit {} rejected: {}", endpoint_.ToString(), options_.unit, modbus_strerror(errno));
  }
  if (modbus_connect(ctx_) != 0) {
    last_error_ = ErrorKind::kConnect;
    return Unavailable("connect {}: {}", endpoint_.ToString(), modbus_strerror(errno));
  }
  connected_ = true;
  return Status::Ok();
}

void Client::Close() {
  if (ctx_ && connected_) modbus_close(ctx_);
  connected_ = false;
}

void Client::Flush() {
  if (ctx_ && connected_) modbus_flush(ctx_);
}

Status Client::Fail(int err, std::string_view what) {
  last_exception_ = 0;
  std::string msg = fmt::format("{}: {}", what, modbus_strerror(err));
  if (err > MODBUS_ENOBASE && err <= static_cast<int>(EMBXGTAR)) {
    last_error_ = ErrorKind::kException;
    last_exception_ = err - MODBUS_ENOBASE;
    return FailedPrecondition("{}: exception 0x{:02x} {}", what, last_exception_, ExceptionName(last_exception_));
  }
  if (err == ETIMEDOUT) {
    last_error_ = ErrorKind::kTimeout;
    return DeadlineExceeded("{}: no reply within {}", what, FormatDuration(options_.timeout));
  }
  if (err == EMBBADCRC) {
    last_error_ = ErrorKind::kCrc;
    return DataLoss("{}", msg);
  }
  if (err == EMBBADDATA || err == EMBBADEXC || err == EMBUNKEXC || err == EMBMDATA || err == EMBBADSLAVE) {
    last_error_ = ErrorKind::kProtocol;
    return DataLoss("{}", msg);
  }
  last_error_ = ErrorKind::kConnect;  // socket errors: reset, broken pipe, bad descriptor
  return Unavailable("{}", msg);
}

Status Client::Read(Table table, uint16_t start, uint16_t count, std::vector<uint16_t>* out) {
  last_error_ = ErrorKind::kNone;
  std::string what = fmt::format("{} unit {} read {} {}..{}", endpoint_.ToString(), options_.unit,
                                 TableLongName(table), start, start + count - 1);
  if (!connected_) {
    last_error_ = ErrorKind::kConnect;
    return Unavailable("{}: not connected", what);
  }
  out->assign(count, 0);
  int rc = -1;
  if (IsBitTable(table)) {
    std::vector<uint8_t> bits(count);
    rc = table == Table::kCoil ? modbus_read_bits(ctx_, start, count, bits.data())
                               : modbus_read_input_bits(ctx_, start, count, bits.data());
    for (int i = 0; i < count; ++i) (*out)[i] = bits[i];
  } else {
    rc = table == Table::kHoldingRegister ? modbus_read_registers(ctx_, start, count, out->data())
                                          : modbus_read_input_registers(ctx_, start, count, out->data());
  }
  if (rc == count) return Status::Ok();
  if (rc >= 0) {
    last_error_ = ErrorKind::kProtocol;
    return DataLoss("{}: got {} values, asked {}", what, rc, count);
  }
  return Fail(errno, what);
}

}  // namespace pf::modbus
