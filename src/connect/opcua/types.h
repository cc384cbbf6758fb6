#pragma once
// OPC UA built-in types (OPC 10000-6 §5.1.2, §5.2.2) with their UA Binary encodings, the NodeId
// string form of OPC 10000-6 §5.3.1.10 ("ns=2;s=Line1.Temperature", "i=85", "nsu=urn:x;s=y",
// "g=<guid>", "b=<base64>"), and StatusCode severity and names (OPC 10000-4 §7.39).
//
// Values are plain structs; Decode* functions fill them from a Decoder and report
// "offset N: <path>: <what>" on malformed input (see binary.h). Nested values (a Variant holding
// DataValues or Variants, DiagnosticInfo's inner info) are held by unique ownership.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connect/opcua/binary.h"
#include "core/status.h"

namespace pf::opcua {

struct Guid {
  uint32_t data1 = 0;
  uint16_t data2 = 0;
  uint16_t data3 = 0;
  std::array<uint8_t, 8> data4{};
  bool operator==(const Guid&) const = default;
  std::string ToString() const;  // "72962B91-FA75-4AE6-8D28-B404DC7DAF63"
  static Result<Guid> Parse(std::string_view s);
};

enum class IdType : uint8_t { kNumeric = 0, kString = 1, kGuid = 2, kOpaque = 3 };

struct NodeId {
  uint16_t ns = 0;
  IdType type = IdType::kNumeric;
  uint32_t numeric = 0;
  std::string text;  // kString: the string; kOpaque: the bytes
  Guid guid;

  static NodeId Numeric(uint16_t ns, uint32_t id) { return NodeId{ns, IdType::kNumeric, id, {}, {}}; }
  static NodeId String(uint16_t ns, std::string s) { return NodeId{ns, IdType::kString, 0, std::move(s), {}}; }
  bool IsNull() const { return ns == 0 && type == IdType::kNumeric && numeric == 0; }
  bool operator==(const NodeId&) const = default;
  std::string ToString() const;  // "ns=2;s=x", "i=85" (ns=0 omitted)
};

struct ExpandedNodeId {
  NodeId node;
  std::string namespace_uri;  // when set, it replaces node.ns (the server maps it to an index)
  uint32_t server_index = 0;
  bool operator==(const ExpandedNodeId&) const = default;
  std::string ToString() const;  // "nsu=urn:x;s=y" or the NodeId form; "svr=1;" prefix when set
};

// Parses the string form; "nsu=" is kept as namespace_uri (resolved later against the server's
// NamespaceArray). Errors name the position and what was expected.
Result<ExpandedNodeId> ParseExpandedNodeId(std::string_view s);
// As above but refuses nsu=/svr= (a plain NodeId has a namespace index).
Result<NodeId> ParseNodeId(std::string_view s);

struct QualifiedName {
  uint16_t ns = 0;
  std::string name;
  bool operator==(const QualifiedName&) const = default;
};

struct LocalizedText {
  std::optional<std::string> locale;
  std::optional<std::string> text;
  bool operator==(const LocalizedText&) const = default;
};

// A UA StatusCode: top two bits are the severity (00 good, 01 uncertain, 10/11 bad).
struct StatusCode {
  uint32_t code = 0;
  enum class Severity { kGood, kUncertain, kBad };
  Severity severity() const {
    if (code & 0x80000000u) return Severity::kBad;
    if (code & 0x40000000u) return Severity::kUncertain;
    return Severity::kGood;
  }
  bool IsGood() const { return severity() == Severity::kGood; }
  bool IsBad() const { return severity() == Severity::kBad; }
  // "BadNodeIdUnknown" for known codes (sub-code bits 0-15 ignored), else "0x80AB0000".
  std::string Name() const;
  bool operator==(const StatusCode&) const = default;
};
namespace status_codes {
constexpr uint32_t kGood = 0;
constexpr uint32_t kUncertain = 0x40000000;
constexpr uint32_t kBad = 0x80000000;
constexpr uint32_t kBadUnexpectedError = 0x80010000;
constexpr uint32_t kBadInternalError = 0x80020000;
constexpr uint32_t kBadOutOfMemory = 0x80030000;
constexpr uint32_t kBadResourceUnavailable = 0x80040000;
constexpr uint32_t kBadCommunicationError = 0x80050000;
constexpr uint32_t kBadEncodingError = 0x80060000;
constexpr uint32_t kBadDecodingError = 0x80070000;
constexpr uint32_t kBadEncodingLimitsExceeded = 0x80080000;
constexpr uint32_t kBadTimeout = 0x800A0000;
constexpr uint32_t kBadServiceUnsupported = 0x800B0000;
constexpr uint32_t kBadShutdown = 0x800C0000;
constexpr uint32_t kBadServerNotConnected = 0x800D0000;
constexpr uint32_t kBadNothingToDo = 0x800F0000;
constexpr uint32_t kBadTooManyOperations = 0x80100000;
constexpr uint32_t kBadCertificateInvalid = 0x80120000;
constexpr uint32_t kBadSecurityChecksFailed = 0x80130000;
constexpr uint32_t kBadCertificateUntrusted = 0x801A0000;
constexpr uint32_t kBadUserAccessDenied = 0x801F0000;
constexpr uint32_t kBadIdentityTokenInvalid = 0x80200000;
constexpr uint32_t kBadIdentityTokenRejected = 0x80210000;
constexpr uint32_t kBadSecureChannelIdInvalid = 0x80220000;
constexpr uint32_t kBadSessionIdInvalid = 0x80250000;
constexpr uint32_t kBadSessionClosed = 0x80260000;
constexpr uint32_t kBadSessionNotActivated = 0x80270000;
constexpr uint32_t kBadSubscriptionIdInvalid = 0x80280000;
constexpr uint32_t kBadNodeIdInvalid = 0x80330000;
constexpr uint32_t kBadNodeIdUnknown = 0x80340000;
constexpr uint32_t kBadAttributeIdInvalid = 0x80350000;
constexpr uint32_t kBadNotReadable = 0x803A0000;
constexpr uint32_t kBadMonitoredItemIdInvalid = 0x80420000;
constexpr uint32_t kBadNoSubscription = 0x80790000;
constexpr uint32_t kBadSequenceNumberUnknown = 0x807A0000;
constexpr uint32_t kBadMessageNotAvailable = 0x807B0000;
constexpr uint32_t kBadTcpMessageTypeInvalid = 0x807E0000;
constexpr uint32_t kBadTcpMessageTooLarge = 0x80800000;
constexpr uint32_t kBadSecureChannelClosed = 0x80860000;
constexpr uint32_t kBadSecureChannelTokenUnknown = 0x80870000;
constexpr uint32_t kBadNoCommunication = 0x80310000;
constexpr uint32_t kBadWaitingForInitialData = 0x80320000;
constexpr uint32_t kBadTooManySubscriptions = 0x80770000;
constexpr uint32_t kBadTooManyPublishRequests = 0x80780000;
constexpr uint32_t kUncertainLastUsableValue = 0x40900000;
constexpr uint32_t kGoodOverload = 0x002F0000;
}  // namespace status_codes

// Built-in type ids of OPC 10000-6 Table 1.
enum class BuiltinType : uint8_t {
  kNull = 0, kBoolean = 1, kSByte = 2, kByte = 3, kInt16 = 4, kUInt16 = 5, kInt32 = 6, kUInt32 = 7,
  kInt64 = 8, kUInt64 = 9, kFloat = 10, kDouble = 11, kString = 12, kDateTime = 13, kGuid = 14,
  kByteString = 15, kXmlElement = 16, kNodeId = 17, kExpandedNodeId = 18, kStatusCode = 19,
  kQualifiedName = 20, kLocalizedText = 21, kExtensionObject = 22, kDataValue = 23, kVariant = 24,
  kDiagnosticInfo = 25,
};
std::string_view BuiltinTypeName(BuiltinType t);

// Kept raw: the receiver decodes the body when it knows type_id (a binary encoding id).
struct ExtensionObject {
  enum class Encoding : uint8_t { kNone = 0, kBinary = 1, kXml = 2 };
  NodeId type_id;
  Encoding encoding = Encoding::kNone;
  std::string body;
  bool operator==(const ExtensionObject&) const = default;
};

struct DiagnosticInfo {
  std::optional<int32_t> symbolic_id, namespace_uri, locale, localized_text;
  std::optional<std::string> additional_info;
  std::optional<StatusCode> inner_status_code;
  std::unique_ptr<DiagnosticInfo> inner;
  DiagnosticInfo() = default;
  DiagnosticInfo(const DiagnosticInfo& o) { *this = o; }
  DiagnosticInfo& operator=(const DiagnosticInfo& o);
  DiagnosticInfo(DiagnosticInfo&&) = default;
  DiagnosticInfo& operator=(DiagnosticInfo&&) = default;
  bool operator==(const DiagnosticInfo& o) const;
};

struct DataValue;
struct Variant;

// One element of a Variant. DateTime is Int64 ticks (100 ns since 1601-01-01 UTC); the Variant's
// type says which of the overlapping C++ types (String/XmlElement/ByteString, Int64/DateTime) applies.
using Scalar = std::variant<std::monostate, bool, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t,
                            int64_t, uint64_t, float, double, std::string, Guid, NodeId, ExpandedNodeId,
                            StatusCode, QualifiedName, LocalizedText, ExtensionObject,
                            std::shared_ptr<DataValue>, std::shared_ptr<Variant>, DiagnosticInfo>;

struct Variant {
  BuiltinType type = BuiltinType::kNull;
  bool is_array = false;
  std::vector<Scalar> values;           // one element for a scalar, none for Null
  std::vector<int32_t> dimensions;      // multi-dimensional arrays only (row-major per Part 6)

  bool IsNull() const { return type == BuiltinType::kNull; }
  static Variant Scalar1(BuiltinType t, Scalar v) { return Variant{t, false, {std::move(v)}, {}}; }
  static Variant Array(BuiltinType t, std::vector<Scalar> v, std::vector<int32_t> dims = {}) {
    return Variant{t, true, std::move(v), std::move(dims)};
  }
  bool operator==(const Variant& o) const;
};

struct DataValue {
  std::optional<Variant> value;
  std::optional<StatusCode> status;
  std::optional<int64_t> source_timestamp, server_timestamp;  // DateTime ticks
  std::optional<uint16_t> source_picoseconds, server_picoseconds;
  bool operator==(const DataValue& o) const = default;
};

// DateTime helpers: ticks of 100 ns since 1601-01-01 UTC <-> ns since the Unix epoch.
constexpr int64_t kUnixEpochTicks = 116444736000000000LL;
inline int64_t TicksToUnixNanos(int64_t ticks) { return (ticks - kUnixEpochTicks) * 100; }
inline int64_t UnixNanosToTicks(int64_t ns) { return ns / 100 + kUnixEpochTicks; }

void EncodeGuid(Encoder& e, const Guid& v);
void EncodeNodeId(Encoder& e, const NodeId& v);
void EncodeExpandedNodeId(Encoder& e, const ExpandedNodeId& v);
void EncodeStatusCode(Encoder& e, StatusCode v);
void EncodeQualifiedName(Encoder& e, const QualifiedName& v);
void EncodeLocalizedText(Encoder& e, const LocalizedText& v);
void EncodeExtensionObject(Encoder& e, const ExtensionObject& v);
void EncodeDiagnosticInfo(Encoder& e, const DiagnosticInfo& v);
void EncodeVariant(Encoder& e, const Variant& v);
void EncodeDataValue(Encoder& e, const DataValue& v);

Status DecodeGuid(Decoder& d, Guid* v);
Status DecodeNodeId(Decoder& d, NodeId* v);
Status DecodeExpandedNodeId(Decoder& d, ExpandedNodeId* v);
Status DecodeStatusCode(Decoder& d, StatusCode* v);
Status DecodeQualifiedName(Decoder& d, QualifiedName* v);
Status DecodeLocalizedText(Decoder& d, LocalizedText* v);
Status DecodeExtensionObject(Decoder& d, ExtensionObject* v);
Status DecodeDiagnosticInfo(Decoder& d, DiagnosticInfo* v);
Status DecodeVariant(Decoder& d, Variant* v);
Status DecodeDataValue(Decoder& d, DataValue* v);

// Wraps a structure as an ExtensionObject with a binary body.
template <typename T>
ExtensionObject ToExtensionObject(const T& v) {
  Encoder body;
  v.Encode(body);
  return ExtensionObject{NodeId::Numeric(0, T::kBinaryEncodingId), ExtensionObject::Encoding::kBinary, body.Take()};
}
// Decodes an ExtensionObject's binary body as T; fails if the type id is not T's.
template <typename T>
Status FromExtensionObject(const ExtensionObject& x, T* out) {
  if (x.type_id != NodeId::Numeric(0, T::kBinaryEncodingId) || x.encoding != ExtensionObject::Encoding::kBinary) {
    return InvalidArgument("ExtensionObject {} is not a binary {}", x.type_id.ToString(), T::kName);
  }
  Decoder d(x.body);
  return out->Decode(d);
}

}  // namespace pf::opcua
