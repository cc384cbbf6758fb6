#include "connect/opcua/messages.h"

namespace pf::opcua {

std::string_view FieldName(std::string_view names, size_t i) {
  size_t start = 0;
  for (size_t k = 0; k < i; ++k) {
    size_t comma = names.find(',', start);
    if (comma == std::string_view::npos) return "?";
    start = comma + 1;
  }
  size_t end = names.find(',', start);
  std::string_view n = names.substr(start, end == std::string_view::npos ? names.size() - start : end - start);
  while (!n.empty() && (n.front() == ' ' || n.front() == '\n')) n.remove_prefix(1);
  while (!n.empty() && (n.back() == ' ' || n.back() == '\n')) n.remove_suffix(1);
  return n;
}

// ---- transport ----

Result<TransportHeader> DecodeTransportHeader(std::string_view bytes) {
  if (bytes.size() < kTransportHeaderSize) {
    return InvalidArgument("offset 0: truncated message header (need 8 bytes, {} left)", bytes.size());
  }
  TransportHeader h;
  h.type = std::string(bytes.substr(0, 3));
  static constexpr std::string_view kTypes[] = {"HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO"};
  bool known = false;
  for (std::string_view t : kTypes) known = known || t == h.type;
  if (!known) {
    std::string shown;
    for (char c : h.type) shown += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", uint8_t(c));
    return InvalidArgument("offset 0: unknown message type '{}'", shown);
  }
  h.chunk = bytes[3];
  if (h.chunk != 'F' && h.chunk != 'C' && h.chunk != 'A') {
    return InvalidArgument("offset 3: chunk type 0x{:02x} (expected F, C or A)", uint8_t(h.chunk));
  }
  Decoder d(bytes.substr(4, 4), 4);
  PF_RETURN_IF_ERROR(d.UInt32(&h.size));
  if (h.size < kTransportHeaderSize) return InvalidArgument("offset 4: message size {} is below 8", h.size);
  return h;
}

namespace {

template <typename T>
std::string EncodeTransport(std::string_view type, const T& msg) {
  Encoder e;
  e.Raw(type);
  e.Raw("F");
  e.UInt32(0);
  msg.Encode(e);
  e.PatchUInt32(4, static_cast<uint32_t>(e.size()));
  return e.Take();
}

template <typename T>
Result<T> DecodeTransport(std::string_view message, std::string_view type, const char* name) {
  PF_ASSIGN_OR_RETURN(TransportHeader h, DecodeTransportHeader(message));
  if (h.type != type) return InvalidArgument("offset 0: expected {} message, got {}", type, h.type);
  if (h.size != message.size()) {
    return InvalidArgument("offset 4: message size {} but {} bytes given", h.size, message.size());
  }
  Decoder d(message.substr(kTransportHeaderSize), kTransportHeaderSize);
  Decoder::Scope scope(d, name);
  T out;
  PF_RETURN_IF_ERROR(out.Decode(d));
  if (!d.AtEnd()) return d.Fail(fmt::format("{} trailing bytes", d.remaining()));
  return out;
}

}  // namespace

std::string EncodeHello(const Hello& h) { return EncodeTransport("HEL", h); }
std::string EncodeAcknowledge(const Acknowledge& a) { return EncodeTransport("ACK", a); }
std::string EncodeTransportError(const TransportError& e) { return EncodeTransport("ERR", e); }
Result<Hello> DecodeHello(std::string_view m) { return DecodeTransport<Hello>(m, "HEL", "Hello"); }
Result<Acknowledge> DecodeAcknowledge(std::string_view m) {
  return DecodeTransport<Acknowledge>(m, "ACK", "Acknowledge");
}
Result<TransportError> DecodeTransportError(std::string_view m) {
  return DecodeTransport<TransportError>(m, "ERR", "Error");
}

// ---- secure conversation ----

Result<SecureChunk> DecodeSecureChunk(std::string_view message) {
  SecureChunk c;
  PF_ASSIGN_OR_RETURN(c.header, DecodeTransportHeader(message));
  if (c.header.type != "OPN" && c.header.type != "MSG" && c.header.type != "CLO") {
    return InvalidArgument("offset 0: {} is not a secure conversation message", c.header.type);
  }
  if (c.header.size != message.size()) {
    return InvalidArgument("offset 4: message size {} but {} bytes given", c.header.size, message.size());
  }
  Decoder d(message.substr(kTransportHeaderSize), kTransportHeaderSize);
  Decoder::Scope scope(d, c.header.type);
  {
    Decoder::Scope f(d, "secure_channel_id");
    PF_RETURN_IF_ERROR(d.UInt32(&c.secure_channel_id));
  }
  if (c.header.type == "OPN") {
    Decoder::Scope f(d, "security_header");
    PF_RETURN_IF_ERROR(c.asymmetric.emplace().Decode(d));
  } else {
    Decoder::Scope f(d, "token_id");
    PF_RETURN_IF_ERROR(d.UInt32(&c.token_id));
  }
  c.security_header_end = d.offset();
  c.secured = message.substr(c.security_header_end);
  return c;
}

Status SplitPlainChunk(const SecureChunk& chunk, SequenceHeader* seq, std::string_view* body) {
  Decoder d(chunk.secured, chunk.security_header_end);
  Decoder::Scope scope(d, chunk.header.type);
  Decoder::Scope f(d, "sequence_header");
  PF_RETURN_IF_ERROR(seq->Decode(d));
  *body = d.Rest();
  return Status::Ok();
}

std::string EncodeOpenChunk(uint32_t channel_id, const AsymmetricSecurityHeader& sec, const SequenceHeader& seq,
                            std::string_view body, char chunk) {
  Encoder e;
  e.Raw("OPN");
  e.Raw(std::string_view(&chunk, 1));
  e.UInt32(0);
  e.UInt32(channel_id);
  sec.Encode(e);
  seq.Encode(e);
  e.Raw(body);
  e.PatchUInt32(4, static_cast<uint32_t>(e.size()));
  return e.Take();
}

std::string EncodeSymmetricChunk(std::string_view type, uint32_t channel_id, uint32_t token_id,
                                 const SequenceHeader& seq, std::string_view body, char chunk) {
  Encoder e;
  e.Raw(type.substr(0, 3));
  e.Raw(std::string_view(&chunk, 1));
  e.UInt32(0);
  e.UInt32(channel_id);
  e.UInt32(token_id);
  seq.Encode(e);
  e.Raw(body);
  e.PatchUInt32(4, static_cast<uint32_t>(e.size()));
  return e.Take();
}

// ---- service bodies ----

Result<uint32_t> PeekServiceTypeId(std::string_view body) {
  Decoder d(body);
  NodeId id;
  Decoder::Scope scope(d, "type_id");
  PF_RETURN_IF_ERROR(DecodeNodeId(d, &id));
  if (id.ns != 0 || id.type != IdType::kNumeric) {
    return d.FailAt(0, fmt::format("service type id {} is not a numeric id in namespace 0", id.ToString()));
  }
  return id.numeric;
}

Status DecodeServiceBodyInto(std::string_view body, uint32_t expected_id, const char* name,
                             const std::function<Status(Decoder&)>& decode) {
  PF_ASSIGN_OR_RETURN(uint32_t id, PeekServiceTypeId(body));
  Decoder d(body);
  NodeId skip;
  PF_RETURN_IF_ERROR(DecodeNodeId(d, &skip));
  if (id == ServiceFault::kBinaryEncodingId && expected_id != id) {
    ServiceFault fault;
    {
      Decoder::Scope scope(d, "ServiceFault");
      PF_RETURN_IF_ERROR(fault.Decode(d));
    }
    StatusCode sc = fault.response_header.service_result;
    // Transient server conditions are worth a retry; everything else is a refusal.
    bool transient = sc.code == status_codes::kBadTimeout || sc.code == status_codes::kBadTooManyOperations ||
                     sc.code == status_codes::kBadResourceUnavailable || sc.code == status_codes::kBadShutdown ||
                     sc.code == status_codes::kBadServerNotConnected ||
                     sc.code == status_codes::kBadTooManyPublishRequests;
    return Status(transient ? pf::StatusCode::kUnavailable : pf::StatusCode::kFailedPrecondition,
                  fmt::format("{}: service fault {} (0x{:08X})", name, sc.Name(), sc.code));
  }
  if (id != expected_id) {
    return InvalidArgument("offset 0: expected {} (i={}), got type id i={}", name, expected_id, id);
  }
  PF_RETURN_IF_ERROR(decode(d));
  if (!d.AtEnd()) return d.Fail(fmt::format("{} trailing bytes after {}", d.remaining(), name));
  return Status::Ok();
}

namespace {
template <typename T>
Result<std::string> DecodeAs(std::string_view body) {
  auto r = DecodeServiceBody<T>(body);
  if (!r.ok()) return r.status();
  return std::string(T::kName);
}
}  // namespace

Result<std::string> DecodeAnyServiceBody(std::string_view body) {
  PF_ASSIGN_OR_RETURN(uint32_t id, PeekServiceTypeId(body));
  switch (id) {
#define PF_UA_CASE(T) \
  case T::kBinaryEncodingId: return DecodeAs<T>(body);
    PF_UA_CASE(OpenSecureChannelRequest) PF_UA_CASE(OpenSecureChannelResponse)
    PF_UA_CASE(CloseSecureChannelRequest) PF_UA_CASE(CloseSecureChannelResponse)
    PF_UA_CASE(ServiceFault)
    PF_UA_CASE(GetEndpointsRequest) PF_UA_CASE(GetEndpointsResponse)
    PF_UA_CASE(CreateSessionRequest) PF_UA_CASE(CreateSessionResponse)
    PF_UA_CASE(ActivateSessionRequest) PF_UA_CASE(ActivateSessionResponse)
    PF_UA_CASE(CloseSessionRequest) PF_UA_CASE(CloseSessionResponse)
    PF_UA_CASE(AnonymousIdentityToken) PF_UA_CASE(UserNameIdentityToken)
    PF_UA_CASE(BrowseRequest) PF_UA_CASE(BrowseResponse)
    PF_UA_CASE(BrowseNextRequest) PF_UA_CASE(BrowseNextResponse)
    PF_UA_CASE(TranslateBrowsePathsToNodeIdsRequest) PF_UA_CASE(TranslateBrowsePathsToNodeIdsResponse)
    PF_UA_CASE(ReadRequest) PF_UA_CASE(ReadResponse)
    PF_UA_CASE(CreateSubscriptionRequest) PF_UA_CASE(CreateSubscriptionResponse)
    PF_UA_CASE(ModifySubscriptionRequest) PF_UA_CASE(ModifySubscriptionResponse)
    PF_UA_CASE(DeleteSubscriptionsRequest) PF_UA_CASE(DeleteSubscriptionsResponse)
    PF_UA_CASE(CreateMonitoredItemsRequest) PF_UA_CASE(CreateMonitoredItemsResponse)
    PF_UA_CASE(DeleteMonitoredItemsRequest) PF_UA_CASE(DeleteMonitoredItemsResponse)
    PF_UA_CASE(DataChangeFilter) PF_UA_CASE(DataChangeNotification) PF_UA_CASE(StatusChangeNotification)
    PF_UA_CASE(PublishRequest) PF_UA_CASE(PublishResponse)
    PF_UA_CASE(RepublishRequest) PF_UA_CASE(RepublishResponse)
    PF_UA_CASE(TransferSubscriptionsRequest) PF_UA_CASE(TransferSubscriptionsResponse)
#undef PF_UA_CASE
    default:
      return Unimplemented("offset 0: service type id i={} is not known to this client", id);
  }
}

}  // namespace pf::opcua
