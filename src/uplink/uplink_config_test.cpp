#include "uplink/uplink_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <variant>

#include "core/metrics.h"
#include "memory_outbox.h"
#include "testing.h"
#include "uplink/mqtt_uplink.h"

namespace pf::uplink {
namespace {

using FieldValue = std::variant<int64_t, std::string, bool, ConfigNode>;
using Fields = std::vector<std::pair<std::string, FieldValue>>;

// Builds a table as runtime/ would from TOML, every value on the given line of plant.toml.
ConfigNode Table(const std::string& path, int line, const Fields& fields) {
  ConfigNode t;
  t.kind = ConfigNode::Kind::kTable;
  t.loc = {"plant.toml", line};
  t.path = path;
  for (const auto& [key, value] : fields) {
    ConfigNode n;
    if (auto* sub = std::get_if<ConfigNode>(&value)) {
      n = *sub;
    } else {
      n.loc = {"plant.toml", line};
      n.path = path + "." + key;
      if (auto* i = std::get_if<int64_t>(&value)) n.kind = ConfigNode::Kind::kInt, n.i = *i;
      if (auto* s = std::get_if<std::string>(&value)) n.kind = ConfigNode::Kind::kString, n.s = *s;
      if (auto* b = std::get_if<bool>(&value)) n.kind = ConfigNode::Kind::kBool, n.b = *b;
    }
    t.fields.emplace_back(key, std::move(n));
  }
  return t;
}

Fields Base(std::string broker = "tcp://127.0.0.1:1883") {
  return {{"name", std::string("hub")}, {"type", std::string("mqtt")}, {"broker", broker},
          {"device", std::string("edge1")}};
}

TEST(UplinkConfig, DefaultsAndValues) {
  Fields f = Base();
  f.push_back({"drain_rate_bytes_s", int64_t{20000}});
  f.push_back({"max_inflight", int64_t{8}});
  auto c = ParseMqttUplinkConfig(Table("uplinks[0]", 30, f));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "hub");
  EXPECT_EQ(c->client_id, "plantfloor-edge1");
  EXPECT_EQ(c->topic_prefix, "plantfloor/v1");
  EXPECT_EQ(c->qos, 1);
  EXPECT_EQ(c->drain_rate_bytes_s, 20000u);
  EXPECT_EQ(c->max_inflight, 8);
  EXPECT_EQ(c->batch, 256);
  EXPECT_EQ(c->reconnect_min, std::chrono::milliseconds(500));
  EXPECT_EQ(c->reconnect_max, std::chrono::seconds(30));
  EXPECT_FALSE(c->tls.enabled);
}

TEST(UplinkConfig, BadBrokerUrl) {
  auto c = ParseMqttUplinkConfig(Table("uplinks[0]", 31, Base("http://hub:1883")));
  EXPECT_EQ(c.status(), Status(StatusCode::kInvalidArgument,
                               "plant.toml:31: uplinks[0].broker: expected \"tcp://host:port\" or "
                               "\"ssl://host:port\", got \"http://hub:1883\""));
  auto p = ParseMqttUplinkConfig(Table("uplinks[0]", 31, Base("tcp://hub:18x3")));
  EXPECT_EQ(p.status().message(),
            "plant.toml:31: uplinks[0].broker: port \"18x3\" in \"tcp://hub:18x3\" is not a number from 1 to 65535");
  auto h = ParseMqttUplinkConfig(Table("uplinks[0]", 31, Base("tcp://hub")));
  EXPECT_EQ(h.status().message(),
            "plant.toml:31: uplinks[0].broker: expected \"tcp://host:port\", got \"tcp://hub\" (host or port missing)");
}

TEST(UplinkConfig, QosZeroRefused) {
  Fields f = Base();
  f.push_back({"qos", int64_t{0}});
  auto c = ParseMqttUplinkConfig(Table("uplinks[0]", 32, f));
  EXPECT_EQ(c.status(), Status(StatusCode::kInvalidArgument,
                               "plant.toml:32: uplinks[0].qos: only 1 is supported (the outbox deletes a record "
                               "only after PUBACK), got 0"));
}

TEST(UplinkConfig, TlsNeedsCaFile) {
  auto none = ParseMqttUplinkConfig(Table("uplinks[0]", 33, Base("ssl://hub:8883")));
  EXPECT_EQ(none.status().message(),
            "plant.toml:33: uplinks[0].tls: an ssl:// broker needs tls.ca_file (the CA that signed the broker's "
            "certificate)");

  Fields f = Base("ssl://hub:8883");
  f.push_back({"tls", Table("uplinks[0].tls", 34, {{"cert_file", std::string("/etc/pf/c.pem")},
                                                     {"key_file", std::string("/etc/pf/c.key")}})});
  auto missing = ParseMqttUplinkConfig(Table("uplinks[0]", 33, f));
  EXPECT_EQ(missing.status().message(),
            "plant.toml:34: uplinks[0].tls.ca_file: missing: verify = true needs the CA that signed the broker's "
            "certificate");

  Fields g = Base("ssl://hub:8883");
  g.push_back({"tls", Table("uplinks[0].tls", 35, {{"ca_file", std::string("/nonexistent/ca.pem")}})});
  auto unreadable = ParseMqttUplinkConfig(Table("uplinks[0]", 33, g));
  EXPECT_EQ(unreadable.status().message(),
            "plant.toml:35: uplinks[0].tls.ca_file: cannot read file \"/nonexistent/ca.pem\"");
}

TEST(UplinkConfig, TlsOnPlainBrokerAndCertWithoutKey) {
  Fields f = Base();
  f.push_back({"tls", Table("uplinks[0].tls", 36, {{"verify", false}})});
  EXPECT_EQ(ParseMqttUplinkConfig(Table("uplinks[0]", 36, f)).status().message(),
            "plant.toml:36: uplinks[0].tls: TLS settings need an ssl:// broker");
  pf::testing::TempDir dir;
  std::ofstream(dir.path() + "/ca.pem") << "x";
  Fields g = Base("ssl://hub:8883");
  g.push_back({"tls", Table("uplinks[0].tls", 37, {{"ca_file", dir.path() + "/ca.pem"},
                                                     {"cert_file", dir.path() + "/ca.pem"}})});
  EXPECT_EQ(ParseMqttUplinkConfig(Table("uplinks[0]", 37, g)).status().message(),
            "plant.toml:37: uplinks[0].tls.key_file: cert_file and key_file go together (a client certificate "
            "needs its key)");
}

TEST(UplinkConfig, UnknownKeyAndBackoffOrder) {
  Fields f = Base();
  f.push_back({"drain_rate", int64_t{5}});
  auto c = ParseMqttUplinkConfig(Table("uplinks[0]", 38, f));
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("plant.toml:38: uplinks[0].drain_rate"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("drain_rate_bytes_s"), std::string::npos) << c.status().message();

  Fields g = Base();
  g.push_back({"reconnect_min", int64_t{5000}});
  g.push_back({"reconnect_max", int64_t{1000}});
  EXPECT_EQ(ParseMqttUplinkConfig(Table("uplinks[0]", 39, g)).status().message(),
            "plant.toml:39: uplinks[0].reconnect_max: expected 0 < reconnect_min (5s) <= reconnect_max (1s)");
}

TEST(UplinkConfig, CreateReportsConfigErrors) {
  testing::MemoryOutbox outbox;
  MetricsRegistry metrics;
  Fields f = Base();
  f.push_back({"qos", int64_t{2}});
  auto u = MqttUplink::Create(Table("uplinks[1]", 40, f), outbox, metrics);
  EXPECT_EQ(u.status().message(),
            "plant.toml:40: uplinks[1].qos: only 1 is supported (the outbox deletes a record only after PUBACK), "
            "got 2");
}

}  // namespace
}  // namespace pf::uplink
