#include <gtest/gtest.h>

#include "connect/modbus/modbus_address.h"

namespace pf::modbus {
namespace {

Address Parse(std::string_view s) {
  auto a = ParseAddress(s);
  EXPECT_TRUE(a.ok()) << s << ": " << a.status().ToString();
  return a.ok() ? *a : Address{};
}

TEST(ModbusAddress, ModiconFiveDigit) {
  EXPECT_EQ(Parse("40001"), (Address{Table::kHoldingRegister, 0, std::nullopt}));
  EXPECT_EQ(Parse("40017"), (Address{Table::kHoldingRegister, 16, std::nullopt}));
  EXPECT_EQ(Parse("30005"), (Address{Table::kInputRegister, 4, std::nullopt}));
  EXPECT_EQ(Parse("10008"), (Address{Table::kDiscreteInput, 7, std::nullopt}));
  EXPECT_EQ(Parse("00004"), (Address{Table::kCoil, 3, std::nullopt}));
  EXPECT_EQ(Parse("49999"), (Address{Table::kHoldingRegister, 9998, std::nullopt}));
}

TEST(ModbusAddress, ModiconSixDigit) {
  EXPECT_EQ(Parse("400001"), (Address{Table::kHoldingRegister, 0, std::nullopt}));
  EXPECT_EQ(Parse("420001"), (Address{Table::kHoldingRegister, 20000, std::nullopt}));
  EXPECT_EQ(Parse("465536"), (Address{Table::kHoldingRegister, 65535, std::nullopt}));
  EXPECT_EQ(Parse("300010"), (Address{Table::kInputRegister, 9, std::nullopt}));
}

TEST(ModbusAddress, ExplicitPduOffsets) {
  EXPECT_EQ(Parse("hr:0"), (Address{Table::kHoldingRegister, 0, std::nullopt}));
  EXPECT_EQ(Parse("ir:5"), (Address{Table::kInputRegister, 5, std::nullopt}));
  EXPECT_EQ(Parse("co:3"), (Address{Table::kCoil, 3, std::nullopt}));
  EXPECT_EQ(Parse("di:7"), (Address{Table::kDiscreteInput, 7, std::nullopt}));
  EXPECT_EQ(Parse("hr:65535"), (Address{Table::kHoldingRegister, 65535, std::nullopt}));
}

TEST(ModbusAddress, Bits) {
  EXPECT_EQ(Parse("40010.3"), (Address{Table::kHoldingRegister, 9, 3}));
  EXPECT_EQ(Parse("hr:9.3"), (Address{Table::kHoldingRegister, 9, 3}));
  EXPECT_EQ(Parse("ir:0.15"), (Address{Table::kInputRegister, 0, 15}));
}

TEST(ModbusAddress, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(ParseAddress("4x0001").status().message(),
            "'4x0001' is not a Modbus address (neither digits nor table:offset); expected Modicon 40001, 6-digit "
            "400001 or hr:0 / ir:0 / co:0 / di:0 (optional .bit 0-15)");
  EXPECT_EQ(ParseAddress("40000").status().message().substr(0, 74),
            "'40000' is not a Modbus address (register 0 is outside 1..9999 (Modicon nu");
  EXPECT_NE(ParseAddress("20001").status().message().find("leading digit 2 names no table"), std::string::npos);
  EXPECT_NE(ParseAddress("4001").status().message().find("5 or 6 digits, not 4"), std::string::npos);
  EXPECT_NE(ParseAddress("xx:1").status().message().find("unknown table 'xx'"), std::string::npos);
  EXPECT_NE(ParseAddress("hr:65536").status().message().find("offset 65536 is outside 0..65535"), std::string::npos);
  EXPECT_NE(ParseAddress("40001.16").status().message().find("bit '16' is not 0..15"), std::string::npos);
  EXPECT_NE(ParseAddress("co:1.2").status().message().find("coil is a bit table"), std::string::npos);
  EXPECT_EQ(ParseAddress("466000").status().code(), StatusCode::kInvalidArgument);
}

TEST(ModbusAddress, FormatsBothNotations) {
  EXPECT_EQ(FormatAddress(Parse("40017")), "hr:16 = 40017");
  EXPECT_EQ(FormatAddress(Parse("co:3")), "co:3 = 00004");
  EXPECT_EQ(FormatAddress(Parse("di:0")), "di:0 = 10001");
  EXPECT_EQ(FormatAddress(Parse("ir:99")), "ir:99 = 30100");
  EXPECT_EQ(FormatAddress(Parse("hr:9.3")), "hr:9.3 = 40010.3");
  EXPECT_EQ(FormatAddress(Parse("hr:20000")), "hr:20000 = 420001");
  EXPECT_EQ(FormatAddress(Parse("hr:9998")), "hr:9998 = 49999");
  EXPECT_EQ(FormatAddress(Parse("hr:9999")), "hr:9999 = 410000");
}

}  // namespace
}  // namespace pf::modbus
