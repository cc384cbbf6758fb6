#include <gtest/gtest.h>

#include "connect/modbus/modbus_config.h"
#include "connect/modbus/modbus_source.h"
#include "connect/modbus/modbus_test_config.h"

namespace pf::modbus {
namespace {

using testing::Table;

Status TagError(const std::vector<testing::Field>& fields) {
  ConfigNode node = Table("sources[0].tags[2]", 14, fields);
  return ReadTagConfig(node).status();
}

TEST(ModbusConfig, TagDefaultsAndKeys) {
  auto t = ReadTagConfig(Table("t", 3, {{"address", std::string("40017")}}));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->address, (Address{Table::kHoldingRegister, 16, std::nullopt}));
  EXPECT_EQ(t->type, DataType::kUint16);
  EXPECT_EQ(t->order, ByteOrder::kAbcd);
  EXPECT_FALSE(t->scaled);

  t = ReadTagConfig(Table("t", 3, {{"address", std::string("hr:4")}, {"type", std::string("float64")},
                                   {"order", std::string("cdab")}, {"scale", 0.5}}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->registers(), 4);
  EXPECT_EQ(t->order, ByteOrder::kCdab);
  EXPECT_TRUE(t->scaled);
  EXPECT_EQ(t->scale, 0.5);

  t = ReadTagConfig(Table("t", 3, {{"address", std::string("hr:9")}, {"bit", int64_t{3}}}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, DataType::kBool);
  EXPECT_EQ(t->address.bit, 3);

  t = ReadTagConfig(Table("t", 3, {{"address", std::string("co:0")}}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, DataType::kBool);
  EXPECT_EQ(t->registers(), 1);

  t = ReadTagConfig(Table("t", 3, {{"address", std::string("hr:20")}, {"type", std::string("string")},
                                   {"count", int64_t{8}}, {"order", std::string("ba")}}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->registers(), 8);
  EXPECT_EQ(t->order, ByteOrder::kBadc);
}

TEST(ModbusConfig, TagErrorsNameFileLineKey) {
  EXPECT_EQ(TagError({{"address", std::string("4x0001")}}).message(),
            "plant.toml:14: sources[0].tags[2].address: '4x0001' is not a Modbus address (neither digits nor "
            "table:offset); expected Modicon 40001, 6-digit 400001 or hr:0 / ir:0 / co:0 / di:0 (optional .bit 0-15)");
  EXPECT_EQ(TagError({}).message(), "plant.toml:14: sources[0].tags[2].address: missing; every Modbus tag needs an address");
  EXPECT_EQ(TagError({{"address", std::string("40001")}, {"type", std::string("int24")}}).message(),
            "plant.toml:14: sources[0].tags[2].type: 'int24' is not a Modbus type; expected bool, int16, uint16, "
            "int32, uint32, int64, uint64, float32, float64 or string");
  EXPECT_EQ(TagError({{"address", std::string("40001")}, {"order", std::string("abdc")}}).message(),
            "plant.toml:14: sources[0].tags[2].order: unknown byte order 'abdc'; expected abcd, cdab, badc or dcba "
            "(ab or ba for strings)");
  EXPECT_EQ(TagError({{"address", std::string("40001")}, {"type", std::string("string")}}).message(),
            "plant.toml:14: sources[0].tags[2].count: a string tag needs count (registers, 2 characters each)");
  EXPECT_EQ(TagError({{"address", std::string("co:1")}, {"type", std::string("int16")}}).message(),
            "plant.toml:14: sources[0].tags[2].type: co:1 selects a single bit; its type must be bool, not int16");
  EXPECT_EQ(TagError({{"address", std::string("40001")}, {"type", std::string("bool")}}).message(),
            "plant.toml:14: sources[0].tags[2].type: bool needs a coil, a discrete input or a bit (\"40001.0\")");
  EXPECT_EQ(TagError({{"address", std::string("40001.2")}, {"bit", int64_t{3}}}).message(),
            "plant.toml:14: sources[0].tags[2].bit: bit 3 contradicts the address suffix .2");
  EXPECT_EQ(TagError({{"address", std::string("40001")}, {"count", int64_t{3}}}).message(),
            "plant.toml:14: sources[0].tags[2].count: count is only for strings; uint16 has a fixed size");
  EXPECT_EQ(TagError({{"address", std::string("hr:65534")}, {"type", std::string("int32")}, {"order", std::string("abcd")}})
                .code(),
            StatusCode::kOk);
  EXPECT_EQ(TagError({{"address", std::string("hr:65535")}, {"type", std::string("int32")}}).message(),
            "plant.toml:14: sources[0].tags[2].address: hr:65535 with 2 registers runs past offset 65535");
}

TEST(ModbusConfig, SourceKeys) {
  ConfigNode tag = Table("sources[0].tags[0]", 9, {{"address", std::string("40001")}});
  std::vector<SourceTagConfig> tags = {{7, "press7.count", "press7", &tag}};
  auto c = ReadSourceConfig(Table("sources[0]", 4, {{"name", std::string("plc1")},
                                                    {"endpoint", std::string("tcp://10.0.0.5:1502")},
                                                    {"unit", int64_t{3}},
                                                    {"poll", std::string("250ms")},
                                                    {"max_requests_per_s", 20.0},
                                                    {"max_block", int64_t{60}}}),
                            tags);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "plc1");
  EXPECT_EQ(c->endpoint.ToString(), "tcp://10.0.0.5:1502");
  EXPECT_EQ(c->client.unit, 3);
  EXPECT_EQ(c->poll, std::chrono::milliseconds(250));
  EXPECT_EQ(c->max_requests_per_s, 20.0);
  EXPECT_EQ(c->plan.max_registers, 60);
  EXPECT_EQ(c->plan.max_bits, 960);
  ASSERT_EQ(c->tags.size(), 1u);
  EXPECT_EQ(c->tags[0].id, 7u);
  EXPECT_EQ(c->tags[0].name, "press7.count");

  auto rtu = ReadSourceConfig(Table("sources[1]", 20, {{"endpoint", std::string("rtu:///dev/ttyS1")}, {"baud", int64_t{9600}},
                                                       {"parity", std::string("E")}, {"stop_bits", int64_t{2}}}),
                              {});
  ASSERT_TRUE(rtu.ok());
  EXPECT_EQ(rtu->endpoint.ToString(), "rtu:///dev/ttyS1 9600-8E2");

  EXPECT_EQ(ReadSourceConfig(Table("sources[0]", 4, {{"endpoint", std::string("udp://x")}}), {}).status().message(),
            "plant.toml:4: sources[0].endpoint: endpoint 'udp://x': expected tcp://HOST:PORT or rtu:///dev/DEVICE");
  EXPECT_EQ(ReadSourceConfig(Table("sources[0]", 4, {{"endpoint", std::string("tcp://h:1")}, {"parity", std::string("X")}}), {})
                .status()
                .message(),
            "plant.toml:4: sources[0].parity: expected one of N, E, O, got \"X\"");
  EXPECT_EQ(ReadSourceConfig(Table("sources[0]", 4, {{"endpoint", std::string("tcp://h:1")}, {"unit", int64_t{300}}}), {})
                .status()
                .message(),
            "plant.toml:4: sources[0].unit: expected an integer from 0 to 255, got 300");
}

TEST(ModbusConfig, ConnectorRow) {
  ConnectorInfo info = ModbusConnector();
  EXPECT_EQ(info.type, "modbus");
  EXPECT_EQ(info.source_spec.front().key, "endpoint");
  EXPECT_TRUE(info.source_spec.front().required);
  for (const auto& f : info.tag_spec) {
    EXPECT_NE(f.key, "unit");  // the engineering unit is the runtime's key
    EXPECT_NE(f.key, "name");
  }
  MetricsRegistry metrics;
  ConfigNode tag = Table("t", 2, {{"address", std::string("hr:0")}, {"type", std::string("string")}, {"count", int64_t{126}}});
  std::vector<SourceTagConfig> tags = {{1, "a", "asset", &tag}};
  auto src = info.create(Table("s", 1, {{"name", std::string("p")}, {"endpoint", std::string("tcp://127.0.0.1:1")}}), tags,
                         metrics);
  EXPECT_EQ(src.status().message(), "plant.toml:2: t.count: expected an integer from 1 to 125, got 126");
}

}  // namespace
}  // namespace pf::modbus
