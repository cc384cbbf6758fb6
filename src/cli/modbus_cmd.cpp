#include "cli/modbus_cmd.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "connect/modbus/modbus_address.h"
#include "connect/modbus/modbus_client.h"
#include "connect/modbus/modbus_codec.h"

namespace pf {
namespace {

using namespace pf::modbus;

struct ReadPlan {
  Address address;
  DataType type = DataType::kUint16;
  ByteOrder order = ByteOrder::kAbcd;
  int width = 1;   // registers per value (the whole string for strings)
  int values = 1;  // how many values
  int total() const { return width * values; }
};

Result<ReadPlan> Prepare(const ModbusReadArgs& a) {
  ReadPlan p;
  PF_ASSIGN_OR_RETURN(p.address, ParseAddress(a.address));
  bool bitwise = IsBitTable(p.address.table) || p.address.bit;
  PF_ASSIGN_OR_RETURN(p.type, ParseDataType(a.type.empty() ? (bitwise ? "bool" : "uint16") : a.type));
  PF_ASSIGN_OR_RETURN(p.order, ParseByteOrder(a.order));
  if (bitwise != (p.type == DataType::kBool))
    return InvalidArgument("--type {} does not fit address {} ({})", DataTypeName(p.type), a.address,
                           bitwise ? "a single bit: use bool" : "a register: bool needs a bit, e.g. 40001.0");
  if (a.count < 1 || a.count > 125) return InvalidArgument("--count {} is outside 1..125", a.count);
  if (p.type == DataType::kString) {
    p.width = a.count;
  } else {
    p.width = bitwise ? 1 : RegisterCount(p.type);
    p.values = a.count;
  }
  if (p.address.bit && p.values > 1) return InvalidArgument("a bit address reads one value; drop --count");
  int limit = IsBitTable(p.address.table) ? 2000 : 125;
  if (p.total() > limit) return InvalidArgument("{} x {} = {} exceeds one request ({})", p.values, DataTypeName(p.type), p.total(), limit);
  if (p.address.offset + p.total() > 65536) return InvalidArgument("the read runs past offset 65535");
  return p;
}

std::string Hex(const std::vector<uint16_t>& regs, bool bits) {
  std::string s;
  for (uint16_t r : regs) s += (s.empty() ? "" : " ") + (bits ? fmt::format("{}", r) : fmt::format("{:04x}", r));
  return s;
}

nlohmann::json ToJson(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

int Fail(std::ostream& err, const Status& s, int code) {
  err << "modbus read: " << s.message() << "\n";
  return code;
}

}  // namespace

int RunModbusRead(const ModbusReadArgs& args, std::ostream& out, std::ostream& err) {
  auto plan = Prepare(args);
  if (!plan.ok()) return Fail(err, plan.status(), 2);
  auto endpoint = ParseEndpoint(args.endpoint);
  if (!endpoint.ok()) return Fail(err, endpoint.status(), 2);
  auto timeout = ParseDuration(args.timeout);
  if (!timeout.ok()) return Fail(err, timeout.status().WithContext("--timeout"), 2);
  if (args.parity.size() != 1 || std::string_view("NEO").find(args.parity[0]) == std::string_view::npos)
    return Fail(err, InvalidArgument("--parity '{}': expected N, E or O", args.parity), 2);
  endpoint->baud = args.baud;
  endpoint->parity = args.parity[0];
  Client client(*endpoint, ClientOptions{args.unit, *timeout, Duration(0)});
  if (Status s = client.Connect(); !s.ok()) return Fail(err, s, 1);
  std::vector<uint16_t> regs;
  if (Status s = client.Read(plan->address.table, plan->address.offset, static_cast<uint16_t>(plan->total()), &regs);
      !s.ok())
    return Fail(err, s, 1);

  bool bits = IsBitTable(plan->address.table);
  nlohmann::json values = nlohmann::json::array();
  for (int i = 0; i < plan->values; ++i) {
    Address at = plan->address;
    at.offset = static_cast<uint16_t>(at.offset + i * plan->width);
    std::vector<uint16_t> raw(regs.begin() + i * plan->width, regs.begin() + (i + 1) * plan->width);
    Result<Value> v = bits ? Result<Value>(Value(raw[0] != 0)) : Decode(raw, plan->type, plan->order, at.bit);
    std::string shown = v.ok() ? ValueToString(*v) : "error: " + v.status().message();
    if (args.json) {
      nlohmann::json j = {{"address", fmt::format("{}:{}{}", TableShortName(at.table), at.offset,
                                                  at.bit ? fmt::format(".{}", *at.bit) : "")},
                          {"modicon", ModiconAddress(at)},
                          {"raw", raw},
                          {"raw_hex", Hex(raw, bits)}};
      if (v.ok()) j["value"] = ToJson(*v);
      else j["error"] = v.status().message();
      values.push_back(std::move(j));
    } else {
      out << fmt::format("{:<22} [{}] {} = {}\n", FormatAddress(at), Hex(raw, bits), DataTypeName(plan->type), shown);
    }
  }
  if (args.json) {
    nlohmann::json doc = {{"endpoint", endpoint->ToString()}, {"unit", args.unit},
                          {"type", DataTypeName(plan->type)}, {"order", ByteOrderName(plan->order)},
                          {"values", values}};
    out << doc.dump(2) << "\n";
  }
  return 0;
}

int RunModbusRead(const ModbusReadArgs& args) { return RunModbusRead(args, std::cout, std::cerr); }

void AddModbusCommands(CLI::App& app) {
  CLI::App* modbus = app.add_subcommand("modbus", "Modbus commissioning tools");
  modbus->require_subcommand(1);
  CLI::App* read = modbus->add_subcommand("read", "read registers or bits once and print them decoded");
  auto args = std::make_shared<ModbusReadArgs>();
  read->add_option("--endpoint", args->endpoint, "tcp://HOST:PORT or rtu:///dev/DEVICE")->required();
  read->add_option("--unit", args->unit, "unit (slave) id")->capture_default_str();
  read->add_option("--address", args->address, "40001, 400001, hr:0, ir:0, co:0, di:0, 40010.3")->required();
  read->add_option("--count", args->count, "values to read (registers for a string)")->capture_default_str();
  read->add_option("--type", args->type, "bool int16 uint16 int32 uint32 int64 uint64 float32 float64 string");
  read->add_option("--order", args->order, "abcd cdab badc dcba (ab ba for strings)")->capture_default_str();
  read->add_option("--timeout", args->timeout, "response timeout")->capture_default_str();
  read->add_option("--baud", args->baud, "RTU baud rate")->capture_default_str();
  read->add_option("--parity", args->parity, "RTU parity N, E or O")->capture_default_str();
  read->add_flag("--json", args->json, "print a JSON object");
  read->callback([args] { std::exit(RunModbusRead(*args)); });
}

}  // namespace pf
