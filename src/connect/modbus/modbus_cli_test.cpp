// `plantfloor modbus read` (src/cli/modbus_cmd.cpp) against the libmodbus peer: values written by
// an independent client print with both address notations, raw hex and the decoded value.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/modbus_cmd.h"
#include "connect/modbus/modbus_test_support.h"
#include "testing.h"

namespace pf {
namespace {

TEST(ModbusCli, ReadPrintsBothNotationsRawAndValue) {
  pf::testing::Peer peer("libmodbus");
  ASSERT_TRUE(peer.ok()) << peer.log();
  std::string out;
  ASSERT_EQ(pf::testing::Run(fmt::format("/usr/bin/python3 {}/write_values.py {} "
                                         "'[{{\"offset\": 16, \"type\": \"float32\", \"order\": \"cdab\", \"value\": 21.5}}]'",
                                         modbus::testing::TestDataDir(), peer.port()),
                             &out),
            0)
      << out;
  ModbusReadArgs a;
  a.endpoint = fmt::format("tcp://127.0.0.1:{}", peer.port());
  a.address = "40017";
  a.type = "float32";
  a.order = "cdab";
  std::ostringstream text, err;
  EXPECT_EQ(RunModbusRead(a, text, err), 0) << err.str();
  EXPECT_EQ(text.str(), "hr:16 = 40017          [0000 41ac] float32 = 21.5\n");

  a.json = true;
  std::ostringstream js;
  EXPECT_EQ(RunModbusRead(a, js, err), 0);
  auto doc = nlohmann::json::parse(js.str());
  EXPECT_EQ(doc["values"][0]["address"], "hr:16");
  EXPECT_EQ(doc["values"][0]["modicon"], "40017");
  EXPECT_EQ(doc["values"][0]["raw_hex"], "0000 41ac");
  EXPECT_EQ(doc["values"][0]["value"], 21.5);

  ModbusReadArgs bad = a;
  bad.address = "hr:200";
  std::ostringstream e2;
  EXPECT_EQ(RunModbusRead(bad, js, e2), 1);
  EXPECT_EQ(e2.str(), fmt::format("modbus read: tcp://127.0.0.1:{} unit 1 read holding register 200..201: exception 0x02 "
                                  "illegal data address\n",
                                  peer.port()));
  bad.address = "4x01";
  std::ostringstream e3;
  EXPECT_EQ(RunModbusRead(bad, js, e3), 2);
  EXPECT_NE(e3.str().find("'4x01' is not a Modbus address"), std::string::npos);
}

TEST(ModbusCli, ClosedPortFailsWithConnectError) {
  ModbusReadArgs a;
  int port = pf::testing::FreePort();
  a.endpoint = fmt::format("tcp://127.0.0.1:{}", port);
  a.address = "hr:0";
  std::ostringstream out, err;
  EXPECT_EQ(RunModbusRead(a, out, err), 1);
  EXPECT_EQ(err.str(), fmt::format("modbus read: connect tcp://127.0.0.1:{}: Connection refused\n", port));
}

}  // namespace
}  // namespace pf
