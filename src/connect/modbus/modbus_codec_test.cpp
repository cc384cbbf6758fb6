#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "connect/modbus/modbus_codec.h"

namespace pf::modbus {
namespace {

using Regs = std::vector<uint16_t>;
constexpr ByteOrder kOrders[] = {ByteOrder::kAbcd, ByteOrder::kCdab, ByteOrder::kBadc, ByteOrder::kDcba};

Value D(const Regs& r, DataType t, ByteOrder o) {
  auto v = Decode(r, t, o);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : Value{};
}
Regs E(const Value& v, DataType t, ByteOrder o, int n = 0) {
  auto r = Encode(v, t, o, n);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Regs{};
}

TEST(ModbusCodec, ThirtyTwoBitLayoutPerOrder) {
  const int64_t v = 0x11223344;
  EXPECT_EQ(E(v, DataType::kUint32, ByteOrder::kAbcd), (Regs{0x1122, 0x3344}));
  EXPECT_EQ(E(v, DataType::kUint32, ByteOrder::kCdab), (Regs{0x3344, 0x1122}));
  EXPECT_EQ(E(v, DataType::kUint32, ByteOrder::kBadc), (Regs{0x2211, 0x4433}));
  EXPECT_EQ(E(v, DataType::kUint32, ByteOrder::kDcba), (Regs{0x4433, 0x2211}));
  for (ByteOrder o : kOrders) EXPECT_EQ(D(E(v, DataType::kUint32, o), DataType::kUint32, o), Value(v));
}

TEST(ModbusCodec, SixtyFourBitLayoutPerOrder) {
  const int64_t v = 0x1122334455667788;
  EXPECT_EQ(E(v, DataType::kInt64, ByteOrder::kAbcd), (Regs{0x1122, 0x3344, 0x5566, 0x7788}));
  EXPECT_EQ(E(v, DataType::kInt64, ByteOrder::kCdab), (Regs{0x7788, 0x5566, 0x3344, 0x1122}));
  EXPECT_EQ(E(v, DataType::kInt64, ByteOrder::kBadc), (Regs{0x2211, 0x4433, 0x6655, 0x8877}));
  EXPECT_EQ(E(v, DataType::kInt64, ByteOrder::kDcba), (Regs{0x8877, 0x6655, 0x4433, 0x2211}));
}

TEST(ModbusCodec, SixteenBitSwapsBytesOnlyForBaOrders) {
  EXPECT_EQ(E(int64_t{0x1234}, DataType::kUint16, ByteOrder::kAbcd), (Regs{0x1234}));
  EXPECT_EQ(E(int64_t{0x1234}, DataType::kUint16, ByteOrder::kCdab), (Regs{0x1234}));
  EXPECT_EQ(E(int64_t{0x1234}, DataType::kUint16, ByteOrder::kBadc), (Regs{0x3412}));
  EXPECT_EQ(E(int64_t{0x1234}, DataType::kUint16, ByteOrder::kDcba), (Regs{0x3412}));
}

TEST(ModbusCodec, KnownFloatPatterns) {
  // 123.456f = 0x42F6E979, 1.0 (double) = 0x3FF0000000000000
  EXPECT_EQ(D({0x42F6, 0xE979}, DataType::kFloat32, ByteOrder::kAbcd), Value(static_cast<double>(123.456f)));
  EXPECT_EQ(D({0xE979, 0x42F6}, DataType::kFloat32, ByteOrder::kCdab), Value(static_cast<double>(123.456f)));
  EXPECT_EQ(D({0xF642, 0x79E9}, DataType::kFloat32, ByteOrder::kBadc), Value(static_cast<double>(123.456f)));
  EXPECT_EQ(D({0x79E9, 0xF642}, DataType::kFloat32, ByteOrder::kDcba), Value(static_cast<double>(123.456f)));
  EXPECT_EQ(D({0x3FF0, 0, 0, 0}, DataType::kFloat64, ByteOrder::kAbcd), Value(1.0));
  EXPECT_EQ(D({0, 0, 0, 0xF03F}, DataType::kFloat64, ByteOrder::kDcba), Value(1.0));
}

TEST(ModbusCodec, SignedValuesSignExtend) {
  EXPECT_EQ(D({0xFFFF}, DataType::kInt16, ByteOrder::kAbcd), Value(int64_t{-1}));
  EXPECT_EQ(D({0xFFFF}, DataType::kUint16, ByteOrder::kAbcd), Value(int64_t{65535}));
  EXPECT_EQ(D({0x8000, 0x0000}, DataType::kInt32, ByteOrder::kAbcd), Value(int64_t{INT32_MIN}));
  EXPECT_EQ(D({0xFFFF, 0xFFFF}, DataType::kUint32, ByteOrder::kAbcd), Value(int64_t{4294967295}));
  EXPECT_EQ(D({0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, DataType::kInt64, ByteOrder::kAbcd), Value(int64_t{-2}));
}

TEST(ModbusCodec, EveryTypeEveryOrderRoundTrips) {
  struct Case {
    DataType t;
    std::vector<Value> values;
  };
  const std::vector<Case> cases = {
      {DataType::kInt16, {int64_t{0}, int64_t{-1}, int64_t{-32768}, int64_t{32767}, int64_t{0x1234}}},
      {DataType::kUint16, {int64_t{0}, int64_t{65535}, int64_t{0xA55A}}},
      {DataType::kInt32, {int64_t{INT32_MIN}, int64_t{INT32_MAX}, int64_t{-123456789}}},
      {DataType::kUint32, {int64_t{0}, int64_t{UINT32_MAX}, int64_t{0xDEADBEEF}}},
      {DataType::kInt64, {int64_t{INT64_MIN}, int64_t{INT64_MAX}, int64_t{-1234567890123456789}}},
      {DataType::kUint64, {int64_t{0}, int64_t{INT64_MAX}, int64_t{0x0102030405060708}}},
      {DataType::kFloat32, {0.0, -1.5, 3.4028234663852886e38, static_cast<double>(-273.15f)}},
      {DataType::kFloat64, {0.0, -1.5, 1e308, 2.718281828459045, std::numeric_limits<double>::denorm_min()}},
  };
  for (const auto& c : cases)
    for (ByteOrder o : kOrders)
      for (const Value& v : c.values) {
        Regs r = E(v, c.t, o);
        ASSERT_EQ(static_cast<int>(r.size()), RegisterCount(c.t)) << DataTypeName(c.t);
        EXPECT_EQ(D(r, c.t, o), v) << DataTypeName(c.t) << " " << ByteOrderName(o) << " " << ValueToString(v);
      }
}

TEST(ModbusCodec, NanSurvives) {
  for (ByteOrder o : kOrders) {
    Value v = D(E(std::nan(""), DataType::kFloat32, o), DataType::kFloat32, o);
    EXPECT_TRUE(std::isnan(std::get<double>(v)));
  }
}

TEST(ModbusCodec, Strings) {
  EXPECT_EQ(E(std::string("ABC"), DataType::kString, ByteOrder::kAbcd, 3), (Regs{0x4142, 0x4300, 0x0000}));
  EXPECT_EQ(E(std::string("ABC"), DataType::kString, ByteOrder::kBadc, 3), (Regs{0x4241, 0x0043, 0x0000}));
  EXPECT_EQ(D({0x4142, 0x4344, 0x2020}, DataType::kString, ByteOrder::kAbcd), Value(std::string("ABCD")));
  EXPECT_EQ(D({0x4241, 0x0043}, DataType::kString, ByteOrder::kBadc), Value(std::string("ABC")));
  EXPECT_EQ(D({0x5031, 0x3030, 0x0000, 0x4142}, DataType::kString, ByteOrder::kAbcd), Value(std::string("P100")));
  EXPECT_EQ(Encode(std::string("TOOLONG"), DataType::kString, ByteOrder::kAbcd, 3).status().message(),
            "string of 7 characters does not fit 3 registers");
  EXPECT_EQ(*ParseByteOrder("ab"), ByteOrder::kAbcd);
  EXPECT_EQ(*ParseByteOrder("ba"), ByteOrder::kBadc);
}

TEST(ModbusCodec, BitsOfAStatusWord) {
  auto v = Decode(Regs{0b1000'0000'0000'1000}, DataType::kBool, ByteOrder::kAbcd, 3);
  EXPECT_EQ(*v, Value(true));
  EXPECT_EQ(*Decode(Regs{0b1000'0000'0000'1000}, DataType::kBool, ByteOrder::kAbcd, 15), Value(true));
  EXPECT_EQ(*Decode(Regs{0b1000'0000'0000'1000}, DataType::kBool, ByteOrder::kAbcd, 2), Value(false));
  EXPECT_EQ(*Encode(true, DataType::kBool, ByteOrder::kAbcd, 0, 5), (Regs{0x0020}));
  EXPECT_EQ(Decode(Regs{1}, DataType::kBool, ByteOrder::kAbcd).status().message(), "bool from a register needs a bit 0..15");
}

TEST(ModbusCodec, Errors) {
  EXPECT_EQ(Decode(Regs{1}, DataType::kInt32, ByteOrder::kAbcd).status().message(), "int32 needs 2 registers, got 1");
  auto big = Decode(Regs{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, DataType::kUint64, ByteOrder::kAbcd);
  EXPECT_EQ(big.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(big.status().message(), "uint64 value 18446744073709551615 does not fit a signed 64-bit sample");
  EXPECT_EQ(Encode(int64_t{70000}, DataType::kInt16, ByteOrder::kAbcd).status().message(),
            "70000 is outside the range of int16 (-32768..32767)");
  EXPECT_EQ(ParseDataType("int24").status().message(),
            "unknown Modbus type 'int24'; expected bool, int16, uint16, int32, uint32, int64, uint64, float32, "
            "float64 or string");
  EXPECT_EQ(ParseByteOrder("abdc").status().message(),
            "unknown byte order 'abdc'; expected abcd, cdab, badc or dcba (ab or ba for strings)");
}

TEST(ModbusCodec, ScaleAndOffset) {
  EXPECT_EQ(ApplyScale(int64_t{215}, 0.1, -10.0), Value(215 * 0.1 - 10.0));
  EXPECT_EQ(ApplyScale(true, 2.0, 1.0), Value(3.0));
  EXPECT_EQ(ApplyScale(std::string("x"), 2.0, 1.0), Value(std::string("x")));
}

}  // namespace
}  // namespace pf::modbus
