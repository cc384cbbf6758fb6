// RegisterMapServer with a libmodbus client: reads of holding and input registers return what Set
// wrote, writes are refused with "illegal function" and leave the map unchanged, reads past the map
// get "illegal data address", and two clients are served at once.
#include "connect/modbus/modbus_server.h"

#include <gtest/gtest.h>
#include <modbus.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace pf::modbus {
namespace {

modbus_t* Connect(int port) {
  modbus_t* c = modbus_new_tcp("127.0.0.1", port);
  EXPECT_NE(c, nullptr);
  EXPECT_EQ(modbus_connect(c), 0) << modbus_strerror(errno);
  return c;
}

TEST(RegisterMapServer, ReadOnlyMapServedToSeveralClients) {
  auto s = RegisterMapServer::Start("127.0.0.1", 0, 24);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_GT((*s)->port(), 0);
  ASSERT_TRUE((*s)->Set(0, {1, 2, 3}).ok());
  ASSERT_TRUE((*s)->Set(20, {7, 8, 9, 10}).ok());
  EXPECT_FALSE((*s)->Set(22, {1, 2, 3}).ok());
  modbus_t* a = Connect((*s)->port());
  modbus_t* b = Connect((*s)->port());
  uint16_t regs[24] = {};
  ASSERT_EQ(modbus_read_registers(a, 0, 24, regs), 24) << modbus_strerror(errno);
  EXPECT_EQ(regs[2], 3);
  EXPECT_EQ(regs[23], 10);
  uint16_t in[4] = {};
  ASSERT_EQ(modbus_read_input_registers(b, 20, 4, in), 4) << modbus_strerror(errno);
  EXPECT_EQ(in[0], 7);
  // Writes are refused; the map is unchanged.
  EXPECT_EQ(modbus_write_register(a, 0, 99), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  const uint16_t many[2] = {5, 5};
  EXPECT_EQ(modbus_write_registers(b, 1, 2, many), -1);
  EXPECT_EQ((*s)->Get(0, 3), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_EQ((*s)->refused_writes(), 2u);
  // Past the end of the map.
  EXPECT_EQ(modbus_read_registers(a, 20, 5, regs), -1);
  EXPECT_EQ(errno, EMBXILADD);
  modbus_close(a);
  modbus_free(a);
  modbus_close(b);
  modbus_free(b);
  (*s)->Stop();
  EXPECT_GE((*s)->requests(), 5u);
}

// A client that sends half a frame and one that never reads its replies must not hold up a healthy
// client or Set().
TEST(RegisterMapServer, MisbehavingClientsDoNotStallOthers) {
  auto s = RegisterMapServer::Start("127.0.0.1", 0, 24);
  ASSERT_TRUE(s.ok());
  const int half = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*s)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(half, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::send(half, "\x00", 1, 0), 1);  // the first byte of an MBAP header, then silence
  const int deaf = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(deaf, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const unsigned char read_all[] = {0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 24};
  for (int k = 0; k < 2000; ++k) {
    if (::send(deaf, read_all, sizeof read_all, MSG_DONTWAIT) < 0) break;  // never reads the replies
  }
  const auto t0 = std::chrono::steady_clock::now();
  modbus_t* c = Connect((*s)->port());
  uint16_t regs[24] = {};
  ASSERT_TRUE((*s)->Set(0, {42}).ok());
  EXPECT_EQ(modbus_read_registers(c, 0, 24, regs), 24) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 42);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  modbus_close(c);
  modbus_free(c);
  ::close(half);
  ::close(deaf);
}

TEST(RegisterMapServer, BadArgumentsAreRefused) {
  EXPECT_FALSE(RegisterMapServer::Start("127.0.0.1", 0, 0).ok());
  EXPECT_FALSE(RegisterMapServer::Start("not-an-ip", 0, 10).ok());
  auto s = RegisterMapServer::Start("127.0.0.1", 0, 4);
  ASSERT_TRUE(s.ok());
  auto clash = RegisterMapServer::Start("127.0.0.1", (*s)->port(), 4);
  EXPECT_FALSE(clash.ok());
}

}  // namespace
}  // namespace pf::modbus
