#pragma once
// Registers <-> values. Pure functions, thread-safe.
//
// Word/byte orders. Write a value's bytes from most to least significant as A B C D (32-bit) or
// A B C D E F G H (64-bit). A register holds two bytes, high byte first on the wire.
//   order  16-bit  32-bit        64-bit
//   abcd   [AB]    [AB][CD]      [AB][CD][EF][GH]   big-endian, the Modbus default
//   cdab   [AB]    [CD][AB]      [GH][EF][CD][AB]   words in reverse order, bytes in a word kept
//   badc   [BA]    [BA][DC]      [BA][DC][FE][HG]   words in order, bytes in each word swapped
//   dcba   [BA]    [DC][BA]      [HG][FE][DC][BA]   little-endian
// So the 4-letter name always says: "cd.." = word order reversed, "ba.." = bytes in words swapped.
// Strings: N registers, 2 characters each, first character in the high byte ("ab", default) or in
// the low byte ("ba"); trailing NULs and spaces are trimmed.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "core/status.h"

namespace pf::modbus {

enum class DataType : uint8_t {
  kBool, kInt16, kUint16, kInt32, kUint32, kInt64, kUint64, kFloat32, kFloat64, kString
};
enum class ByteOrder : uint8_t { kAbcd, kCdab, kBadc, kDcba };

Result<DataType> ParseDataType(std::string_view name);   // "bool", "int16", ..., "string"
std::string_view DataTypeName(DataType t);
// "abcd", "cdab", "badc", "dcba"; for strings also "ab" (= abcd) and "ba" (= badc).
Result<ByteOrder> ParseByteOrder(std::string_view name);
std::string_view ByteOrderName(ByteOrder o);

// Registers a value of this type occupies; string_registers for kString, 1 for kBool (a bit of a word).
int RegisterCount(DataType t, int string_registers = 0);

// Decodes regs (exactly RegisterCount registers; a bool needs bit 0..15). Integers -> int64_t
// (uint64 above INT64_MAX -> OutOfRange), floats -> double, strings -> std::string, bool -> bool.
Result<Value> Decode(std::span<const uint16_t> regs, DataType t, ByteOrder o, std::optional<int> bit = std::nullopt);

// The inverse: the registers a device holding v shows. Integers outside the type's range and
// strings longer than 2*string_registers -> OutOfRange; a bool sets bit `bit` of a zero word.
Result<std::vector<uint16_t>> Encode(const Value& v, DataType t, ByteOrder o, int string_registers = 0,
                                     std::optional<int> bit = std::nullopt);

// value * scale + offset as a double; strings pass through, a bool becomes 0/1 scaled.
Value ApplyScale(const Value& v, double scale, double offset);

}  // namespace pf::modbus
