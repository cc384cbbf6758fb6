#include "connect/opcua/types.h"

#include <charconv>

namespace pf::opcua {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kB64[(v >> (6 * k)) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '=') {
      ++pad;
      continue;
    }
    const char* p = std::char_traits<char>::find(kB64, 64, c);
    if (p == nullptr || pad > 0) return InvalidArgument("base64: bad character '{}' at {}", c, i);
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if ((in.size() % 4) != 0) return InvalidArgument("base64: length {} is not a multiple of 4", in.size());
  return out;
}

Result<uint64_t> ParseUnsigned(std::string_view s, uint64_t max, std::string_view what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > max) {
    return InvalidArgument("{} '{}' is not a number in 0..{}", what, s, max);
  }
  return v;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Guid::ToString() const {
  return fmt::format("{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", data1, data2, data3,
                     data4[0], data4[1], data4[2], data4[3], data4[4], data4[5], data4[6], data4[7]);
}

Result<Guid> Guid::Parse(std::string_view s) {
  if (s.size() == 38 && s.front() == '{' && s.back() == '}') s = s.substr(1, 36);
  if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') {
    return InvalidArgument("guid '{}': expected the form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s);
  }
  uint8_t b[16];
  int n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-') continue;
    int hi = HexValue(s[i]), lo = HexValue(s[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("guid '{}': not a hex digit at {}", s, hi < 0 ? i : i + 1);
    b[n++] = static_cast<uint8_t>(hi * 16 + lo);
    ++i;
  }
  Guid g;
  g.data1 = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  g.data2 = static_cast<uint16_t>((b[4] << 8) | b[5]);
  g.data3 = static_cast<uint16_t>((b[6] << 8) | b[7]);
  for (int i = 0; i < 8; ++i) g.data4[i] = b[8 + i];
  return g;
}

std::string NodeId::ToString() const {
  std::string out = ns == 0 ? "" : fmt::format("ns={};", ns);
  switch (type) {
    case IdType::kNumeric: return out + fmt::format("i={}", numeric);
    case IdType::kString: return out + "s=" + text;
    case IdType::kGuid: return out + "g=" + guid.ToString();
    case IdType::kOpaque: return out + "b=" + Base64Encode(text);
  }
  return out;
}

std::string ExpandedNodeId::ToString() const {
  std::string out = server_index == 0 ? "" : fmt::format("svr={};", server_index);
  if (namespace_uri.empty()) return out + node.ToString();
  NodeId local = node;
  local.ns = 0;
  return out + "nsu=" + namespace_uri + ";" + local.ToString();
}

Result<ExpandedNodeId> ParseExpandedNodeId(std::string_view s) {
  ExpandedNodeId out;
  std::string_view rest = s;
  auto take_prefix = [&](std::string_view key, std::string_view* value) {
    if (rest.substr(0, key.size()) != key) return false;
    size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return false;
    *value = rest.substr(key.size(), semi - key.size());
    rest = rest.substr(semi + 1);
    return true;
  };
  std::string_view v;
  if (take_prefix("svr=", &v)) {
    PF_ASSIGN_OR_RETURN(uint64_t svr, ParseUnsigned(v, UINT32_MAX, "node id: server index"));
    out.server_index = static_cast<uint32_t>(svr);
  }
  if (take_prefix("nsu=", &v)) {
    if (v.empty()) return InvalidArgument("node id '{}': empty namespace URI after nsu=", s);
    out.namespace_uri = std::string(v);
  } else if (take_prefix("ns=", &v)) {
    PF_ASSIGN_OR_RETURN(uint64_t ns, ParseUnsigned(v, UINT16_MAX, "node id: namespace index"));
    out.node.ns = static_cast<uint16_t>(ns);
  }
  if (rest.size() < 2 || rest[1] != '=') {
    return InvalidArgument("node id '{}': expected i=, s=, g= or b= at position {}", s, s.size() - rest.size());
  }
  std::string_view id = rest.substr(2);
  switch (rest[0]) {
    case 'i': {
      PF_ASSIGN_OR_RETURN(uint64_t n, ParseUnsigned(id, UINT32_MAX, "node id: numeric identifier"));
      out.node.type = IdType::kNumeric;
      out.node.numeric = static_cast<uint32_t>(n);
      break;
    }
    case 's':
      if (id.empty()) return InvalidArgument("node id '{}': empty string identifier", s);
      out.node.type = IdType::kString;
      out.node.text = std::string(id);
      break;
    case 'g': {
      PF_ASSIGN_OR_RETURN(out.node.guid, Guid::Parse(id));
      out.node.type = IdType::kGuid;
      break;
    }
    case 'b': {
      auto bytes = Base64Decode(id);
      if (!bytes.ok()) return bytes.status().WithContext(fmt::format("node id '{}'", s));
      out.node.type = IdType::kOpaque;
      out.node.text = std::move(bytes).value();
      break;
    }
    default:
      return InvalidArgument("node id '{}': unknown identifier type '{}' (expected i, s, g or b)", s, rest[0]);
  }
  return out;
}

Result<NodeId> ParseNodeId(std::string_view s) {
  PF_ASSIGN_OR_RETURN(ExpandedNodeId x, ParseExpandedNodeId(s));
  if (!x.namespace_uri.empty() || x.server_index != 0) {
    return InvalidArgument("node id '{}': nsu=/svr= need an expanded node id", s);
  }
  return x.node;
}

std::string StatusCode::Name() const {
  struct Entry {
    uint32_t code;
    const char* name;
  };
  using namespace status_codes;
  static constexpr Entry kNames[] = {
      {kGood, "Good"}, {kUncertain, "Uncertain"}, {kBad, "Bad"},
      {kBadUnexpectedError, "BadUnexpectedError"}, {kBadInternalError, "BadInternalError"},
      {kBadOutOfMemory, "BadOutOfMemory"}, {kBadResourceUnavailable, "BadResourceUnavailable"},
      {kBadCommunicationError, "BadCommunicationError"}, {kBadEncodingError, "BadEncodingError"},
      {kBadDecodingError, "BadDecodingError"}, {kBadEncodingLimitsExceeded, "BadEncodingLimitsExceeded"},
      {kBadTimeout, "BadTimeout"}, {kBadServiceUnsupported, "BadServiceUnsupported"},
      {kBadShutdown, "BadShutdown"}, {kBadServerNotConnected, "BadServerNotConnected"},
      {kBadNothingToDo, "BadNothingToDo"}, {kBadTooManyOperations, "BadTooManyOperations"},
      {kBadCertificateInvalid, "BadCertificateInvalid"}, {kBadSecurityChecksFailed, "BadSecurityChecksFailed"},
      {kBadCertificateUntrusted, "BadCertificateUntrusted"}, {kBadUserAccessDenied, "BadUserAccessDenied"},
      {kBadIdentityTokenInvalid, "BadIdentityTokenInvalid"}, {kBadIdentityTokenRejected, "BadIdentityTokenRejected"},
      {kBadSecureChannelIdInvalid, "BadSecureChannelIdInvalid"}, {kBadSessionIdInvalid, "BadSessionIdInvalid"},
      {kBadSessionClosed, "BadSessionClosed"}, {kBadSessionNotActivated, "BadSessionNotActivated"},
      {kBadSubscriptionIdInvalid, "BadSubscriptionIdInvalid"}, {kBadNodeIdInvalid, "BadNodeIdInvalid"},
      {kBadNodeIdUnknown, "BadNodeIdUnknown"}, {kBadAttributeIdInvalid, "BadAttributeIdInvalid"},
      {kBadNotReadable, "BadNotReadable"}, {kBadMonitoredItemIdInvalid, "BadMonitoredItemIdInvalid"},
      {kBadNoSubscription, "BadNoSubscription"}, {kBadSequenceNumberUnknown, "BadSequenceNumberUnknown"},
      {kBadMessageNotAvailable, "BadMessageNotAvailable"}, {kBadTcpMessageTypeInvalid, "BadTcpMessageTypeInvalid"},
      {kBadTcpMessageTooLarge, "BadTcpMessageTooLarge"}, {kBadSecureChannelClosed, "BadSecureChannelClosed"},
      {kBadSecureChannelTokenUnknown, "BadSecureChannelTokenUnknown"}, {kBadNoCommunication, "BadNoCommunication"},
      {kBadWaitingForInitialData, "BadWaitingForInitialData"}, {kBadTooManySubscriptions, "BadTooManySubscriptions"},
      {kBadTooManyPublishRequests, "BadTooManyPublishRequests"},
      {kUncertainLastUsableValue, "UncertainLastUsableValue"}, {kGoodOverload, "GoodOverload"},
  };
  uint32_t main = code & 0xFFFF0000u;
  for (const Entry& e : kNames) {
    if (e.code == main) return e.name;
  }
  return fmt::format("0x{:08X}", code);
}

std::string_view BuiltinTypeName(BuiltinType t) {
  static constexpr std::string_view kNames[] = {
      "Null", "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64",
      "UInt64", "Float", "Double", "String", "DateTime", "Guid", "ByteString", "XmlElement", "NodeId",
      "ExpandedNodeId", "StatusCode", "QualifiedName", "LocalizedText", "ExtensionObject", "DataValue",
      "Variant", "DiagnosticInfo"};
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "Unknown";
}

DiagnosticInfo& DiagnosticInfo::operator=(const DiagnosticInfo& o) {
  if (this == &o) return *this;
  symbolic_id = o.symbolic_id;
  namespace_uri = o.namespace_uri;
  locale = o.locale;
  localized_text = o.localized_text;
  additional_info = o.additional_info;
  inner_status_code = o.inner_status_code;
  inner = o.inner ? std::make_unique<DiagnosticInfo>(*o.inner) : nullptr;
  return *this;
}

bool DiagnosticInfo::operator==(const DiagnosticInfo& o) const {
  if (symbolic_id != o.symbolic_id || namespace_uri != o.namespace_uri || locale != o.locale ||
      localized_text != o.localized_text || additional_info != o.additional_info ||
      inner_status_code != o.inner_status_code || (inner == nullptr) != (o.inner == nullptr)) {
    return false;
  }
  return inner == nullptr || *inner == *o.inner;
}

namespace {
bool ScalarEqual(const Scalar& a, const Scalar& b) {
  if (a.index() != b.index()) return false;
  if (auto* p = std::get_if<std::shared_ptr<DataValue>>(&a)) {
    const auto& q = std::get<std::shared_ptr<DataValue>>(b);
    return (*p == nullptr || q == nullptr) ? *p == q : **p == *q;
  }
  if (auto* p = std::get_if<std::shared_ptr<Variant>>(&a)) {
    const auto& q = std::get<std::shared_ptr<Variant>>(b);
    return (*p == nullptr || q == nullptr) ? *p == q : **p == *q;
  }
  return a == b;
}
}  // namespace

bool Variant::operator==(const Variant& o) const {
  if (type != o.type || is_array != o.is_array || dimensions != o.dimensions || values.size() != o.values.size()) {
    return false;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!ScalarEqual(values[i], o.values[i])) return false;
  }
  return true;
}

}  // namespace pf::opcua
