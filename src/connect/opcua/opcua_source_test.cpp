// The "opcua" source: config parsing and its errors, StatusCode -> quality, value conversion of every
// built-in type (unit, OpcuaSourceUnit.*), and the source against the node-opcua peer (OpcuaSourcePeer.*):
// values with good quality, bad/comm_failure once when the server goes away, a bad/gap sample at the
// gap's start and good values again after the server restarts.
//
// Expected status code values are taken from node-opcua's generated table (node-opcua-status-code,
// _generated_status_codes.js), DateTime ticks and base64 vectors from independent computations
// (Python datetime, RFC 4648 §10), not from this code.
#include <gtest/gtest.h>

#include <chrono>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <variant>

#include "connect/opcua/client.h"
#include "connect/opcua/opcua_config.h"
#include "connect/opcua/opcua_source.h"
#include "testing.h"

namespace pf::opcua {
namespace {

using namespace std::chrono_literals;
using Field = std::pair<std::string, std::variant<int64_t, double, std::string, bool>>;

// A table as runtime/ builds it from TOML, with a fake location.
ConfigNode Table(const std::string& path, int line, const std::vector<Field>& fields) {
  ConfigNode t;
  t.kind = ConfigNode::Kind::kTable;
  t.loc = {"plant.toml", line};
  t.path = path;
  for (const auto& [key, value] : fields) {
    ConfigNode n;
    n.loc = {"plant.toml", line + 1};
    n.path = path + "." + key;
    if (auto* i = std::get_if<int64_t>(&value)) n.kind = ConfigNode::Kind::kInt, n.i = *i;
    if (auto* d = std::get_if<double>(&value)) n.kind = ConfigNode::Kind::kDouble, n.d = *d;
    if (auto* s = std::get_if<std::string>(&value)) n.kind = ConfigNode::Kind::kString, n.s = *s;
    if (auto* b = std::get_if<bool>(&value)) n.kind = ConfigNode::Kind::kBool, n.b = *b;
    t.fields.emplace_back(key, std::move(n));
  }
  return t;
}

const std::string kUrl = "opc.tcp://127.0.0.1:4840/UA/Peer";

Result<SourceConfig> ReadSource(std::vector<Field> fields, const std::vector<ConfigNode>& tag_tables = {}) {
  fields.insert(fields.begin(), Field{"name", std::string("ua1")});
  ConfigNode src = Table("sources[0]", 10, fields);
  std::vector<SourceTagConfig> tags;
  for (size_t i = 0; i < tag_tables.size(); ++i)
    tags.push_back({static_cast<TagId>(i + 3), "line1.t" + std::to_string(i), "line1", &tag_tables[i]});
  return ReadSourceConfig(src, tags);
}

std::string TagError(const std::vector<Field>& fields) {
  auto t = ReadTagConfig(Table("sources[0].tags[1]", 20, fields), 1000, 1);
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : t.status().message();
}

std::string SourceError(const std::vector<Field>& fields) {
  auto s = ReadSource(fields);
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.status().message();
}

TEST(OpcuaSourceUnit, SourceDefaultsAndKeys) {
  auto c = ReadSource({{"endpoint", kUrl}}, {Table("sources[0].tags[0]", 12, {{"node", std::string("ns=1;s=A")}})});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "ua1");
  EXPECT_EQ(c->monitor.client.endpoint_url, kUrl);
  EXPECT_EQ(c->monitor.client.security, Security::kNone);
  EXPECT_FALSE(c->monitor.client.user.has_value());
  EXPECT_EQ(c->monitor.subscription.publishing_interval_ms, 1000.0);
  EXPECT_EQ(c->monitor.subscription.max_keep_alive_count, 10u);
  EXPECT_EQ(c->monitor.subscription.lifetime_count, 60u);
  EXPECT_EQ(c->monitor.client.requested_lifetime_ms, 3'600'000u);
  EXPECT_EQ(c->monitor.client.timeout, 10s);
  ASSERT_EQ(c->tags.size(), 1u);
  ASSERT_EQ(c->monitor.items.size(), 1u);
  EXPECT_EQ(c->tags[0].id, 3u);
  EXPECT_EQ(c->monitor.items[0].node, "ns=1;s=A");
  EXPECT_EQ(c->monitor.items[0].sampling_interval_ms, 1000.0);  // the publishing interval
  EXPECT_EQ(c->monitor.items[0].queue_size, 1u);
  EXPECT_EQ(c->monitor.items[0].deadband, DeadbandType::kNone);

  std::vector<ConfigNode> tags = {
      Table("sources[0].tags[0]", 12, {{"browse_path", std::string("1:Line1/1:Temperature")}}),
      Table("sources[0].tags[1]", 14,
            {{"node", std::string("nsu=urn:x;s=B")}, {"sampling_interval", std::string("50ms")},
             {"queue_size", int64_t{7}}, {"server_deadband", 2.5}, {"server_deadband_type", std::string("percent")}}),
      Table("sources[0].tags[2]", 16, {{"node", std::string("i=2258")}, {"waveform", true}, {"sample_rate", 25600.0}}),
  };
  c = ReadSource({{"endpoint", kUrl},
                  {"security", std::string("encrypt")},
                  {"pki_dir", std::string("/var/lib/pf/pki")},
                  {"user", std::string("op")},
                  {"password", std::string("s3cret")},
                  {"publishing_interval", std::string("500ms")},
                  {"sampling_interval", std::string("200ms")},
                  {"requested_lifetime", std::string("10s")},
                  {"timeout", std::string("2s")},
                  {"keep_alive_count", int64_t{5}}},
                 tags);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitor.client.security, Security::kSignAndEncrypt);
  EXPECT_EQ(c->monitor.client.pki_dir, "/var/lib/pf/pki");
  EXPECT_EQ(c->monitor.client.user, "op");
  EXPECT_EQ(c->monitor.client.password, "s3cret");
  EXPECT_EQ(c->monitor.subscription.publishing_interval_ms, 500.0);
  EXPECT_EQ(c->monitor.subscription.max_keep_alive_count, 5u);
  EXPECT_EQ(c->monitor.client.requested_lifetime_ms, 10'000u);
  EXPECT_EQ(c->monitor.client.timeout, 2s);
  ASSERT_EQ(c->monitor.items.size(), 3u);
  EXPECT_EQ(c->monitor.items[0].browse_path, "1:Line1/1:Temperature");
  EXPECT_EQ(c->monitor.items[0].sampling_interval_ms, 200.0);
  EXPECT_EQ(c->monitor.items[0].queue_size, 3u);  // ceil(500 / 200): one interval's samples fit
  EXPECT_EQ(c->monitor.items[1].sampling_interval_ms, 50.0);
  EXPECT_EQ(c->monitor.items[1].queue_size, 7u);
  EXPECT_EQ(c->monitor.items[1].deadband, DeadbandType::kPercent);
  EXPECT_EQ(c->monitor.items[1].deadband_value, 2.5);
  EXPECT_TRUE(c->tags[2].waveform);
  EXPECT_EQ(c->tags[2].sample_rate_hz, 25600.0);
}

TEST(OpcuaSourceUnit, PasswordFromEnvironment) {
  ::setenv("PF_TEST_UA_PASSWORD", "from-env", 1);
  auto c = ReadSource({{"endpoint", kUrl}, {"user", std::string("op")}, {"password_env", std::string("PF_TEST_UA_PASSWORD")}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitor.client.password, "from-env");
  ::unsetenv("PF_TEST_UA_PASSWORD");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"user", std::string("op")}, {"password_env", std::string("PF_TEST_UA_PASSWORD")}}),
            "plant.toml:11: sources[0].password_env: environment variable 'PF_TEST_UA_PASSWORD' is not set");
}

TEST(OpcuaSourceUnit, SourceErrorsNameFileLineKey) {
  EXPECT_EQ(SourceError({}), "plant.toml:10: sources[0].endpoint: missing; expected opc.tcp://HOST:PORT/PATH");
  EXPECT_EQ(SourceError({{"endpoint", std::string("http://plc:4840")}}),
            "plant.toml:11: sources[0].endpoint: endpoint 'http://plc:4840': must start with opc.tcp://");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"security", std::string("tls")}}),
            "plant.toml:11: sources[0].security: 'tls': expected none, sign or encrypt");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"security", std::string("sign")}}),
            "plant.toml:10: sources[0].pki_dir: missing; security = \"sign\" needs a certificate store folder");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"password", std::string("x")}}),
            "plant.toml:11: sources[0].password: a password needs user");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"user", std::string("op")}}),
            "plant.toml:11: sources[0].user: user needs password or password_env");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"user", std::string("op")}, {"password", std::string("x")},
                         {"password_env", std::string("X")}}),
            "plant.toml:11: sources[0].password_env: give either password or password_env, not both");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"publishing_interval", std::string("0ms")}}),
            "plant.toml:11: sources[0].publishing_interval: must be at least 1ms");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"keep_alive_count", int64_t{30}}, {"lifetime_count", int64_t{60}}}),
            "plant.toml:11: sources[0].lifetime_count: must be at least 3 x keep_alive_count = 90");
  EXPECT_EQ(SourceError({{"endpoint", kUrl}, {"reconnect_min", std::string("5s")}, {"reconnect_max", std::string("1s")}}),
            "plant.toml:11: sources[0].reconnect_max: must not be below reconnect_min");
  std::string q = SourceError({{"endpoint", kUrl}, {"queue_size", int64_t{0}}});
  EXPECT_EQ(q.rfind("plant.toml:11: sources[0].queue_size: ", 0), 0u) << q;
}

TEST(OpcuaSourceUnit, TagErrorsNameFileLineKey) {
  EXPECT_EQ(TagError({}), "plant.toml:20: sources[0].tags[1].node: missing; every OPC UA tag needs node (ns=2;s=X) "
                          "or browse_path (1:Line1/1:X)");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"browse_path", std::string("1:A")}}),
            "plant.toml:21: sources[0].tags[1].browse_path: give either node or browse_path, not both");
  std::string bad_node = TagError({{"node", std::string("ns=x;s=A")}});
  EXPECT_EQ(bad_node.rfind("plant.toml:21: sources[0].tags[1].node: ", 0), 0u) << bad_node;
  EXPECT_EQ(TagError({{"node", std::string("svr=1;i=5")}}),
            "plant.toml:21: sources[0].tags[1].node: svr= (a node on another server) cannot be monitored");
  EXPECT_EQ(TagError({{"browse_path", std::string("1:Line1//1:T")}}),
            "plant.toml:21: sources[0].tags[1].browse_path: segment 2 of \"1:Line1//1:T\" is empty; expected "
            "NS:Name segments separated by '/'");
  EXPECT_EQ(TagError({{"browse_path", std::string("1:Line1/2:")}}),
            "plant.toml:21: sources[0].tags[1].browse_path: segment 2 \"2:\" of \"1:Line1/2:\" has a namespace index "
            "but no name");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"waveform", true}}),
            "plant.toml:20: sources[0].tags[1].sample_rate: missing; a waveform tag needs its sample rate in Hz");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"waveform", true}, {"sample_rate", -5.0}}),
            "plant.toml:21: sources[0].tags[1].sample_rate: must be above 0 Hz, got -5");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"sample_rate", 100.0}}),
            "plant.toml:21: sources[0].tags[1].sample_rate: only used with waveform = true");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"server_deadband", 150.0}, {"server_deadband_type", std::string("percent")}}),
            "plant.toml:21: sources[0].tags[1].server_deadband: a percent deadband is 0..100, got 150");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"server_deadband", -1.0}}),
            "plant.toml:21: sources[0].tags[1].server_deadband: must be a finite number >= 0");
  EXPECT_EQ(TagError({{"node", std::string("i=1")}, {"sampling_interval", std::string("-5ms")}}).rfind(
                "plant.toml:21: sources[0].tags[1].sampling_interval: ", 0),
            0u);
}

TEST(OpcuaSourceUnit, BrowsePathSyntax) {
  EXPECT_TRUE(CheckBrowsePath("1:Line1/1:Temperature").ok());
  EXPECT_TRUE(CheckBrowsePath("Server/ServerStatus").ok());
  EXPECT_TRUE(CheckBrowsePath("urn:x:Line1/urn:x:T").ok());
  EXPECT_EQ(CheckBrowsePath("").code(), pf::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckBrowsePath("/A").code(), pf::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckBrowsePath("A/").code(), pf::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckBrowsePath("70000:A").code(), pf::StatusCode::kInvalidArgument);
}

MappedQuality Map(uint32_t code) { return MapStatusCode(StatusCode{code}); }

TEST(OpcuaSourceUnit, StatusCodeSeverityAndSubCodes) {
  // Severity alone: top two bits 00 good, 01 uncertain, 10 and 11 bad.
  EXPECT_EQ(Map(0x00000000), (MappedQuality{Quality::kGood, QualitySub::kNone}));
  EXPECT_EQ(Map(0x40000000), (MappedQuality{Quality::kUncertain, QualitySub::kNone}));
  EXPECT_EQ(Map(0x80000000), (MappedQuality{Quality::kBad, QualitySub::kNone}));
  EXPECT_EQ(Map(0xC0000000), (MappedQuality{Quality::kBad, QualitySub::kNone}));
  EXPECT_EQ(Map(0x00A20000), (MappedQuality{Quality::kGood, QualitySub::kNone}));   // GoodClamped
  EXPECT_EQ(Map(0x40920000), (MappedQuality{Quality::kUncertain, QualitySub::kNone}));  // UncertainInitialValue
  EXPECT_EQ(Map(0x800A0000), (MappedQuality{Quality::kBad, QualitySub::kNone}));   // BadTimeout
  // Sub-codes (values from node-opcua's table).
  EXPECT_EQ(Map(0x80340000), (MappedQuality{Quality::kBad, QualitySub::kConfigError}));    // BadNodeIdUnknown
  EXPECT_EQ(Map(0x80330000), (MappedQuality{Quality::kBad, QualitySub::kConfigError}));    // BadNodeIdInvalid
  EXPECT_EQ(Map(0x80050000), (MappedQuality{Quality::kBad, QualitySub::kCommFailure}));    // BadCommunicationError
  EXPECT_EQ(Map(0x808a0000), (MappedQuality{Quality::kBad, QualitySub::kCommFailure}));    // BadNotConnected
  EXPECT_EQ(Map(0x800d0000), (MappedQuality{Quality::kBad, QualitySub::kCommFailure}));    // BadServerNotConnected
  EXPECT_EQ(Map(0x80310000), (MappedQuality{Quality::kBad, QualitySub::kCommFailure}));    // BadNoCommunication
  EXPECT_EQ(Map(0x808c0000), (MappedQuality{Quality::kBad, QualitySub::kSensorFailure}));  // BadSensorFailure
  EXPECT_EQ(Map(0x808b0000), (MappedQuality{Quality::kBad, QualitySub::kDeviceFailure}));  // BadDeviceFailure
  EXPECT_EQ(Map(0x803c0000), (MappedQuality{Quality::kBad, QualitySub::kOutOfRange}));     // BadOutOfRange
  EXPECT_EQ(Map(0x40940000), (MappedQuality{Quality::kUncertain, QualitySub::kOutOfRange}));  // UncertainEUExceeded
  EXPECT_EQ(Map(0x40900000), (MappedQuality{Quality::kUncertain, QualitySub::kLastKnown}));   // UncertainLastUsableValue
  EXPECT_EQ(Map(0x40910000), (MappedQuality{Quality::kUncertain, QualitySub::kSubstituted}));  // UncertainSubstituteValue
  EXPECT_EQ(Map(0x80320000), (MappedQuality{Quality::kBad, QualitySub::kNotConnected}));  // BadWaitingForInitialData
  EXPECT_EQ(Map(0x80890000), (MappedQuality{Quality::kBad, QualitySub::kConfigError}));   // BadConfigurationError
  // The 16 info bits (overflow, limit bits) do not change the mapping.
  EXPECT_EQ(Map(0x80340000 | 0x0480), (MappedQuality{Quality::kBad, QualitySub::kConfigError}));
  EXPECT_EQ(Map(0x40900000 | 0x0100), (MappedQuality{Quality::kUncertain, QualitySub::kLastKnown}));
  EXPECT_EQ(Map(0x00000000 | 0x0480), (MappedQuality{Quality::kGood, QualitySub::kNone}));
}

Value Conv(BuiltinType t, Scalar s) {
  auto v = ConvertScalar(Variant::Scalar1(t, std::move(s)));
  EXPECT_TRUE(v.ok()) << BuiltinTypeName(t) << ": " << v.status().ToString();
  return v.ok() ? *v : Value();
}

TEST(OpcuaSourceUnit, EveryScalarBuiltinType) {
  using BT = BuiltinType;
  EXPECT_EQ(Conv(BT::kBoolean, true), Value(true));
  EXPECT_EQ(Conv(BT::kSByte, int8_t{-128}), Value(int64_t{-128}));
  EXPECT_EQ(Conv(BT::kByte, uint8_t{255}), Value(int64_t{255}));
  EXPECT_EQ(Conv(BT::kInt16, int16_t{-32768}), Value(int64_t{-32768}));
  EXPECT_EQ(Conv(BT::kUInt16, uint16_t{65535}), Value(int64_t{65535}));
  EXPECT_EQ(Conv(BT::kInt32, int32_t{-2147483647 - 1}), Value(int64_t{-2147483648LL}));
  EXPECT_EQ(Conv(BT::kUInt32, uint32_t{4294967295u}), Value(int64_t{4294967295LL}));
  EXPECT_EQ(Conv(BT::kInt64, std::numeric_limits<int64_t>::min()), Value(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(Conv(BT::kUInt64, uint64_t{9223372036854775807ULL}), Value(int64_t{9223372036854775807LL}));
  EXPECT_EQ(Conv(BT::kUInt64, uint64_t{18446744073709551615ULL}), Value(18446744073709551615.0));
  EXPECT_EQ(Conv(BT::kFloat, 0.1f), Value(static_cast<double>(0.1f)));
  EXPECT_EQ(Conv(BT::kDouble, 3.141592653589793), Value(3.141592653589793));
  EXPECT_EQ(Conv(BT::kString, std::string("hello")), Value(std::string("hello")));
  EXPECT_EQ(Conv(BT::kXmlElement, std::string("<a/>")), Value(std::string("<a/>")));
  // ByteString as base64: RFC 4648 §10 vectors and one with a zero byte.
  EXPECT_EQ(Conv(BT::kByteString, std::string("f")), Value(std::string("Zg==")));
  EXPECT_EQ(Conv(BT::kByteString, std::string("fo")), Value(std::string("Zm8=")));
  EXPECT_EQ(Conv(BT::kByteString, std::string("foobar")), Value(std::string("Zm9vYmFy")));
  EXPECT_EQ(Conv(BT::kByteString, std::string("\x00\xff\x10", 3)), Value(std::string("AP8Q")));
  // DateTime: 100 ns ticks since 1601-01-01 (ticks from Python datetime arithmetic).
  EXPECT_EQ(Conv(BT::kDateTime, int64_t{134400879001234567LL}), Value(std::string("2026-11-25T13:45:00.1234567Z")));
  EXPECT_EQ(Conv(BT::kDateTime, int64_t{116444736000000000LL}), Value(std::string("1970-01-01T00:00:00.0000000Z")));
  EXPECT_EQ(Conv(BT::kDateTime, int64_t{0}), Value(std::string("1601-01-01T00:00:00.0000000Z")));
  auto guid = Guid::Parse("72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  ASSERT_TRUE(guid.ok());
  Value g = Conv(BT::kGuid, *guid);  // the text form; OPC 10000-6 §5.1.3 leaves the hex digits' case open
  ASSERT_TRUE(std::holds_alternative<std::string>(g));
  std::string text = std::get<std::string>(g);
  for (char& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(text, "72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  EXPECT_EQ(Conv(BT::kNodeId, NodeId::String(2, "Line1.X")), Value(std::string("ns=2;s=Line1.X")));
  EXPECT_EQ(Conv(BT::kExpandedNodeId, ExpandedNodeId{NodeId::String(0, "y"), "urn:x", 0}),
            Value(std::string("nsu=urn:x;s=y")));
  EXPECT_EQ(Conv(BT::kStatusCode, StatusCode{0x80340000}), Value(int64_t{0x80340000LL}));
  EXPECT_EQ(Conv(BT::kQualifiedName, QualifiedName{1, "Temperature"}), Value(std::string("1:Temperature")));
  EXPECT_EQ(Conv(BT::kQualifiedName, QualifiedName{0, "Server"}), Value(std::string("Server")));
  EXPECT_EQ(Conv(BT::kLocalizedText, LocalizedText{"en", "Press running"}), Value(std::string("Press running")));
  EXPECT_EQ(Conv(BT::kVariant, std::make_shared<Variant>(Variant::Scalar1(BT::kInt32, int32_t{7}))), Value(int64_t{7}));
  auto dv = std::make_shared<DataValue>();
  dv->value = Variant::Scalar1(BT::kDouble, 2.5);
  EXPECT_EQ(Conv(BT::kDataValue, dv), Value(2.5));
  EXPECT_EQ(Conv(BT::kNull, std::monostate{}), Value());

  // No tag value: structures and diagnostics, non-finite numbers, arrays.
  auto x = ConvertScalar(Variant::Scalar1(BT::kExtensionObject, ExtensionObject{NodeId::Numeric(2, 5001), {}, "ab"}));
  EXPECT_EQ(x.status().code(), pf::StatusCode::kFailedPrecondition);
  EXPECT_NE(x.status().message().find("ns=2;i=5001"), std::string::npos) << x.status().message();
  EXPECT_EQ(ConvertScalar(Variant::Scalar1(BT::kDiagnosticInfo, DiagnosticInfo{})).status().code(),
            pf::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ConvertScalar(Variant::Scalar1(BT::kDouble, std::nan(""))).status().code(), pf::StatusCode::kOutOfRange);
  EXPECT_EQ(ConvertScalar(Variant::Scalar1(BT::kFloat, std::numeric_limits<float>::infinity())).status().code(),
            pf::StatusCode::kOutOfRange);
  EXPECT_EQ(ConvertScalar(Variant::Array(BT::kInt32, {int32_t{1}})).status().code(), pf::StatusCode::kFailedPrecondition);
}

TagConfig Tag(bool waveform = false, double rate = 0) {
  TagConfig t;
  t.id = 9;
  t.name = "press7.vib";
  t.item.node = "ns=1;s=V";
  t.waveform = waveform;
  t.sample_rate_hz = rate;
  return t;
}

TEST(OpcuaSourceUnit, SourceTimeFromTheDataValue) {
  Timestamp received{1'800'000'000'000'000'000};
  DataValue dv;
  EXPECT_EQ(SourceTime(dv, received), received);
  dv.server_timestamp = kUnixEpochTicks + 20;  // 2 us after the Unix epoch
  EXPECT_EQ(SourceTime(dv, received).ns, 2000);
  dv.source_timestamp = kUnixEpochTicks + 10;  // 1 us, plus 500 x 10 ps = 5 ns
  dv.source_picoseconds = 500;
  EXPECT_EQ(SourceTime(dv, received).ns, 1005);
}

TEST(OpcuaSourceUnit, DataValueToSampleOrBlock) {
  Timestamp received{1'800'000'000'000'000'000};
  DataValue dv;
  dv.value = Variant::Scalar1(BuiltinType::kDouble, 3.5);
  dv.status = StatusCode{0x40900000};  // UncertainLastUsableValue
  dv.source_timestamp = kUnixEpochTicks + 1'000'000;  // 0.1 s
  TagValue tv = ConvertDataValue(Tag(), dv, received);
  ASSERT_TRUE(tv.problem.ok());
  const Sample& s = std::get<Sample>(tv.data);
  EXPECT_EQ(s.tag, 9u);
  EXPECT_EQ(s.value, Value(3.5));
  EXPECT_EQ(s.quality, Quality::kUncertain);
  EXPECT_EQ(s.sub, QualitySub::kLastKnown);
  EXPECT_EQ(s.source_time.ns, 100'000'000);
  EXPECT_EQ(s.receive_time, received);

  // Bad: no value even when the server sent one.
  dv.status = StatusCode{0x808c0000};
  tv = ConvertDataValue(Tag(), dv, received);
  EXPECT_TRUE(tv.problem.ok());
  EXPECT_EQ(std::get<Sample>(tv.data).value, Value());
  EXPECT_EQ(std::get<Sample>(tv.data).quality, Quality::kBad);
  EXPECT_EQ(std::get<Sample>(tv.data).sub, QualitySub::kSensorFailure);

  // An array on a plain tag is refused with what to do.
  dv.status.reset();
  dv.value = Variant::Array(BuiltinType::kFloat, {1.0f, 2.5f, -3.0f});
  tv = ConvertDataValue(Tag(), dv, received);
  EXPECT_EQ(tv.problem.code(), pf::StatusCode::kFailedPrecondition);
  EXPECT_EQ(tv.problem.message(),
            "tag 'press7.vib' (node ns=1;s=V): the server sends an array of 3 Float; a tag holds one value (set "
            "waveform = true and sample_rate for a numeric waveform, or monitor one element's node)");
  EXPECT_EQ(std::get<Sample>(tv.data).quality, Quality::kBad);
  EXPECT_EQ(std::get<Sample>(tv.data).sub, QualitySub::kConfigError);

  // The same array on a waveform tag is a Block.
  tv = ConvertDataValue(Tag(true, 1000), dv, received);
  ASSERT_TRUE(tv.problem.ok()) << tv.problem.ToString();
  const Block& b = std::get<Block>(tv.data);
  EXPECT_EQ(b.tag, 9u);
  EXPECT_EQ(b.values, (std::vector<float>{1.0f, 2.5f, -3.0f}));
  EXPECT_EQ(b.sample_rate_hz, 1000.0);
  EXPECT_EQ(b.start_time.ns, 100'000'000);
  EXPECT_EQ(b.quality, Quality::kGood);
  dv.value = Variant::Array(BuiltinType::kInt16, {int16_t{-2}, int16_t{300}});
  tv = ConvertDataValue(Tag(true, 1000), dv, received);
  ASSERT_TRUE(tv.problem.ok());
  EXPECT_EQ(std::get<Block>(tv.data).values, (std::vector<float>{-2.0f, 300.0f}));

  // A waveform tag that receives a scalar, or a string array, is refused.
  dv.value = Variant::Scalar1(BuiltinType::kDouble, 1.0);
  tv = ConvertDataValue(Tag(true, 1000), dv, received);
  EXPECT_EQ(std::get<Sample>(tv.data).sub, QualitySub::kConfigError);
  EXPECT_NE(tv.problem.message().find("a scalar Double"), std::string::npos) << tv.problem.message();
  dv.value = Variant::Array(BuiltinType::kString, {std::string("a")});
  tv = ConvertDataValue(Tag(true, 1000), dv, received);
  EXPECT_EQ(std::get<Sample>(tv.data).sub, QualitySub::kConfigError);

  // NaN is never a value: bad/parse_error.
  dv.value = Variant::Scalar1(BuiltinType::kDouble, std::nan(""));
  tv = ConvertDataValue(Tag(), dv, received);
  EXPECT_EQ(std::get<Sample>(tv.data).quality, Quality::kBad);
  EXPECT_EQ(std::get<Sample>(tv.data).sub, QualitySub::kParseError);
  EXPECT_EQ(std::get<Sample>(tv.data).value, Value());
}

// ---- against node-opcua ----

class RecordingSink : public SampleSink {
 public:
  bool Write(std::vector<Sample>&& batch) override {
    std::lock_guard l(mu_);
    for (auto& s : batch) samples_.push_back(std::move(s));
    cv_.notify_all();
    return true;
  }
  bool WriteBlock(Block&&) override { return true; }
  void Emit(Event&& e) override {
    std::lock_guard l(mu_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }
  // Waits until pred(samples, events) holds; false on timeout.
  bool WaitFor(const std::function<bool(const std::vector<Sample>&, const std::vector<Event>&)>& pred,
               std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(samples_, events_); });
  }
  std::vector<Sample> samples() {
    std::lock_guard l(mu_);
    return samples_;
  }
  std::vector<Event> events() {
    std::lock_guard l(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> samples_;
  std::vector<Event> events_;
};

bool HasEvent(const std::vector<Event>& events, const std::string& kind, const std::string& state) {
  for (const auto& e : events)
    if (e.kind == kind && (state.empty() || e.payload_json.find("\"state\":\"" + state + "\"") != std::string::npos))
      return true;
  return false;
}

std::vector<Sample> OfTag(const std::vector<Sample>& all, TagId tag) {
  std::vector<Sample> out;
  for (const auto& s : all)
    if (s.tag == tag) out.push_back(s);
  return out;
}

TEST(OpcuaSourcePeer, ValuesThenCommFailureThenGapAndRecovery) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string url = fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", peer.port());
  // The namespace URI of ns=1, read independently, to address one tag by nsu=.
  std::string uri;
  {
    ClientOptions o;
    o.endpoint_url = url;
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_GE((*c)->namespaces().size(), 2u);
    uri = (*c)->namespaces()[1];
  }
  std::vector<ConfigNode> tags = {
      Table("t0", 1, {{"node", std::string("ns=1;s=Line1.Temperature")}}),
      Table("t1", 2, {{"browse_path", std::string("1:Line1/1:Counter")}}),
      Table("t2", 3, {{"node", "nsu=" + uri + ";s=Line1.Running"}}),
      Table("t3", 4, {{"node", std::string("ns=1;s=Line1.Label")}}),
      Table("t4", 5, {{"node", std::string("ns=1;s=Line1.DoesNotExist")}}),
  };
  std::vector<SourceTagConfig> stc;
  for (size_t i = 0; i < tags.size(); ++i) stc.push_back({static_cast<TagId>(i), "t" + std::to_string(i), "line1", &tags[i]});
  ConfigNode table = Table("sources[0]", 1,
                           {{"name", std::string("ua")}, {"endpoint", url}, {"publishing_interval", std::string("100ms")},
                            {"sampling_interval", std::string("100ms")}, {"timeout", std::string("2s")},
                            {"reconnect_min", std::string("200ms")}, {"reconnect_max", std::string("1s")}});
  MetricsRegistry metrics;
  auto src = OpcuaConnector().create(table, stc, metrics);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  RecordingSink sink;
  Timestamp t_start = Now();
  ASSERT_TRUE((*src)->Start(sink).ok());

  // Good values with the peer's values and types; the unknown node is bad/config_error once.
  auto good_of = [](const std::vector<Sample>& all, TagId tag) {
    for (const auto& s : all)
      if (s.tag == tag && s.quality == Quality::kGood) return true;
    return false;
  };
  ASSERT_TRUE(sink.WaitFor(
      [&](const auto& s, const auto&) {
        bool bad4 = false;
        for (const auto& x : s) bad4 |= x.tag == 4 && x.quality == Quality::kBad;
        return good_of(s, 0) && good_of(s, 1) && good_of(s, 2) && good_of(s, 3) && bad4;
      },
      15s));
  std::this_thread::sleep_for(2s);  // ~20 temperature samples at 100 ms
  auto all = sink.samples();
  Timestamp t_now = Now();
  auto temps = OfTag(all, 0);
  EXPECT_GE(temps.size(), 12u) << "100 ms sampling for more than 2 s";
  for (const auto& t : temps) {
    ASSERT_EQ(t.quality, Quality::kGood);
    ASSERT_TRUE(std::holds_alternative<double>(t.value));
    double v = std::get<double>(t.value);
    EXPECT_GE(v, 15.0);  // the peer's 20 + 5 sin(t)
    EXPECT_LE(v, 25.0);
    EXPECT_GE(t.source_time, t_start - 5s);
    EXPECT_LE(t.source_time, t_now + 1s);
  }
  EXPECT_EQ(OfTag(all, 1).front().value, Value(int64_t{42}));
  EXPECT_EQ(OfTag(all, 2).front().value, Value(true));
  EXPECT_EQ(OfTag(all, 3).front().value, Value(std::string("hello")));
  auto missing = OfTag(all, 4);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].sub, QualitySub::kConfigError);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_GT(all[i].seq, all[i - 1].seq);
  EXPECT_TRUE(HasEvent(sink.events(), "source_status", "connected"));

  // The server goes away: every tag goes bad/comm_failure once, on the transition.
  Timestamp last_good = temps.back().source_time;
  size_t before = all.size();
  peer.Stop();
  ASSERT_TRUE(sink.WaitFor(
      [&](const auto& s, const auto& e) {
        int bad = 0;
        for (size_t i = before; i < s.size(); ++i) bad += s[i].sub == QualitySub::kCommFailure;
        return bad >= 4 && HasEvent(e, "source_status", "disconnected");
      },
      15s));
  std::this_thread::sleep_for(1500ms);  // reconnect attempts fail meanwhile: no more bad samples
  all = sink.samples();
  for (TagId tag = 0; tag < 4; ++tag) {
    int bad = 0, after_bad = 0;
    for (size_t i = before; i < all.size(); ++i) {
      if (all[i].tag != tag) continue;
      if (bad) ++after_bad;
      bad += all[i].quality == Quality::kBad;
    }
    EXPECT_EQ(bad, 1) << "tag " << tag << ": one bad sample on the transition";
    EXPECT_EQ(after_bad, 0) << "tag " << tag << ": nothing more while the server stays down";
  }
  Timestamp comm_fail_time;
  for (size_t i = all.size(); i-- > before;)
    if (all[i].sub == QualitySub::kCommFailure) comm_fail_time = all[i].source_time;

  // Restarted on the same port: a bad/gap sample at the gap's start, then good values again.
  before = all.size();
  testing::Peer again("opcua", peer.port());
  ASSERT_TRUE(again.ok()) << again.log();
  ASSERT_TRUE(sink.WaitFor(
      [&](const auto& s, const auto&) {
        bool gap[2] = {false, false}, good_after[2] = {false, false};
        for (size_t i = before; i < s.size(); ++i) {
          if (s[i].tag > 1) continue;
          if (s[i].sub == QualitySub::kGap) gap[s[i].tag] = true;
          else if (gap[s[i].tag] && s[i].quality == Quality::kGood) good_after[s[i].tag] = true;
        }
        return good_after[0] && good_after[1];
      },
      30s))
      << "no gap sample followed by good values after the restart";
  all = sink.samples();
  std::optional<Sample> gap;
  for (size_t i = before; i < all.size() && !gap; ++i)
    if (all[i].tag == 0 && all[i].sub == QualitySub::kGap) gap = all[i];
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->quality, Quality::kBad);
  // The gap starts at the last notification before the break, no later than the loss was noticed.
  EXPECT_GE(gap->source_time, last_good - 3s);
  EXPECT_LE(gap->source_time, comm_fail_time);
  bool gap_event = false;
  for (const auto& e : sink.events()) {
    if (e.kind != "source_gap") continue;
    gap_event = true;
    EXPECT_EQ(e.start, gap->source_time);
    EXPECT_GT(e.end, e.start);
    EXPECT_EQ(e.source, "opcua:ua");
  }
  EXPECT_TRUE(gap_event);
  EXPECT_TRUE(HasEvent(sink.events(), "source_status", "connected"));
  auto after = OfTag(all, 1);
  EXPECT_EQ(after.back().value, Value(int64_t{42})) << "the counter comes back with the restarted server's value";
  EXPECT_EQ(after.back().quality, Quality::kGood);
  (*src)->Stop();
}

}  // namespace
}  // namespace pf::opcua
