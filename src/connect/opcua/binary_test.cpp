// UA Binary built-in types: byte-exact vectors from OPC 10000-6 (the examples printed in §5.1.3
// Guid, §5.2.2 Int32/Float/String, §5.2.2.9 NodeId), hand-assembled vectors for the masks, round
// trips, and precise errors for truncated and malformed bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <limits>

#include "connect/opcua/binary.h"
#include "connect/opcua/types.h"

namespace pf::opcua {
namespace {

std::string Hex(std::string_view s) {
  std::string out;
  for (char c : s) out += fmt::format("{:02X} ", static_cast<uint8_t>(c));
  if (!out.empty()) out.pop_back();
  return out;
}

// Returns a string that lives until the end of the test program, so a Decoder may view it.
const std::string& Bytes(std::initializer_list<int> b) {
  static std::deque<std::string> pool;
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return pool.emplace_back(std::move(s));
}

template <typename F>
std::string Enc(F&& f) {
  Encoder e;
  f(e);
  return e.Take();
}

// ---- primitives -----------------------------------------------------------------------------------

TEST(UaBinary, Int32FromPart6) {
  // Part 6 §5.2.2.2: 1 000 000 000 (0x3B9ACA00) is 00 CA 9A 3B.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { e.Int32(1000000000); })), "00 CA 9A 3B");
  Decoder d(Bytes({0x00, 0xCA, 0x9A, 0x3B}));
  int32_t v = 0;
  ASSERT_TRUE(d.Int32(&v).ok());
  EXPECT_EQ(v, 1000000000);
}

TEST(UaBinary, FloatFromPart6) {
  // Part 6 §5.2.2.3: -6.5 is 00 00 D0 C0.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { e.Float(-6.5f); })), "00 00 D0 C0");
  // IEEE 754: 1.0 = 0x3FF0000000000000.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { e.Double(1.0); })), "00 00 00 00 00 00 F0 3F");
}

TEST(UaBinary, StringFromPart6) {
  // Part 6 §5.2.2.4: "水Boy" is 06 00 00 00 E6 B0 B4 42 6F 79.
  std::string s = "\xE6\xB0\xB4" "Boy";
  EXPECT_EQ(Hex(Enc([&](Encoder& e) { e.String(s); })), "06 00 00 00 E6 B0 B4 42 6F 79");
  Decoder d(Bytes({0x06, 0, 0, 0, 0xE6, 0xB0, 0xB4, 0x42, 0x6F, 0x79}));
  std::string out;
  ASSERT_TRUE(d.String(&out).ok());
  EXPECT_EQ(out, s);
  EXPECT_TRUE(d.AtEnd());
  // Null string: length -1.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { e.String(""); })), "FF FF FF FF");
}

TEST(UaBinary, TruncatedScalarSaysWhereAndWhat) {
  Decoder d(Bytes({1, 2, 3}));
  uint8_t b;
  ASSERT_TRUE(d.Byte(&b).ok());
  uint32_t v;
  Status s = d.UInt32(&v);
  EXPECT_EQ(s.code(), pf::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "offset 1: truncated UInt32 (need 4 bytes, 2 left)");
}

TEST(UaBinary, StringLengthBeyondInputIsRefusedBeforeAllocating) {
  Decoder d(Bytes({0x00, 0x00, 0x00, 0x40, 'a', 'b'}));  // 1 GiB claimed, 2 bytes present
  std::string out;
  Status s = d.String(&out);
  EXPECT_EQ(s.message(), "offset 0: string length 1073741824 exceeds limit 16777216");
  Decoder d2(Bytes({0x05, 0, 0, 0, 'a', 'b'}));
  EXPECT_EQ(d2.String(&out).message(), "offset 0: string length 5 exceeds the 2 bytes left");
  Decoder d3(Bytes({0xFE, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(d3.String(&out).message(), "offset 0: negative string length -2");
}

TEST(UaBinary, ArrayLengthCappedByBytesLeft) {
  Decoder d(Bytes({0x10, 0x27, 0, 0, 1, 2, 3}));  // 10000 elements claimed
  int32_t n = 0;
  EXPECT_EQ(d.ArrayLength(&n).message(), "offset 0: array length 10000 exceeds the 3 bytes left");
}

// ---- Guid and NodeId -------------------------------------------------------------------------------

TEST(UaGuid, Part6Example) {
  // Part 6 §5.1.3: {72962B91-FA75-4AE6-8D28-B404DC7DAF63} is 91 2B 96 72 75 FA E6 4A 8D 28 B4 04 DC 7D AF 63.
  auto g = Guid::Parse("72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Hex(Enc([&](Encoder& e) { EncodeGuid(e, *g); })), "91 2B 96 72 75 FA E6 4A 8D 28 B4 04 DC 7D AF 63");
  EXPECT_EQ(g->ToString(), "72962b91-fa75-4ae6-8d28-b404dc7daf63");
  EXPECT_FALSE(Guid::Parse("72962B91-FA75-4AE6-8D28-B404DC7DAF6").ok());
  EXPECT_EQ(Guid::Parse("72962B91-FA75-4AE6-8D28-B404DC7DAFZ3").status().message(),
            "guid '72962B91-FA75-4AE6-8D28-B404DC7DAFZ3': not a hex digit at 34");
}

TEST(UaNodeId, Part6Encodings) {
  // Part 6 §5.2.2.9: two-byte i=72 -> 00 48; four-byte ns=5;i=1025 -> 01 05 01 04;
  // string ns=1;s=Hot水 -> 03 01 00 06 00 00 00 48 6F 74 E6 B0 B4.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeNodeId(e, NodeId::Numeric(0, 72)); })), "00 48");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeNodeId(e, NodeId::Numeric(5, 1025)); })), "01 05 01 04");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeNodeId(e, NodeId::String(1, "Hot\xE6\xB0\xB4")); })),
            "03 01 00 06 00 00 00 48 6F 74 E6 B0 B4");
  // Full numeric form when the id or namespace does not fit the short forms.
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeNodeId(e, NodeId::Numeric(2, 70000)); })), "02 02 00 70 11 01 00");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeNodeId(e, NodeId::Numeric(300, 5)); })), "02 2C 01 05 00 00 00");

  for (const std::string& bytes : {Bytes({0x00, 0x48}), Bytes({0x01, 0x05, 0x01, 0x04}),
                                   Bytes({0x02, 0x02, 0x00, 0x70, 0x11, 0x01, 0x00})}) {
    Decoder d(bytes);
    NodeId id;
    ASSERT_TRUE(DecodeNodeId(d, &id).ok());
    EXPECT_TRUE(d.AtEnd());
    EXPECT_EQ(Hex(Enc([&](Encoder& e) { EncodeNodeId(e, id); })), Hex(bytes));
  }
}

TEST(UaNodeId, MalformedEncodingByte) {
  Decoder d(Bytes({0x07, 0x00}));
  NodeId id;
  EXPECT_EQ(DecodeNodeId(d, &id).message(), "offset 0: unknown NodeId encoding 0x07");
  Decoder d2(Bytes({0x03, 0x01, 0x00, 0x09, 0, 0, 0, 'x'}));
  EXPECT_EQ(DecodeNodeId(d2, &id).message(), "offset 3: string length 9 exceeds the 1 bytes left");
}

TEST(UaNodeId, StringForms) {
  auto a = ParseNodeId("ns=2;s=Line1.Temperature");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ns, 2);
  EXPECT_EQ(a->type, IdType::kString);
  EXPECT_EQ(a->text, "Line1.Temperature");
  EXPECT_EQ(a->ToString(), "ns=2;s=Line1.Temperature");

  auto b = ParseNodeId("i=85");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, NodeId::Numeric(0, 85));
  EXPECT_EQ(b->ToString(), "i=85");

  auto c = ParseExpandedNodeId("nsu=urn:plant:line1;s=x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->namespace_uri, "urn:plant:line1");
  EXPECT_EQ(c->node.text, "x");
  EXPECT_EQ(c->ToString(), "nsu=urn:plant:line1;s=x");
  EXPECT_EQ(ParseNodeId("nsu=urn:plant:line1;s=x").status().message(),
            "node id 'nsu=urn:plant:line1;s=x': nsu=/svr= need an expanded node id");

  auto g = ParseNodeId("ns=1;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->type, IdType::kGuid);
  EXPECT_EQ(g->guid.data1, 0x72962B91u);
  EXPECT_EQ(g->ToString(), "ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63");

  // "b=" is base64: "TWFu" = "Man" (RFC 4648 example).
  auto o = ParseNodeId("ns=3;b=TWFu");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->type, IdType::kOpaque);
  EXPECT_EQ(o->text, "Man");
  EXPECT_EQ(o->ToString(), "ns=3;b=TWFu");
  EXPECT_EQ(ParseNodeId("b=TWE=")->text, "Ma");

  EXPECT_EQ(ParseNodeId("ns=70000;i=1").status().message(),
            "node id: namespace index '70000' is not a number in 0..65535");
  EXPECT_EQ(ParseNodeId("ns=1;x=1").status().message(),
            "node id 'ns=1;x=1': unknown identifier type 'x' (expected i, s, g or b)");
  EXPECT_EQ(ParseNodeId("Line1").status().message(),
            "node id 'Line1': expected i=, s=, g= or b= at position 0");
  EXPECT_EQ(ParseNodeId("i=abc").status().message(),
            "node id: numeric identifier 'abc' is not a number in 0..4294967295");
}

TEST(UaExpandedNodeId, FlagsAndRoundTrip) {
  ExpandedNodeId x;
  x.node = NodeId::Numeric(0, 85);
  x.namespace_uri = "urn:a";
  x.server_index = 2;
  // 0x80|0x40|0x00 two-byte, id 85, uri "urn:a", server index 2.
  EXPECT_EQ(Hex(Enc([&](Encoder& e) { EncodeExpandedNodeId(e, x); })),
            "C0 55 05 00 00 00 75 72 6E 3A 61 02 00 00 00");
  std::string bytes = Enc([&](Encoder& e) { EncodeExpandedNodeId(e, x); });
  Decoder d(bytes);
  ExpandedNodeId y;
  ASSERT_TRUE(DecodeExpandedNodeId(d, &y).ok());
  EXPECT_EQ(x, y);
  EXPECT_EQ(y.ToString(), "svr=2;nsu=urn:a;i=85");
}

// ---- StatusCode, LocalizedText, DataValue, DiagnosticInfo -----------------------------------------

TEST(UaStatusCode, SeverityAndNames) {
  EXPECT_EQ(StatusCode{0}.severity(), StatusCode::Severity::kGood);
  EXPECT_EQ(StatusCode{0x408F0000}.severity(), StatusCode::Severity::kUncertain);
  EXPECT_EQ(StatusCode{0x80340000}.severity(), StatusCode::Severity::kBad);
  EXPECT_EQ(StatusCode{0x80340000}.Name(), "BadNodeIdUnknown");
  EXPECT_EQ(StatusCode{0x80340000 | 0x0400}.Name(), "BadNodeIdUnknown");  // info bits ignored
  EXPECT_EQ(StatusCode{0x40900000}.Name(), "UncertainLastUsableValue");
  EXPECT_EQ(StatusCode{0x80AB0000}.Name(), "0x80AB0000");
}

TEST(UaLocalizedText, MaskAndFields) {
  LocalizedText t{std::string("en"), std::string("Hi")};
  EXPECT_EQ(Hex(Enc([&](Encoder& e) { EncodeLocalizedText(e, t); })), "03 02 00 00 00 65 6E 02 00 00 00 48 69");
  LocalizedText only{std::nullopt, std::string("Hi")};
  EXPECT_EQ(Hex(Enc([&](Encoder& e) { EncodeLocalizedText(e, only); })), "02 02 00 00 00 48 69");
  Decoder d(Bytes({0x04}));
  LocalizedText out;
  EXPECT_EQ(DecodeLocalizedText(d, &out).message(), "offset 0: LocalizedText mask 0x04 has unknown bits");
}

TEST(UaDataValue, FieldOrderFollowsPart6) {
  // Value Int32 7, status Good-with-info, source ts 1, source ps 2, server ts 3, server ps 4.
  DataValue v;
  v.value = Variant::Scalar1(BuiltinType::kInt32, int32_t{7});
  v.status = StatusCode{0x00000400};
  v.source_timestamp = 1;
  v.source_picoseconds = 2;
  v.server_timestamp = 3;
  v.server_picoseconds = 4;
  std::string bytes = Enc([&](Encoder& e) { EncodeDataValue(e, v); });
  EXPECT_EQ(Hex(bytes),
            "3F 06 07 00 00 00 00 04 00 00 01 00 00 00 00 00 00 00 02 00 03 00 00 00 00 00 00 00 04 00");
  Decoder d(bytes);
  DataValue w;
  ASSERT_TRUE(DecodeDataValue(d, &w).ok());
  EXPECT_EQ(v, w);
}

TEST(UaDiagnosticInfo, NestedRoundTripAndDepthCap) {
  DiagnosticInfo di;
  di.symbolic_id = 1;
  di.locale = 2;
  di.localized_text = 3;
  di.additional_info = "why";
  di.inner_status_code = StatusCode{status_codes::kBadTimeout};
  di.inner = std::make_unique<DiagnosticInfo>();
  di.inner->namespace_uri = 9;
  std::string bytes = Enc([&](Encoder& e) { EncodeDiagnosticInfo(e, di); });
  // mask 0x7D; symbolic id; locale before localized text (Part 6 Table 24 order); then the inner one.
  EXPECT_EQ(Hex(bytes),
            "7D 01 00 00 00 02 00 00 00 03 00 00 00 03 00 00 00 77 68 79 00 00 0A 80 02 09 00 00 00");
  Decoder d(bytes);
  DiagnosticInfo back;
  ASSERT_TRUE(DecodeDiagnosticInfo(d, &back).ok());
  EXPECT_EQ(di, back);

  std::string deep(200, '\x40');  // 200 nested inner infos
  deep += '\x00';
  Decoder dd(deep);
  Status s = DecodeDiagnosticInfo(dd, &back);
  EXPECT_EQ(s.message(), "offset 65: nesting deeper than 64");
}

// ---- Variant -----------------------------------------------------------------------------------

TEST(UaVariant, ScalarVectors) {
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeVariant(e, Variant::Scalar1(BuiltinType::kInt32, int32_t{42})); })),
            "06 2A 00 00 00");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeVariant(e, Variant::Scalar1(BuiltinType::kBoolean, true)); })), "01 01");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeVariant(e, Variant::Scalar1(BuiltinType::kDouble, 1.0)); })),
            "0B 00 00 00 00 00 00 F0 3F");
  EXPECT_EQ(Hex(Enc([](Encoder& e) {
              EncodeVariant(e, Variant::Scalar1(BuiltinType::kString, std::string("hello")));
            })),
            "0C 05 00 00 00 68 65 6C 6C 6F");
  EXPECT_EQ(Hex(Enc([](Encoder& e) { EncodeVariant(e, Variant{}); })), "00");
}

TEST(UaVariant, MultiDimensionalArrayKeepsDimensions) {
  // 2x3 Int16 matrix: mask 0x80|0x40|4, length 6, values, dimensions [2, 3].
  std::vector<Scalar> vals;
  for (int16_t i = 1; i <= 6; ++i) vals.emplace_back(i);
  Variant m = Variant::Array(BuiltinType::kInt16, vals, {2, 3});
  std::string bytes = Enc([&](Encoder& e) { EncodeVariant(e, m); });
  EXPECT_EQ(Hex(bytes),
            "C4 06 00 00 00 01 00 02 00 03 00 04 00 05 00 06 00 02 00 00 00 02 00 00 00 03 00 00 00");
  Decoder d(bytes);
  Variant back;
  ASSERT_TRUE(DecodeVariant(d, &back).ok());
  EXPECT_EQ(back.dimensions, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(back, m);

  // Dimensions that do not multiply to the length are refused where the dimensions start.
  std::string bad = bytes;
  bad[bytes.size() - 4] = 4;  // [2, 4]
  Decoder d2(bad);
  EXPECT_EQ(DecodeVariant(d2, &back).message(), "offset 17: array dimensions multiply to 8 but the array has 6 elements");
}

// Builds one Variant of every built-in type 1..25 as a scalar and as a 2-element array and checks
// decode(encode(v)) == v.
std::vector<Variant> EveryBuiltinType() {
  std::vector<std::pair<BuiltinType, Scalar>> s = {
      {BuiltinType::kBoolean, true},
      {BuiltinType::kSByte, int8_t{-5}},
      {BuiltinType::kByte, uint8_t{250}},
      {BuiltinType::kInt16, int16_t{-30000}},
      {BuiltinType::kUInt16, uint16_t{60000}},
      {BuiltinType::kInt32, int32_t{-2000000000}},
      {BuiltinType::kUInt32, uint32_t{4000000000u}},
      {BuiltinType::kInt64, int64_t{-9000000000000000000LL}},
      {BuiltinType::kUInt64, uint64_t{18000000000000000000ULL}},
      {BuiltinType::kFloat, 3.5f},
      {BuiltinType::kDouble, -1e300},
      {BuiltinType::kString, std::string("Stra\xC3\x9F" "e")},
      {BuiltinType::kDateTime, kUnixEpochTicks},
      {BuiltinType::kGuid, *Guid::Parse("72962B91-FA75-4AE6-8D28-B404DC7DAF63")},
      {BuiltinType::kByteString, std::string("\x00\x01\xff", 3)},
      {BuiltinType::kXmlElement, std::string("<a/>")},
      {BuiltinType::kNodeId, NodeId::String(1, "Line1.Counter")},
      {BuiltinType::kExpandedNodeId, ExpandedNodeId{NodeId::Numeric(0, 2253), "urn:x", 0}},
      {BuiltinType::kStatusCode, StatusCode{status_codes::kBadNodeIdUnknown}},
      {BuiltinType::kQualifiedName, QualifiedName{1, "Counter"}},
      {BuiltinType::kLocalizedText, LocalizedText{std::string("de"), std::string("Zähler")}},
      {BuiltinType::kExtensionObject,
       ExtensionObject{NodeId::Numeric(0, 724), ExtensionObject::Encoding::kBinary, std::string("\x01\x02", 2)}},
      {BuiltinType::kDataValue, std::make_shared<DataValue>(DataValue{
                                    Variant::Scalar1(BuiltinType::kInt32, int32_t{42}), StatusCode{0}, 5, {}, {}, {}})},
      {BuiltinType::kVariant, std::make_shared<Variant>(Variant::Scalar1(BuiltinType::kDouble, 2.5))},
      {BuiltinType::kDiagnosticInfo, [] {
         DiagnosticInfo d;
         d.symbolic_id = 4;
         return d;
       }()},
  };
  std::vector<Variant> out;
  for (auto& [t, v] : s) {
    out.push_back(Variant::Scalar1(t, v));
    out.push_back(Variant::Array(t, {v, v}));
  }
  return out;
}

TEST(UaVariant, EveryBuiltinTypeRoundTrips) {
  auto all = EveryBuiltinType();
  ASSERT_EQ(all.size(), 50u);
  for (const Variant& v : all) {
    std::string bytes = Enc([&](Encoder& e) { EncodeVariant(e, v); });
    if (const char* dir = std::getenv("PF_OPCUA_SEED_DIR")) {  // fuzz seeds, off by default
      std::ofstream(fmt::format("{}/variant-{}{}", dir, BuiltinTypeName(v.type), v.is_array ? "-array" : ""),
                    std::ios::binary) << bytes;
    }
    EXPECT_EQ(static_cast<uint8_t>(bytes[0]) & 0x3f, static_cast<uint8_t>(v.type));
    Decoder d(bytes);
    Variant back;
    Status s = DecodeVariant(d, &back);
    ASSERT_TRUE(s.ok()) << BuiltinTypeName(v.type) << ": " << s.ToString();
    EXPECT_TRUE(d.AtEnd()) << BuiltinTypeName(v.type);
    EXPECT_EQ(back, v) << BuiltinTypeName(v.type) << (v.is_array ? "[]" : "");
    // Every proper prefix fails with an offset, never crashes.
    for (size_t n = 0; n < bytes.size(); ++n) {
      Decoder t(std::string_view(bytes).substr(0, n));
      Variant x;
      Status ts = DecodeVariant(t, &x);
      ASSERT_FALSE(ts.ok()) << BuiltinTypeName(v.type) << " prefix " << n;
      EXPECT_EQ(ts.message().rfind("offset ", 0), 0u) << ts.message();
    }
  }
}

TEST(UaVariant, MalformedMasks) {
  Variant v;
  Decoder d(Bytes({0x1A}));  // type 26 does not exist
  EXPECT_EQ(DecodeVariant(d, &v).message(), "offset 0: Variant of unknown built-in type 26");
  Decoder d2(Bytes({0x46, 1, 0, 0, 0}));  // dimensions flag without the array flag
  EXPECT_EQ(DecodeVariant(d2, &v).message(),
            "offset 0: Variant mask 0x46: array dimensions without the array flag");
  Decoder d3(Bytes({0x86, 0xFF, 0xFF, 0xFF, 0x7F}));  // Int32 array of 2^31-1 elements
  EXPECT_EQ(DecodeVariant(d3, &v).message(), "offset 1: Int32: array length 2147483647 exceeds limit 1048576");
  Decoder d4(Bytes({0x86, 0x02, 0, 0, 0, 1, 0, 0, 0, 2, 0}));  // second element cut short
  EXPECT_EQ(DecodeVariant(d4, &v).message(), "offset 9: Int32[1]: truncated Int32 (need 4 bytes, 2 left)");
  // Variant nested in Variant 100 deep: the depth cap answers, not the stack.
  std::string deep(100, '\x98');  // 0x80|24: array of Variant
  std::string nest;
  for (int i = 0; i < 100; ++i) nest += std::string("\x98\x01\x00\x00\x00", 5);
  nest += '\x00';
  Decoder d5(nest);
  Status s = DecodeVariant(d5, &v);
  EXPECT_NE(s.message().find("nesting deeper than 64"), std::string::npos) << s.message();
}

TEST(UaDateTime, UnixEpoch) {
  // 1970-01-01 is 11644473600 s after 1601-01-01 (369 years, 89 leap days).
  EXPECT_EQ(kUnixEpochTicks, (369LL * 365 + 89) * 86400 * 10000000);
  EXPECT_EQ(TicksToUnixNanos(kUnixEpochTicks + 15), 1500);
  EXPECT_EQ(UnixNanosToTicks(1700000000000000000LL), kUnixEpochTicks + 17000000000000000LL);
}

}  // namespace
}  // namespace pf::opcua
