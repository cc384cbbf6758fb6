#include "connect/modbus/modbus_address.h"

#include <charconv>

namespace pf::modbus {
namespace {

constexpr std::string_view kExpected =
    "expected Modicon 40001, 6-digit 400001 or hr:0 / ir:0 / co:0 / di:0 (optional .bit 0-15)";

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<int64_t> ToInt(std::string_view s) {
  if (!AllDigits(s) || s.size() > 9) return std::nullopt;
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<Table> TableFromModiconDigit(char c) {
  switch (c) {
    case '0': return Table::kCoil;
    case '1': return Table::kDiscreteInput;
    case '3': return Table::kInputRegister;
    case '4': return Table::kHoldingRegister;
    default: return std::nullopt;
  }
}

std::optional<Table> TableFromShortName(std::string_view s) {
  if (s == "hr") return Table::kHoldingRegister;
  if (s == "ir") return Table::kInputRegister;
  if (s == "co") return Table::kCoil;
  if (s == "di") return Table::kDiscreteInput;
  return std::nullopt;
}

char ModiconDigit(Table t) {
  switch (t) {
    case Table::kCoil: return '0';
    case Table::kDiscreteInput: return '1';
    case Table::kInputRegister: return '3';
    case Table::kHoldingRegister: return '4';
  }
  return '?';
}

Status NotAnAddress(std::string_view text, std::string_view why) {
  return InvalidArgument("'{}' is not a Modbus address ({}); {}", text, why, kExpected);
}

Result<Address> ParseModicon(std::string_view text, std::string_view number) {
  if (number.size() != 5 && number.size() != 6)
    return NotAnAddress(text, fmt::format("a Modicon number has 5 or 6 digits, not {}", number.size()));
  auto table = TableFromModiconDigit(number[0]);
  if (!table) return NotAnAddress(text, fmt::format("leading digit {} names no table (0, 1, 3 or 4)", number[0]));
  int64_t reg = *ToInt(number.substr(1));
  int64_t max = number.size() == 5 ? 9999 : 65536;
  if (reg < 1 || reg > max)
    return NotAnAddress(text, fmt::format("register {} is outside 1..{} (Modicon numbers are 1-based)", reg, max));
  return Address{*table, static_cast<uint16_t>(reg - 1), std::nullopt};
}

Result<Address> ParseExplicit(std::string_view text, std::string_view prefix, std::string_view number) {
  auto table = TableFromShortName(prefix);
  if (!table) return NotAnAddress(text, fmt::format("unknown table '{}'", prefix));
  auto off = ToInt(number);
  if (!off) return NotAnAddress(text, fmt::format("'{}' is not a decimal offset", number));
  if (*off > 65535) return NotAnAddress(text, fmt::format("offset {} is outside 0..65535", *off));
  return Address{*table, static_cast<uint16_t>(*off), std::nullopt};
}

}  // namespace

std::string_view TableShortName(Table t) {
  switch (t) {
    case Table::kCoil: return "co";
    case Table::kDiscreteInput: return "di";
    case Table::kInputRegister: return "ir";
    case Table::kHoldingRegister: return "hr";
  }
  return "?";
}

std::string_view TableLongName(Table t) {
  switch (t) {
    case Table::kCoil: return "coil";
    case Table::kDiscreteInput: return "discrete input";
    case Table::kInputRegister: return "input register";
    case Table::kHoldingRegister: return "holding register";
  }
  return "?";
}

Result<Address> ParseAddress(std::string_view text) {
  std::string_view body = text;
  std::optional<int> bit;
  if (auto dot = body.find('.'); dot != std::string_view::npos) {
    auto b = ToInt(body.substr(dot + 1));
    if (!b || *b > 15) return NotAnAddress(text, fmt::format("bit '{}' is not 0..15", body.substr(dot + 1)));
    bit = static_cast<int>(*b);
    body = body.substr(0, dot);
  }
  Address a;
  if (auto colon = body.find(':'); colon != std::string_view::npos) {
    PF_ASSIGN_OR_RETURN(a, ParseExplicit(text, body.substr(0, colon), body.substr(colon + 1)));
  } else if (AllDigits(body)) {
    PF_ASSIGN_OR_RETURN(a, ParseModicon(text, body));
  } else {
    return NotAnAddress(text, "neither digits nor table:offset");
  }
  if (bit && IsBitTable(a.table))
    return NotAnAddress(text, fmt::format("a bit index needs a register table, {} is a bit table", TableLongName(a.table)));
  a.bit = bit;
  return a;
}

std::string ModiconAddress(const Address& a) {
  int reg = a.offset + 1;
  std::string s = reg <= 9999 ? fmt::format("{}{:04}", ModiconDigit(a.table), reg)
                              : fmt::format("{}{:05}", ModiconDigit(a.table), reg);
  if (a.bit) s += fmt::format(".{}", *a.bit);
  return s;
}

std::string FormatAddress(const Address& a) {
  std::string pdu = fmt::format("{}:{}", TableShortName(a.table), a.offset);
  if (a.bit) pdu += fmt::format(".{}", *a.bit);
  return fmt::format("{} = {}", pdu, ModiconAddress(a));
}

}  // namespace pf::modbus
