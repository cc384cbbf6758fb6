#include "connect/modbus/modbus_codec.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace pf::modbus {
namespace {

struct TypeRow {
  DataType type;
  std::string_view name;
  int registers;
};
constexpr std::array<TypeRow, 10> kTypes = {{
    {DataType::kBool, "bool", 1},     {DataType::kInt16, "int16", 1},     {DataType::kUint16, "uint16", 1},
    {DataType::kInt32, "int32", 2},   {DataType::kUint32, "uint32", 2},   {DataType::kInt64, "int64", 4},
    {DataType::kUint64, "uint64", 4}, {DataType::kFloat32, "float32", 2}, {DataType::kFloat64, "float64", 4},
    {DataType::kString, "string", 0},
}};

bool SwapsWords(ByteOrder o) { return o == ByteOrder::kCdab || o == ByteOrder::kDcba; }
bool SwapsBytes(ByteOrder o) { return o == ByteOrder::kBadc || o == ByteOrder::kDcba; }

// Registers -> the value's bytes, most significant first.
uint64_t Assemble(std::span<const uint16_t> regs, ByteOrder o) {
  uint64_t v = 0;
  size_t n = regs.size();
  for (size_t i = 0; i < n; ++i) {
    uint16_t r = regs[SwapsWords(o) ? n - 1 - i : i];
    if (SwapsBytes(o)) r = static_cast<uint16_t>((r << 8) | (r >> 8));
    v = (v << 16) | r;
  }
  return v;
}

std::vector<uint16_t> Split(uint64_t v, int n, ByteOrder o) {
  std::vector<uint16_t> regs(n);
  for (int i = n - 1; i >= 0; --i) {  // i = word index, most significant first
    uint16_t r = static_cast<uint16_t>(v & 0xFFFF);
    v >>= 16;
    if (SwapsBytes(o)) r = static_cast<uint16_t>((r << 8) | (r >> 8));
    regs[SwapsWords(o) ? n - 1 - i : i] = r;
  }
  return regs;
}

Value DecodeString(std::span<const uint16_t> regs, ByteOrder o) {
  std::string s;
  for (uint16_t r : regs) {
    char hi = static_cast<char>(r >> 8), lo = static_cast<char>(r & 0xFF);
    if (SwapsBytes(o)) std::swap(hi, lo);
    s += hi;
    s += lo;
  }
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  return s;
}

Result<int64_t> IntegerOf(const Value& v, DataType t) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return InvalidArgument("cannot encode {} as {}", ValueToString(v), DataTypeName(t));
}

Status CheckRange(int64_t v, int64_t lo, int64_t hi, DataType t) {
  if (v < lo || v > hi) return OutOfRange("{} is outside the range of {} ({}..{})", v, DataTypeName(t), lo, hi);
  return Status::Ok();
}

}  // namespace

Result<DataType> ParseDataType(std::string_view name) {
  for (const auto& r : kTypes)
    if (r.name == name) return r.type;
  return InvalidArgument("unknown Modbus type '{}'; expected bool, int16, uint16, int32, uint32, int64, uint64, "
                         "float32, float64 or string",
                         name);
}

std::string_view DataTypeName(DataType t) {
  for (const auto& r : kTypes)
    if (r.type == t) return r.name;
  return "?";
}

Result<ByteOrder> ParseByteOrder(std::string_view name) {
  if (name == "abcd" || name == "ab") return ByteOrder::kAbcd;
  if (name == "cdab") return ByteOrder::kCdab;
  if (name == "badc" || name == "ba") return ByteOrder::kBadc;
  if (name == "dcba") return ByteOrder::kDcba;
  return InvalidArgument("unknown byte order '{}'; expected abcd, cdab, badc or dcba (ab or ba for strings)", name);
}

std::string_view ByteOrderName(ByteOrder o) {
  switch (o) {
    case ByteOrder::kAbcd: return "abcd";
    case ByteOrder::kCdab: return "cdab";
    case ByteOrder::kBadc: return "badc";
    case ByteOrder::kDcba: return "dcba";
  }
  return "?";
}

int RegisterCount(DataType t, int string_registers) {
  if (t == DataType::kString) return string_registers;
  for (const auto& r : kTypes)
    if (r.type == t) return r.registers;
  return 0;
}

Result<Value> Decode(std::span<const uint16_t> regs, DataType t, ByteOrder o, std::optional<int> bit) {
  int want = t == DataType::kString ? static_cast<int>(regs.size()) : RegisterCount(t);
  if (static_cast<int>(regs.size()) != want || want == 0)
    return InvalidArgument("{} needs {} registers, got {}", DataTypeName(t), want, regs.size());
  uint64_t raw = t == DataType::kString ? 0 : Assemble(regs, o);
  switch (t) {
    case DataType::kBool:
      if (!bit || *bit < 0 || *bit > 15) return InvalidArgument("bool from a register needs a bit 0..15");
      return Value(((regs[0] >> *bit) & 1) != 0);
    case DataType::kInt16: return Value(static_cast<int64_t>(static_cast<int16_t>(raw)));
    case DataType::kUint16: return Value(static_cast<int64_t>(static_cast<uint16_t>(raw)));
    case DataType::kInt32: return Value(static_cast<int64_t>(static_cast<int32_t>(raw)));
    case DataType::kUint32: return Value(static_cast<int64_t>(static_cast<uint32_t>(raw)));
    case DataType::kInt64: return Value(static_cast<int64_t>(raw));
    case DataType::kUint64:
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return OutOfRange("uint64 value {} does not fit a signed 64-bit sample", raw);
      return Value(static_cast<int64_t>(raw));
    case DataType::kFloat32: return Value(static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(raw))));
    case DataType::kFloat64: return Value(std::bit_cast<double>(raw));
    case DataType::kString: return DecodeString(regs, o);
  }
  return Internal("unhandled Modbus type");
}

Result<std::vector<uint16_t>> Encode(const Value& v, DataType t, ByteOrder o, int string_registers,
                                     std::optional<int> bit) {
  int n = RegisterCount(t, string_registers);
  switch (t) {
    case DataType::kBool: {
      if (!bit || *bit < 0 || *bit > 15) return InvalidArgument("bool in a register needs a bit 0..15");
      PF_ASSIGN_OR_RETURN(int64_t i, IntegerOf(v, t));
      return std::vector<uint16_t>{static_cast<uint16_t>(i ? (1u << *bit) : 0)};
    }
    case DataType::kInt16:
    case DataType::kUint16:
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kInt64:
    case DataType::kUint64: {
      PF_ASSIGN_OR_RETURN(int64_t i, IntegerOf(v, t));
      if (t == DataType::kInt16) PF_RETURN_IF_ERROR(CheckRange(i, INT16_MIN, INT16_MAX, t));
      if (t == DataType::kUint16) PF_RETURN_IF_ERROR(CheckRange(i, 0, UINT16_MAX, t));
      if (t == DataType::kInt32) PF_RETURN_IF_ERROR(CheckRange(i, INT32_MIN, INT32_MAX, t));
      if (t == DataType::kUint32) PF_RETURN_IF_ERROR(CheckRange(i, 0, UINT32_MAX, t));
      if (t == DataType::kUint64) PF_RETURN_IF_ERROR(CheckRange(i, 0, INT64_MAX, t));
      uint64_t mask = n == 4 ? ~uint64_t{0} : (uint64_t{1} << (16 * n)) - 1;
      return Split(static_cast<uint64_t>(i) & mask, n, o);
    }
    case DataType::kFloat32:
    case DataType::kFloat64: {
      auto d = AsDouble(v);
      if (!d || std::holds_alternative<bool>(v)) return InvalidArgument("cannot encode {} as {}", ValueToString(v), DataTypeName(t));
      uint64_t raw = t == DataType::kFloat32 ? std::bit_cast<uint32_t>(static_cast<float>(*d)) : std::bit_cast<uint64_t>(*d);
      return Split(raw, n, o);
    }
    case DataType::kString: {
      const auto* s = std::get_if<std::string>(&v);
      if (!s) return InvalidArgument("cannot encode {} as string", ValueToString(v));
      if (static_cast<int>(s->size()) > 2 * n)
        return OutOfRange("string of {} characters does not fit {} registers", s->size(), n);
      std::string padded = *s;
      padded.resize(2 * n, '\0');
      std::vector<uint16_t> regs(n);
      for (int i = 0; i < n; ++i) {
        auto hi = static_cast<uint8_t>(padded[2 * i]), lo = static_cast<uint8_t>(padded[2 * i + 1]);
        if (SwapsBytes(o)) std::swap(hi, lo);
        regs[i] = static_cast<uint16_t>((hi << 8) | lo);
      }
      return regs;
    }
  }
  return Internal("unhandled Modbus type");
}

Value ApplyScale(const Value& v, double scale, double offset) {
  if (std::holds_alternative<std::string>(v) || std::holds_alternative<std::monostate>(v)) return v;
  return Value(*AsDouble(v) * scale + offset);
}

}  // namespace pf::modbus
