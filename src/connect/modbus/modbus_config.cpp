#include "connect/modbus/modbus_config.h"

#include <array>

namespace pf::modbus {
namespace {

constexpr std::array<FieldSpec, 15> kSourceSpec = {{
    {"endpoint", FieldType::kString, true, "", "tcp://HOST:PORT or rtu:///dev/ttyUSB0"},
    {"unit", FieldType::kInt, false, "1", "Modbus unit (slave) id 0..247"},
    {"poll", FieldType::kDuration, false, "1s", "poll period; cycles run on absolute deadlines, overruns skip cycles"},
    {"timeout", FieldType::kDuration, false, "1s", "response timeout (and TCP connect timeout)"},
    {"byte_timeout", FieldType::kDuration, false, "500ms", "largest gap between bytes of one reply"},
    {"retries", FieldType::kInt, false, "1", "extra attempts after a CRC error, a malformed reply or an RTU timeout"},
    {"max_gap", FieldType::kInt, false, "10", "unused registers a block read may span to merge two tags"},
    {"max_block", FieldType::kInt, false, "125", "registers per request (1..125); bit tables use 16x this, at most 2000"},
    {"max_requests_per_s", FieldType::kDouble, false, "0", "request rate cap for this PLC (0 = unlimited)"},
    {"reconnect_min", FieldType::kDuration, false, "500ms", "first reconnect delay; doubles per failure"},
    {"reconnect_max", FieldType::kDuration, false, "30s", "largest reconnect delay"},
    {"baud", FieldType::kInt, false, "19200", "RTU baud rate"},
    {"parity", FieldType::kString, false, "N", "RTU parity N, E or O"},
    {"data_bits", FieldType::kInt, false, "8", "RTU data bits 5..8"},
    {"stop_bits", FieldType::kInt, false, "1", "RTU stop bits 1 or 2"},
}};

constexpr std::array<FieldSpec, 7> kTagSpec = {{
    {"address", FieldType::kString, true, "", "40001, 400001, hr:0 / ir:0 / co:0 / di:0, optional .bit"},
    {"type", FieldType::kString, false, "uint16 (bool for coils/bits)",
     "bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string"},
    {"order", FieldType::kString, false, "abcd", "word/byte order abcd, cdab, badc, dcba (strings: ab, ba)"},
    {"count", FieldType::kInt, false, "", "registers of a string (2 characters each), required for strings"},
    {"scale", FieldType::kDouble, false, "1", "value * scale + offset (the value becomes a double)"},
    {"offset", FieldType::kDouble, false, "0", "added after scale"},
    {"bit", FieldType::kInt, false, "", "bit 0..15 of a status word (same as address suffix .N)"},
}};

constexpr std::string_view kTypeHint =
    "expected bool, int16, uint16, int32, uint32, int64, uint64, float32, float64 or string";

}  // namespace

std::span<const FieldSpec> SourceSpec() { return kSourceSpec; }
std::span<const FieldSpec> TagSpec() { return kTagSpec; }

Result<TagConfig> ReadTagConfig(const ConfigNode& tag_table) {
  ConfigReader r(tag_table, kTagSpec);
  TagConfig t;
  if (!r.Has("address")) return r.Error("address", "missing; every Modbus tag needs an address");
  PF_ASSIGN_OR_RETURN(std::string address, r.String("address"));
  auto a = ParseAddress(address);
  if (!a.ok()) return r.Error("address", a.status().message());
  t.address = *a;
  if (r.Has("bit")) {
    PF_ASSIGN_OR_RETURN(int64_t bit, r.IntIn("bit", 0, 0, 15));
    if (IsBitTable(t.address.table)) return r.Error("bit", fmt::format("{} is a bit table; a bit index needs a register", address));
    if (t.address.bit && *t.address.bit != bit)
      return r.Error("bit", fmt::format("bit {} contradicts the address suffix .{}", bit, *t.address.bit));
    t.address.bit = static_cast<int>(bit);
  }
  bool bitwise = IsBitTable(t.address.table) || t.address.bit;
  PF_ASSIGN_OR_RETURN(std::string type, r.String("type", bitwise ? "bool" : "uint16"));
  auto dt = ParseDataType(type);
  if (!dt.ok()) return r.Error("type", fmt::format("'{}' is not a Modbus type; {}", type, kTypeHint));
  t.type = *dt;
  if (bitwise && t.type != DataType::kBool)
    return r.Error("type", fmt::format("{} selects a single bit; its type must be bool, not {}", address, type));
  if (!bitwise && t.type == DataType::kBool)
    return r.Error("type", fmt::format("bool needs a coil, a discrete input or a bit (\"{}.0\")", address));
  PF_ASSIGN_OR_RETURN(std::string order, r.String("order", t.type == DataType::kString ? "ab" : "abcd"));
  auto bo = ParseByteOrder(order);
  if (!bo.ok()) return r.Error("order", bo.status().message());
  t.order = *bo;
  if (t.type == DataType::kString) {
    if (!r.Has("count")) return r.Error("count", "a string tag needs count (registers, 2 characters each)");
    PF_ASSIGN_OR_RETURN(int64_t count, r.IntIn("count", 0, 1, kMaxRegistersPerRequest));
    t.count = static_cast<int>(count);
  } else if (r.Has("count")) {
    return r.Error("count", fmt::format("count is only for strings; {} has a fixed size", type));
  }
  t.scaled = r.Has("scale") || r.Has("offset");
  PF_ASSIGN_OR_RETURN(t.scale, r.Double("scale", 1.0));
  PF_ASSIGN_OR_RETURN(t.offset, r.Double("offset", 0.0));
  if (t.scaled && t.type == DataType::kString) return r.Error(r.Has("scale") ? "scale" : "offset", "a string cannot be scaled");
  if (t.address.offset + t.registers() > 65536)
    return r.Error("address", fmt::format("{} with {} registers runs past offset 65535", address, t.registers()));
  return t;
}

Result<SourceConfig> ReadSourceConfig(const ConfigNode& source_table, const std::vector<SourceTagConfig>& tags) {
  ConfigReader r(source_table, kSourceSpec);
  SourceConfig c;
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", "modbus"));
  if (!r.Has("endpoint")) return r.Error("endpoint", "missing; expected tcp://HOST:PORT or rtu:///dev/DEVICE");
  PF_ASSIGN_OR_RETURN(std::string endpoint, r.String("endpoint"));
  auto ep = ParseEndpoint(endpoint);
  if (!ep.ok()) return r.Error("endpoint", ep.status().message());
  c.endpoint = *ep;
  PF_ASSIGN_OR_RETURN(int64_t unit, r.IntIn("unit", 1, 0, 255));
  c.client.unit = static_cast<int>(unit);
  PF_ASSIGN_OR_RETURN(c.poll, r.Dur("poll", std::chrono::seconds(1)));
  if (c.poll.count() <= 0) return r.Error("poll", "the poll period must be above 0");
  PF_ASSIGN_OR_RETURN(c.client.timeout, r.Dur("timeout", std::chrono::seconds(1)));
  if (c.client.timeout < std::chrono::milliseconds(1)) return r.Error("timeout", "the timeout must be at least 1ms");
  PF_ASSIGN_OR_RETURN(c.client.byte_timeout, r.Dur("byte_timeout", Duration(0)));
  PF_ASSIGN_OR_RETURN(int64_t retries, r.IntIn("retries", 1, 0, 10));
  c.retries = static_cast<int>(retries);
  PF_ASSIGN_OR_RETURN(int64_t gap, r.IntIn("max_gap", 10, 0, kMaxRegistersPerRequest));
  PF_ASSIGN_OR_RETURN(int64_t block, r.IntIn("max_block", kMaxRegistersPerRequest, 1, kMaxRegistersPerRequest));
  c.plan = PlanOptions{static_cast<int>(gap), static_cast<int>(block),
                       std::min<int>(kMaxBitsPerRequest, static_cast<int>(block) * 16)};
  PF_ASSIGN_OR_RETURN(c.max_requests_per_s, r.Double("max_requests_per_s", 0));
  if (c.max_requests_per_s < 0) return r.Error("max_requests_per_s", "must be 0 (unlimited) or above");
  PF_ASSIGN_OR_RETURN(c.reconnect_min, r.Dur("reconnect_min", std::chrono::milliseconds(500)));
  PF_ASSIGN_OR_RETURN(c.reconnect_max, r.Dur("reconnect_max", std::chrono::seconds(30)));
  if (c.reconnect_max < c.reconnect_min) return r.Error("reconnect_max", "must not be below reconnect_min");
  PF_ASSIGN_OR_RETURN(int64_t baud, r.IntIn("baud", 19200, 50, 4'000'000));
  static constexpr std::array<std::string_view, 3> kParity = {"N", "E", "O"};
  PF_ASSIGN_OR_RETURN(std::string parity, r.Enum("parity", "N", kParity));
  PF_ASSIGN_OR_RETURN(int64_t data_bits, r.IntIn("data_bits", 8, 5, 8));
  PF_ASSIGN_OR_RETURN(int64_t stop_bits, r.IntIn("stop_bits", 1, 1, 2));
  c.endpoint.baud = static_cast<int>(baud);
  c.endpoint.parity = parity[0];
  c.endpoint.data_bits = static_cast<int>(data_bits);
  c.endpoint.stop_bits = static_cast<int>(stop_bits);
  for (const auto& tag : tags) {
    if (!tag.node) return InvalidArgument("modbus '{}': tag '{}' has no config table", c.name, tag.name);
    PF_ASSIGN_OR_RETURN(TagConfig t, ReadTagConfig(*tag.node));
    t.id = tag.id;
    t.name = tag.name;
    t.asset_id = tag.asset_id;
    c.tags.push_back(std::move(t));
  }
  return c;
}

}  // namespace pf::modbus
