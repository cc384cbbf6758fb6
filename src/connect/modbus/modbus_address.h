#pragma once
// Modbus data addresses: the four tables, 0-based PDU offsets and the Modicon notations.
//
// Accepted text (parse errors say which form was expected):
//   Modicon 5-digit, 1-based:  "40001" holding, "30001" input register, "10001" discrete input,
//                              "00001" coil (registers 1..9999)
//   Modicon 6-digit, 1-based:  "400001" .. "465536" (same leading digit, registers 1..65536)
//   explicit 0-based PDU:      "hr:0", "ir:5", "co:3", "di:7" (offset 0..65535)
//   bit of a status word:      "40010.3" or "hr:9.3" (bit 0 = least significant .. 15), register tables only
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pf::modbus {

enum class Table : uint8_t { kCoil, kDiscreteInput, kInputRegister, kHoldingRegister };

// "co", "di", "ir", "hr".
std::string_view TableShortName(Table t);
// "coil", "discrete input", "input register", "holding register".
std::string_view TableLongName(Table t);
// Coils and discrete inputs carry bits; the other two carry 16-bit registers.
inline bool IsBitTable(Table t) { return t == Table::kCoil || t == Table::kDiscreteInput; }

struct Address {
  Table table = Table::kHoldingRegister;
  uint16_t offset = 0;      // 0-based PDU offset
  std::optional<int> bit;   // 0..15 within the register, only for register tables
  bool operator==(const Address&) const = default;
};

Result<Address> ParseAddress(std::string_view text);

// Both notations: "hr:16 = 40017", "co:3 = 00004", "hr:9.3 = 40010.3"; offsets above 9998 use the
// 6-digit form: "hr:20000 = 420001".
std::string FormatAddress(const Address& a);
// Only the Modicon form: "40017" (or "420001").
std::string ModiconAddress(const Address& a);

}  // namespace pf::modbus
