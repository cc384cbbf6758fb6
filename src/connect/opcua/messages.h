#pragma once
// UA TCP transport messages (OPC 10000-6 §7.1: Hello, Acknowledge, Error), UA Secure Conversation
// chunk headers (§6.7), and the service request/response structures of OPC 10000-4 used by the
// client, each with its DefaultBinary encoding id (the NodeIds.csv of the standard nodeset).
//
// Every structure lists its fields once with PF_UA_FIELDS (spec order); that generates Encode and
// Decode, and Decode errors name the field path: "offset 57: ReadResponse.results[1].value: ...".
// Enumerations are encoded as Int32. DateTime fields are Int64 ticks (see types.h).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "connect/opcua/binary.h"
#include "connect/opcua/types.h"
#include "core/status.h"

namespace pf::opcua {

// ---- generic field encoding ---------------------------------------------------------------------

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
void Put(Encoder& e, const T& v) {
  if constexpr (std::is_same_v<T, bool>) e.Boolean(v);
  else if constexpr (std::is_same_v<T, uint8_t>) e.Byte(v);
  else if constexpr (std::is_same_v<T, uint16_t>) e.UInt16(v);
  else if constexpr (std::is_same_v<T, uint32_t>) e.UInt32(v);
  else if constexpr (std::is_same_v<T, int32_t>) e.Int32(v);
  else if constexpr (std::is_same_v<T, int64_t>) e.Int64(v);
  else if constexpr (std::is_same_v<T, double>) e.Double(v);
  else if constexpr (std::is_enum_v<T>) e.Int32(static_cast<int32_t>(v));
  else if constexpr (std::is_same_v<T, std::string>) e.String(v);
  else if constexpr (std::is_same_v<T, NodeId>) EncodeNodeId(e, v);
  else if constexpr (std::is_same_v<T, ExpandedNodeId>) EncodeExpandedNodeId(e, v);
  else if constexpr (std::is_same_v<T, StatusCode>) EncodeStatusCode(e, v);
  else if constexpr (std::is_same_v<T, QualifiedName>) EncodeQualifiedName(e, v);
  else if constexpr (std::is_same_v<T, LocalizedText>) EncodeLocalizedText(e, v);
  else if constexpr (std::is_same_v<T, ExtensionObject>) EncodeExtensionObject(e, v);
  else if constexpr (std::is_same_v<T, DiagnosticInfo>) EncodeDiagnosticInfo(e, v);
  else if constexpr (std::is_same_v<T, DataValue>) EncodeDataValue(e, v);
  else if constexpr (std::is_same_v<T, Variant>) EncodeVariant(e, v);
  else if constexpr (IsVector<T>::value) {
    e.ArrayLength(static_cast<int32_t>(v.size()));
    for (const auto& x : v) Put(e, x);
  } else {
    v.Encode(e);
  }
}

template <typename T>
Status Get(Decoder& d, T* v) {
  if constexpr (std::is_same_v<T, bool>) return d.Boolean(v);
  else if constexpr (std::is_same_v<T, uint8_t>) return d.Byte(v);
  else if constexpr (std::is_same_v<T, uint16_t>) return d.UInt16(v);
  else if constexpr (std::is_same_v<T, uint32_t>) return d.UInt32(v);
  else if constexpr (std::is_same_v<T, int32_t>) return d.Int32(v);
  else if constexpr (std::is_same_v<T, int64_t>) return d.Int64(v);
  else if constexpr (std::is_same_v<T, double>) return d.Double(v);
  else if constexpr (std::is_enum_v<T>) {
    int32_t raw = 0;
    PF_RETURN_IF_ERROR(d.Int32(&raw));
    *v = static_cast<T>(raw);
    return Status::Ok();
  } else if constexpr (std::is_same_v<T, std::string>) return d.String(v);
  else if constexpr (std::is_same_v<T, NodeId>) return DecodeNodeId(d, v);
  else if constexpr (std::is_same_v<T, ExpandedNodeId>) return DecodeExpandedNodeId(d, v);
  else if constexpr (std::is_same_v<T, StatusCode>) return DecodeStatusCode(d, v);
  else if constexpr (std::is_same_v<T, QualifiedName>) return DecodeQualifiedName(d, v);
  else if constexpr (std::is_same_v<T, LocalizedText>) return DecodeLocalizedText(d, v);
  else if constexpr (std::is_same_v<T, ExtensionObject>) return DecodeExtensionObject(d, v);
  else if constexpr (std::is_same_v<T, DiagnosticInfo>) return DecodeDiagnosticInfo(d, v);
  else if constexpr (std::is_same_v<T, DataValue>) return DecodeDataValue(d, v);
  else if constexpr (std::is_same_v<T, Variant>) return DecodeVariant(d, v);
  else if constexpr (IsVector<T>::value) {
    int32_t n = 0;
    PF_RETURN_IF_ERROR(d.ArrayLength(&n));
    v->clear();
    v->resize(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
      Decoder::Scope item(d, "", i);
      PF_RETURN_IF_ERROR(Get(d, &(*v)[static_cast<size_t>(i)]));
    }
    return Status::Ok();
  } else {
    return v->Decode(d);
  }
}

// The i-th name of "a, b, c" (the stringized field list).
std::string_view FieldName(std::string_view names, size_t i);

template <typename... Ts>
Status DecodeFields(Decoder& d, std::string_view names, Ts&... fields) {
  Status st;
  size_t i = 0;
  auto one = [&](auto& f) {
    if (!st.ok()) return;
    Decoder::Scope scope(d, FieldName(names, i++));
    st = Get(d, &f);
  };
  (one(fields), ...);
  return st;
}

#define PF_UA_FIELDS(...)                                                            \
  void Encode(::pf::opcua::Encoder& e) const {                                       \
    [&](const auto&... f) { (::pf::opcua::Put(e, f), ...); }(__VA_ARGS__);           \
  }                                                                                  \
  ::pf::Status Decode(::pf::opcua::Decoder& d) {                                     \
    return ::pf::opcua::DecodeFields(d, #__VA_ARGS__, __VA_ARGS__);                  \
  }

// ---- UA TCP transport (OPC 10000-6 §7.1.2) -------------------------------------------------------

constexpr size_t kTransportHeaderSize = 8;

// "HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO"; chunk 'F' final, 'C' intermediate, 'A' abort.
struct TransportHeader {
  std::string type;
  char chunk = 'F';
  uint32_t size = 0;  // whole message including these 8 bytes
};
// Decodes the 8-byte header; rejects unknown types, chunk markers and sizes < 8.
Result<TransportHeader> DecodeTransportHeader(std::string_view bytes);

struct Hello {
  uint32_t protocol_version = 0;
  uint32_t receive_buffer_size = 65536;
  uint32_t send_buffer_size = 65536;
  uint32_t max_message_size = 0;  // 0 = no limit
  uint32_t max_chunk_count = 0;
  std::string endpoint_url;
  PF_UA_FIELDS(protocol_version, receive_buffer_size, send_buffer_size, max_message_size, max_chunk_count,
               endpoint_url)
};

struct Acknowledge {
  uint32_t protocol_version = 0;
  uint32_t receive_buffer_size = 0;
  uint32_t send_buffer_size = 0;
  uint32_t max_message_size = 0;
  uint32_t max_chunk_count = 0;
  PF_UA_FIELDS(protocol_version, receive_buffer_size, send_buffer_size, max_message_size, max_chunk_count)
};

struct TransportError {
  StatusCode error;
  std::string reason;
  PF_UA_FIELDS(error, reason)
};

// Whole messages with their 8-byte header.
std::string EncodeHello(const Hello& h);
std::string EncodeAcknowledge(const Acknowledge& a);
std::string EncodeTransportError(const TransportError& e);
// Decode a whole message (header included); the type must match.
Result<Hello> DecodeHello(std::string_view message);
Result<Acknowledge> DecodeAcknowledge(std::string_view message);
Result<TransportError> DecodeTransportError(std::string_view message);

// ---- UA Secure Conversation chunks (OPC 10000-6 §6.7.2) ------------------------------------------

constexpr std::string_view kSecurityPolicyNone = "http://opcfoundation.org/UA/SecurityPolicy#None";

struct AsymmetricSecurityHeader {
  std::string security_policy_uri;
  std::string sender_certificate;                // DER, empty for None
  std::string receiver_certificate_thumbprint;   // SHA-1 of the receiver's DER, empty for None
  PF_UA_FIELDS(security_policy_uri, sender_certificate, receiver_certificate_thumbprint)
};

struct SequenceHeader {
  uint32_t sequence_number = 0;
  uint32_t request_id = 0;
  PF_UA_FIELDS(sequence_number, request_id)
};

// One decoded chunk. For OPN the asymmetric header is set; for MSG/CLO token_id is.
// With security None the body is the plaintext after the sequence header; with signing or
// encryption, `secured` is everything after the security header (the crypto layer's input).
struct SecureChunk {
  TransportHeader header;
  uint32_t secure_channel_id = 0;
  std::optional<AsymmetricSecurityHeader> asymmetric;
  uint32_t token_id = 0;
  size_t security_header_end = 0;  // offset of the sequence header in the message
  std::string_view secured;        // from security_header_end to the end
};
// Decodes the header parts of an OPN/MSG/CLO message (message = whole bytes, header included).
Result<SecureChunk> DecodeSecureChunk(std::string_view message);
// For security None: splits `secured` into the sequence header and the body.
Status SplitPlainChunk(const SecureChunk& chunk, SequenceHeader* seq, std::string_view* body);

// Builds a whole OPN chunk (security None: no signature, no padding).
std::string EncodeOpenChunk(uint32_t channel_id, const AsymmetricSecurityHeader& sec, const SequenceHeader& seq,
                            std::string_view body, char chunk = 'F');
// Builds a whole MSG or CLO chunk (security None).
std::string EncodeSymmetricChunk(std::string_view type, uint32_t channel_id, uint32_t token_id,
                                 const SequenceHeader& seq, std::string_view body, char chunk = 'F');

// ---- common service parts (OPC 10000-4 §7) -------------------------------------------------------

struct RequestHeader {
  NodeId authentication_token;
  int64_t timestamp = 0;
  uint32_t request_handle = 0;
  uint32_t return_diagnostics = 0;
  std::string audit_entry_id;
  uint32_t timeout_hint = 0;  // ms
  ExtensionObject additional_header;
  PF_UA_FIELDS(authentication_token, timestamp, request_handle, return_diagnostics, audit_entry_id, timeout_hint,
               additional_header)
};

struct ResponseHeader {
  int64_t timestamp = 0;
  uint32_t request_handle = 0;
  StatusCode service_result;
  DiagnosticInfo service_diagnostics;
  std::vector<std::string> string_table;
  ExtensionObject additional_header;
  PF_UA_FIELDS(timestamp, request_handle, service_result, service_diagnostics, string_table, additional_header)
};

enum class MessageSecurityMode : int32_t { kInvalid = 0, kNone = 1, kSign = 2, kSignAndEncrypt = 3 };
enum class SecurityTokenRequestType : int32_t { kIssue = 0, kRenew = 1 };
enum class ApplicationType : int32_t { kServer = 0, kClient = 1, kClientAndServer = 2, kDiscoveryServer = 3 };
enum class UserTokenType : int32_t { kAnonymous = 0, kUserName = 1, kCertificate = 2, kIssuedToken = 3 };
enum class TimestampsToReturn : int32_t { kSource = 0, kServer = 1, kBoth = 2, kNeither = 3, kInvalid = 4 };
enum class BrowseDirection : int32_t { kForward = 0, kInverse = 1, kBoth = 2 };
enum class NodeClass : int32_t {
  kUnspecified = 0, kObject = 1, kVariable = 2, kMethod = 4, kObjectType = 8, kVariableType = 16,
  kReferenceType = 32, kDataType = 64, kView = 128,
};
enum class MonitoringMode : int32_t { kDisabled = 0, kSampling = 1, kReporting = 2 };
enum class DataChangeTrigger : int32_t { kStatus = 0, kStatusValue = 1, kStatusValueTimestamp = 2 };
enum class DeadbandType : int32_t { kNone = 0, kAbsolute = 1, kPercent = 2 };

// Attribute ids (OPC 10000-6 Annex A.1) used by the client.
namespace attribute {
constexpr uint32_t kNodeId = 1, kNodeClass = 2, kBrowseName = 3, kDisplayName = 4, kValue = 13, kDataType = 14,
                   kValueRank = 15, kArrayDimensions = 16, kAccessLevel = 17, kMinimumSamplingInterval = 19;
}

struct ApplicationDescription {
  std::string application_uri;
  std::string product_uri;
  LocalizedText application_name;
  ApplicationType application_type = ApplicationType::kClient;
  std::string gateway_server_uri;
  std::string discovery_profile_uri;
  std::vector<std::string> discovery_urls;
  PF_UA_FIELDS(application_uri, product_uri, application_name, application_type, gateway_server_uri,
               discovery_profile_uri, discovery_urls)
};

struct UserTokenPolicy {
  std::string policy_id;
  UserTokenType token_type = UserTokenType::kAnonymous;
  std::string issued_token_type;
  std::string issuer_endpoint_url;
  std::string security_policy_uri;
  PF_UA_FIELDS(policy_id, token_type, issued_token_type, issuer_endpoint_url, security_policy_uri)
};

struct EndpointDescription {
  std::string endpoint_url;
  ApplicationDescription server;
  std::string server_certificate;
  MessageSecurityMode security_mode = MessageSecurityMode::kNone;
  std::string security_policy_uri;
  std::vector<UserTokenPolicy> user_identity_tokens;
  std::string transport_profile_uri;
  uint8_t security_level = 0;
  PF_UA_FIELDS(endpoint_url, server, server_certificate, security_mode, security_policy_uri, user_identity_tokens,
               transport_profile_uri, security_level)
};

struct SignatureData {
  std::string algorithm;
  std::string signature;
  PF_UA_FIELDS(algorithm, signature)
};

struct SignedSoftwareCertificate {
  std::string certificate_data;
  std::string signature;
  PF_UA_FIELDS(certificate_data, signature)
};

// Service message declaration: kName and the DefaultBinary encoding id.
#define PF_UA_MESSAGE(Name, id)                       \
  static constexpr const char* kName = #Name;         \
  static constexpr uint32_t kBinaryEncodingId = id;

// ---- SecureChannel service set ----

struct ChannelSecurityToken {
  uint32_t channel_id = 0;
  uint32_t token_id = 0;
  int64_t created_at = 0;
  uint32_t revised_lifetime = 0;  // ms
  PF_UA_FIELDS(channel_id, token_id, created_at, revised_lifetime)
};

struct OpenSecureChannelRequest {
  PF_UA_MESSAGE(OpenSecureChannelRequest, 446)
  RequestHeader request_header;
  uint32_t client_protocol_version = 0;
  SecurityTokenRequestType request_type = SecurityTokenRequestType::kIssue;
  MessageSecurityMode security_mode = MessageSecurityMode::kNone;
  std::string client_nonce;
  uint32_t requested_lifetime = 3600000;  // ms
  PF_UA_FIELDS(request_header, client_protocol_version, request_type, security_mode, client_nonce, requested_lifetime)
};

struct OpenSecureChannelResponse {
  PF_UA_MESSAGE(OpenSecureChannelResponse, 449)
  ResponseHeader response_header;
  uint32_t server_protocol_version = 0;
  ChannelSecurityToken security_token;
  std::string server_nonce;
  PF_UA_FIELDS(response_header, server_protocol_version, security_token, server_nonce)
};

struct CloseSecureChannelRequest {
  PF_UA_MESSAGE(CloseSecureChannelRequest, 452)
  RequestHeader request_header;
  PF_UA_FIELDS(request_header)
};

struct CloseSecureChannelResponse {
  PF_UA_MESSAGE(CloseSecureChannelResponse, 455)
  ResponseHeader response_header;
  PF_UA_FIELDS(response_header)
};

struct ServiceFault {
  PF_UA_MESSAGE(ServiceFault, 397)
  ResponseHeader response_header;
  PF_UA_FIELDS(response_header)
};

// ---- Discovery ----

struct GetEndpointsRequest {
  PF_UA_MESSAGE(GetEndpointsRequest, 428)
  RequestHeader request_header;
  std::string endpoint_url;
  std::vector<std::string> locale_ids;
  std::vector<std::string> profile_uris;
  PF_UA_FIELDS(request_header, endpoint_url, locale_ids, profile_uris)
};

struct GetEndpointsResponse {
  PF_UA_MESSAGE(GetEndpointsResponse, 431)
  ResponseHeader response_header;
  std::vector<EndpointDescription> endpoints;
  PF_UA_FIELDS(response_header, endpoints)
};

// ---- Session ----

struct CreateSessionRequest {
  PF_UA_MESSAGE(CreateSessionRequest, 461)
  RequestHeader request_header;
  ApplicationDescription client_description;
  std::string server_uri;
  std::string endpoint_url;
  std::string session_name;
  std::string client_nonce;
  std::string client_certificate;
  double requested_session_timeout = 60000;  // ms
  uint32_t max_response_message_size = 0;
  PF_UA_FIELDS(request_header, client_description, server_uri, endpoint_url, session_name, client_nonce,
               client_certificate, requested_session_timeout, max_response_message_size)
};

struct CreateSessionResponse {
  PF_UA_MESSAGE(CreateSessionResponse, 464)
  ResponseHeader response_header;
  NodeId session_id;
  NodeId authentication_token;
  double revised_session_timeout = 0;
  std::string server_nonce;
  std::string server_certificate;
  std::vector<EndpointDescription> server_endpoints;
  std::vector<SignedSoftwareCertificate> server_software_certificates;
  SignatureData server_signature;
  uint32_t max_request_message_size = 0;
  PF_UA_FIELDS(response_header, session_id, authentication_token, revised_session_timeout, server_nonce,
               server_certificate, server_endpoints, server_software_certificates, server_signature,
               max_request_message_size)
};

struct AnonymousIdentityToken {
  PF_UA_MESSAGE(AnonymousIdentityToken, 321)
  std::string policy_id;
  PF_UA_FIELDS(policy_id)
};

struct UserNameIdentityToken {
  PF_UA_MESSAGE(UserNameIdentityToken, 324)
  std::string policy_id;
  std::string user_name;
  std::string password;              // plain for None; encrypted secret otherwise
  std::string encryption_algorithm;  // empty for a plain password
  PF_UA_FIELDS(policy_id, user_name, password, encryption_algorithm)
};

struct ActivateSessionRequest {
  PF_UA_MESSAGE(ActivateSessionRequest, 467)
  RequestHeader request_header;
  SignatureData client_signature;
  std::vector<SignedSoftwareCertificate> client_software_certificates;
  std::vector<std::string> locale_ids;
  ExtensionObject user_identity_token;  // ToExtensionObject(AnonymousIdentityToken{...}) etc.
  SignatureData user_token_signature;
  PF_UA_FIELDS(request_header, client_signature, client_software_certificates, locale_ids, user_identity_token,
               user_token_signature)
};

struct ActivateSessionResponse {
  PF_UA_MESSAGE(ActivateSessionResponse, 470)
  ResponseHeader response_header;
  std::string server_nonce;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, server_nonce, results, diagnostic_infos)
};

struct CloseSessionRequest {
  PF_UA_MESSAGE(CloseSessionRequest, 473)
  RequestHeader request_header;
  bool delete_subscriptions = true;
  PF_UA_FIELDS(request_header, delete_subscriptions)
};

struct CloseSessionResponse {
  PF_UA_MESSAGE(CloseSessionResponse, 476)
  ResponseHeader response_header;
  PF_UA_FIELDS(response_header)
};

// ---- View ----

struct ViewDescription {
  NodeId view_id;
  int64_t timestamp = 0;
  uint32_t view_version = 0;
  PF_UA_FIELDS(view_id, timestamp, view_version)
};

struct BrowseDescription {
  NodeId node_id;
  BrowseDirection browse_direction = BrowseDirection::kForward;
  NodeId reference_type_id = NodeId::Numeric(0, 33);  // HierarchicalReferences
  bool include_subtypes = true;
  uint32_t node_class_mask = 0;
  uint32_t result_mask = 0x3f;  // all fields
  PF_UA_FIELDS(node_id, browse_direction, reference_type_id, include_subtypes, node_class_mask, result_mask)
};

struct ReferenceDescription {
  NodeId reference_type_id;
  bool is_forward = true;
  ExpandedNodeId node_id;
  QualifiedName browse_name;
  LocalizedText display_name;
  NodeClass node_class = NodeClass::kUnspecified;
  ExpandedNodeId type_definition;
  PF_UA_FIELDS(reference_type_id, is_forward, node_id, browse_name, display_name, node_class, type_definition)
};

struct BrowseResult {
  StatusCode status_code;
  std::string continuation_point;
  std::vector<ReferenceDescription> references;
  PF_UA_FIELDS(status_code, continuation_point, references)
};

struct BrowseRequest {
  PF_UA_MESSAGE(BrowseRequest, 527)
  RequestHeader request_header;
  ViewDescription view;
  uint32_t requested_max_references_per_node = 0;
  std::vector<BrowseDescription> nodes_to_browse;
  PF_UA_FIELDS(request_header, view, requested_max_references_per_node, nodes_to_browse)
};

struct BrowseResponse {
  PF_UA_MESSAGE(BrowseResponse, 530)
  ResponseHeader response_header;
  std::vector<BrowseResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

struct BrowseNextRequest {
  PF_UA_MESSAGE(BrowseNextRequest, 533)
  RequestHeader request_header;
  bool release_continuation_points = false;
  std::vector<std::string> continuation_points;
  PF_UA_FIELDS(request_header, release_continuation_points, continuation_points)
};

struct BrowseNextResponse {
  PF_UA_MESSAGE(BrowseNextResponse, 536)
  ResponseHeader response_header;
  std::vector<BrowseResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

struct RelativePathElement {
  NodeId reference_type_id = NodeId::Numeric(0, 33);
  bool is_inverse = false;
  bool include_subtypes = true;
  QualifiedName target_name;
  PF_UA_FIELDS(reference_type_id, is_inverse, include_subtypes, target_name)
};

struct RelativePath {
  std::vector<RelativePathElement> elements;
  PF_UA_FIELDS(elements)
};

struct BrowsePath {
  NodeId starting_node;
  RelativePath relative_path;
  PF_UA_FIELDS(starting_node, relative_path)
};

struct BrowsePathTarget {
  ExpandedNodeId target_id;
  uint32_t remaining_path_index = 0xFFFFFFFFu;
  PF_UA_FIELDS(target_id, remaining_path_index)
};

struct BrowsePathResult {
  StatusCode status_code;
  std::vector<BrowsePathTarget> targets;
  PF_UA_FIELDS(status_code, targets)
};

struct TranslateBrowsePathsToNodeIdsRequest {
  PF_UA_MESSAGE(TranslateBrowsePathsToNodeIdsRequest, 554)
  RequestHeader request_header;
  std::vector<BrowsePath> browse_paths;
  PF_UA_FIELDS(request_header, browse_paths)
};

struct TranslateBrowsePathsToNodeIdsResponse {
  PF_UA_MESSAGE(TranslateBrowsePathsToNodeIdsResponse, 557)
  ResponseHeader response_header;
  std::vector<BrowsePathResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

// ---- Attribute ----

struct ReadValueId {
  NodeId node_id;
  uint32_t attribute_id = attribute::kValue;
  std::string index_range;
  QualifiedName data_encoding;
  PF_UA_FIELDS(node_id, attribute_id, index_range, data_encoding)
};

struct ReadRequest {
  PF_UA_MESSAGE(ReadRequest, 631)
  RequestHeader request_header;
  double max_age = 0;
  TimestampsToReturn timestamps_to_return = TimestampsToReturn::kBoth;
  std::vector<ReadValueId> nodes_to_read;
  PF_UA_FIELDS(request_header, max_age, timestamps_to_return, nodes_to_read)
};

struct ReadResponse {
  PF_UA_MESSAGE(ReadResponse, 634)
  ResponseHeader response_header;
  std::vector<DataValue> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

// ---- Subscription ----

struct CreateSubscriptionRequest {
  PF_UA_MESSAGE(CreateSubscriptionRequest, 787)
  RequestHeader request_header;
  double requested_publishing_interval = 1000;  // ms
  uint32_t requested_lifetime_count = 60;
  uint32_t requested_max_keep_alive_count = 10;
  uint32_t max_notifications_per_publish = 0;
  bool publishing_enabled = true;
  uint8_t priority = 0;
  PF_UA_FIELDS(request_header, requested_publishing_interval, requested_lifetime_count,
               requested_max_keep_alive_count, max_notifications_per_publish, publishing_enabled, priority)
};

struct CreateSubscriptionResponse {
  PF_UA_MESSAGE(CreateSubscriptionResponse, 790)
  ResponseHeader response_header;
  uint32_t subscription_id = 0;
  double revised_publishing_interval = 0;
  uint32_t revised_lifetime_count = 0;
  uint32_t revised_max_keep_alive_count = 0;
  PF_UA_FIELDS(response_header, subscription_id, revised_publishing_interval, revised_lifetime_count,
               revised_max_keep_alive_count)
};

struct ModifySubscriptionRequest {
  PF_UA_MESSAGE(ModifySubscriptionRequest, 793)
  RequestHeader request_header;
  uint32_t subscription_id = 0;
  double requested_publishing_interval = 1000;
  uint32_t requested_lifetime_count = 60;
  uint32_t requested_max_keep_alive_count = 10;
  uint32_t max_notifications_per_publish = 0;
  uint8_t priority = 0;
  PF_UA_FIELDS(request_header, subscription_id, requested_publishing_interval, requested_lifetime_count,
               requested_max_keep_alive_count, max_notifications_per_publish, priority)
};

struct ModifySubscriptionResponse {
  PF_UA_MESSAGE(ModifySubscriptionResponse, 796)
  ResponseHeader response_header;
  double revised_publishing_interval = 0;
  uint32_t revised_lifetime_count = 0;
  uint32_t revised_max_keep_alive_count = 0;
  PF_UA_FIELDS(response_header, revised_publishing_interval, revised_lifetime_count, revised_max_keep_alive_count)
};

struct DeleteSubscriptionsRequest {
  PF_UA_MESSAGE(DeleteSubscriptionsRequest, 847)
  RequestHeader request_header;
  std::vector<uint32_t> subscription_ids;
  PF_UA_FIELDS(request_header, subscription_ids)
};

struct DeleteSubscriptionsResponse {
  PF_UA_MESSAGE(DeleteSubscriptionsResponse, 850)
  ResponseHeader response_header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

struct DataChangeFilter {
  PF_UA_MESSAGE(DataChangeFilter, 724)
  DataChangeTrigger trigger = DataChangeTrigger::kStatusValue;
  DeadbandType deadband_type = DeadbandType::kNone;
  double deadband_value = 0;
  PF_UA_FIELDS(trigger, deadband_type, deadband_value)
};

struct MonitoringParameters {
  uint32_t client_handle = 0;
  double sampling_interval = -1;  // -1: the publishing interval
  ExtensionObject filter;         // ToExtensionObject(DataChangeFilter{...}) or empty
  uint32_t queue_size = 1;
  bool discard_oldest = true;
  PF_UA_FIELDS(client_handle, sampling_interval, filter, queue_size, discard_oldest)
};

struct MonitoredItemCreateRequest {
  ReadValueId item_to_monitor;
  MonitoringMode monitoring_mode = MonitoringMode::kReporting;
  MonitoringParameters requested_parameters;
  PF_UA_FIELDS(item_to_monitor, monitoring_mode, requested_parameters)
};

struct MonitoredItemCreateResult {
  StatusCode status_code;
  uint32_t monitored_item_id = 0;
  double revised_sampling_interval = 0;
  uint32_t revised_queue_size = 0;
  ExtensionObject filter_result;
  PF_UA_FIELDS(status_code, monitored_item_id, revised_sampling_interval, revised_queue_size, filter_result)
};

struct CreateMonitoredItemsRequest {
  PF_UA_MESSAGE(CreateMonitoredItemsRequest, 751)
  RequestHeader request_header;
  uint32_t subscription_id = 0;
  TimestampsToReturn timestamps_to_return = TimestampsToReturn::kBoth;
  std::vector<MonitoredItemCreateRequest> items_to_create;
  PF_UA_FIELDS(request_header, subscription_id, timestamps_to_return, items_to_create)
};

struct CreateMonitoredItemsResponse {
  PF_UA_MESSAGE(CreateMonitoredItemsResponse, 754)
  ResponseHeader response_header;
  std::vector<MonitoredItemCreateResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

struct DeleteMonitoredItemsRequest {
  PF_UA_MESSAGE(DeleteMonitoredItemsRequest, 781)
  RequestHeader request_header;
  uint32_t subscription_id = 0;
  std::vector<uint32_t> monitored_item_ids;
  PF_UA_FIELDS(request_header, subscription_id, monitored_item_ids)
};

struct DeleteMonitoredItemsResponse {
  PF_UA_MESSAGE(DeleteMonitoredItemsResponse, 784)
  ResponseHeader response_header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

struct SubscriptionAcknowledgement {
  uint32_t subscription_id = 0;
  uint32_t sequence_number = 0;
  PF_UA_FIELDS(subscription_id, sequence_number)
};

// A NotificationMessage with no notification_data is a keep-alive (OPC 10000-4 §5.13.1.1).
struct NotificationMessage {
  uint32_t sequence_number = 0;
  int64_t publish_time = 0;
  std::vector<ExtensionObject> notification_data;  // DataChangeNotification / StatusChangeNotification / events
  bool IsKeepAlive() const { return notification_data.empty(); }
  PF_UA_FIELDS(sequence_number, publish_time, notification_data)
};

struct MonitoredItemNotification {
  uint32_t client_handle = 0;
  DataValue value;
  PF_UA_FIELDS(client_handle, value)
};

struct DataChangeNotification {
  PF_UA_MESSAGE(DataChangeNotification, 811)
  std::vector<MonitoredItemNotification> monitored_items;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(monitored_items, diagnostic_infos)
};

struct StatusChangeNotification {
  PF_UA_MESSAGE(StatusChangeNotification, 820)
  StatusCode status;
  DiagnosticInfo diagnostic_info;
  PF_UA_FIELDS(status, diagnostic_info)
};

struct PublishRequest {
  PF_UA_MESSAGE(PublishRequest, 826)
  RequestHeader request_header;
  std::vector<SubscriptionAcknowledgement> subscription_acknowledgements;
  PF_UA_FIELDS(request_header, subscription_acknowledgements)
};

struct PublishResponse {
  PF_UA_MESSAGE(PublishResponse, 829)
  ResponseHeader response_header;
  uint32_t subscription_id = 0;
  std::vector<uint32_t> available_sequence_numbers;
  bool more_notifications = false;
  NotificationMessage notification_message;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, subscription_id, available_sequence_numbers, more_notifications,
               notification_message, results, diagnostic_infos)
};

struct RepublishRequest {
  PF_UA_MESSAGE(RepublishRequest, 832)
  RequestHeader request_header;
  uint32_t subscription_id = 0;
  uint32_t retransmit_sequence_number = 0;
  PF_UA_FIELDS(request_header, subscription_id, retransmit_sequence_number)
};

struct RepublishResponse {
  PF_UA_MESSAGE(RepublishResponse, 835)
  ResponseHeader response_header;
  NotificationMessage notification_message;
  PF_UA_FIELDS(response_header, notification_message)
};

struct TransferResult {
  StatusCode status_code;
  std::vector<uint32_t> available_sequence_numbers;
  PF_UA_FIELDS(status_code, available_sequence_numbers)
};

struct TransferSubscriptionsRequest {
  PF_UA_MESSAGE(TransferSubscriptionsRequest, 841)
  RequestHeader request_header;
  std::vector<uint32_t> subscription_ids;
  bool send_initial_values = true;
  PF_UA_FIELDS(request_header, subscription_ids, send_initial_values)
};

struct TransferSubscriptionsResponse {
  PF_UA_MESSAGE(TransferSubscriptionsResponse, 844)
  ResponseHeader response_header;
  std::vector<TransferResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  PF_UA_FIELDS(response_header, results, diagnostic_infos)
};

// ---- service bodies ------------------------------------------------------------------------------

// A service body is the encoding-id NodeId followed by the structure (OPC 10000-6 §5.2.9 / §6.7.2).
template <typename T>
std::string EncodeServiceBody(const T& msg) {
  Encoder e;
  EncodeNodeId(e, NodeId::Numeric(0, T::kBinaryEncodingId));
  msg.Encode(e);
  return e.Take();
}

// The encoding id at the front of a service body (namespace 0, numeric), or an error.
Result<uint32_t> PeekServiceTypeId(std::string_view body);

// Decodes a body as T. A ServiceFault becomes kUnavailable/kFailedPrecondition with the status name
// ("CreateSessionResponse: service fault BadTooManySessions (0x80560000)"); a body of another type,
// trailing bytes or malformed bytes are kInvalidArgument with "offset N: ...".
Status DecodeServiceBodyInto(std::string_view body, uint32_t expected_id, const char* name,
                             const std::function<Status(Decoder&)>& decode);
template <typename T>
Result<T> DecodeServiceBody(std::string_view body) {
  T out;
  PF_RETURN_IF_ERROR(DecodeServiceBodyInto(body, T::kBinaryEncodingId, T::kName, [&](Decoder& d) {
    Decoder::Scope scope(d, T::kName);
    return out.Decode(d);
  }));
  return out;
}

// Decodes any service body whose encoding id this file knows, for the fuzzer and diagnostics;
// returns the type name.
Result<std::string> DecodeAnyServiceBody(std::string_view body);

}  // namespace pf::opcua
