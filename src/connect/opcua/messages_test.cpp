// UA TCP and service messages: byte layouts assembled by hand from OPC 10000-6 §7.1.2 (Hello,
// Acknowledge, Error) and §6.7.2 (chunk headers), encoding ids from the standard NodeIds.csv,
// round trips of every service structure, and precise errors for truncated or malformed bodies.
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <fstream>

#include "connect/opcua/messages.h"

namespace pf::opcua {
namespace {

std::string Hex(std::string_view s) {
  std::string out;
  for (char c : s) out += fmt::format("{:02X} ", static_cast<uint8_t>(c));
  if (!out.empty()) out.pop_back();
  return out;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

// PF_OPCUA_SEED_DIR=dir: the round-trip bodies are also written there (the fuzz seed corpus,
// fuzz/corpus/fuzz_opcua_decode/). Off by default.
void MaybeWriteSeed(std::string_view name, std::string_view bytes) {
  const char* dir = std::getenv("PF_OPCUA_SEED_DIR");
  if (dir == nullptr) return;
  std::ofstream(fmt::format("{}/{}", dir, name), std::ios::binary) << bytes;
}

TEST(UaTransport, HelloLayout) {
  Hello h;
  h.endpoint_url = "opc.tcp://h:4840";
  std::string m = EncodeHello(h);
  MaybeWriteSeed("hello", m);
  // "HELF", size 48, version 0, receive 65536, send 65536, max message 0, max chunks 0, url (16 bytes).
  EXPECT_EQ(Hex(m.substr(0, 32)),
            "48 45 4C 46 30 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00 00 10 00 00 00");
  EXPECT_EQ(m.substr(32), "opc.tcp://h:4840");
  auto back = DecodeHello(m);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->endpoint_url, h.endpoint_url);
  EXPECT_EQ(back->receive_buffer_size, 65536u);
}

TEST(UaTransport, AcknowledgeAndError) {
  std::string ack = FromHex("41 43 4B 46 1C 00 00 00 00 00 00 00 00 00 01 00 00 20 00 00 00 00 00 01 00 01 00 00");
  auto a = DecodeAcknowledge(ack);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->receive_buffer_size, 65536u);
  EXPECT_EQ(a->send_buffer_size, 8192u);
  EXPECT_EQ(a->max_message_size, 16777216u);
  EXPECT_EQ(a->max_chunk_count, 256u);
  EXPECT_EQ(EncodeAcknowledge(*a), ack);

  std::string err = FromHex("45 52 52 46 13 00 00 00 00 00 7E 80 03 00 00 00 62 61 64");
  auto e = DecodeTransportError(err);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->error.Name(), "BadTcpMessageTypeInvalid");
  EXPECT_EQ(e->reason, "bad");

  EXPECT_EQ(DecodeAcknowledge(err).status().message(), "offset 0: expected ACK message, got ERR");
  EXPECT_EQ(DecodeAcknowledge(ack.substr(0, 20)).status().message(), "offset 4: message size 28 but 20 bytes given");
  std::string trailing = ack + "x";
  trailing[4] = 29;
  EXPECT_EQ(DecodeAcknowledge(trailing).status().message(), "offset 28: Acknowledge: 1 trailing bytes");
  EXPECT_EQ(DecodeTransportHeader(std::string("XYZF\x08\0\0\0", 8)).status().message(), "offset 0: unknown message type 'XYZ'");
  EXPECT_EQ(DecodeTransportHeader(std::string("MSGX\x08\0\0\0", 8)).status().message(),
            "offset 3: chunk type 0x58 (expected F, C or A)");
}

TEST(UaSecureChannel, OpenChunkLayoutSecurityNone) {
  OpenSecureChannelRequest req;
  req.request_header.request_handle = 1;
  req.requested_lifetime = 600000;
  AsymmetricSecurityHeader sec{std::string(kSecurityPolicyNone), "", ""};
  std::string m = EncodeOpenChunk(0, sec, SequenceHeader{51, 1}, EncodeServiceBody(req));
  // "OPNF", size, channel 0, policy URI (47 bytes), null cert, null thumbprint, seq 51, request 1,
  // then the body: four-byte NodeId 446 = 01 00 BE 01.
  EXPECT_EQ(Hex(m.substr(0, 4)), "4F 50 4E 46");
  EXPECT_EQ(m.size(), static_cast<size_t>(static_cast<uint8_t>(m[4]) | (static_cast<uint8_t>(m[5]) << 8)));
  EXPECT_EQ(Hex(m.substr(8, 8)), "00 00 00 00 2F 00 00 00");
  EXPECT_EQ(m.substr(16, 47), kSecurityPolicyNone);
  EXPECT_EQ(Hex(m.substr(63, 20)), "FF FF FF FF FF FF FF FF 33 00 00 00 01 00 00 00 01 00 BE 01");

  auto chunk = DecodeSecureChunk(m);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  ASSERT_TRUE(chunk->asymmetric.has_value());
  EXPECT_EQ(chunk->asymmetric->security_policy_uri, kSecurityPolicyNone);
  SequenceHeader seq;
  std::string_view body;
  ASSERT_TRUE(SplitPlainChunk(*chunk, &seq, &body).ok());
  EXPECT_EQ(seq.sequence_number, 51u);
  EXPECT_EQ(seq.request_id, 1u);
  auto back = DecodeServiceBody<OpenSecureChannelRequest>(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->requested_lifetime, 600000u);
  EXPECT_EQ(back->security_mode, MessageSecurityMode::kNone);
}

TEST(UaSecureChannel, SymmetricChunkLayout) {
  std::string m = EncodeSymmetricChunk("MSG", 7, 3, SequenceHeader{52, 2}, "\x01\x02");
  EXPECT_EQ(Hex(m), "4D 53 47 46 1A 00 00 00 07 00 00 00 03 00 00 00 34 00 00 00 02 00 00 00 01 02");
  auto c = DecodeSecureChunk(m);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->secure_channel_id, 7u);
  EXPECT_EQ(c->token_id, 3u);
  EXPECT_EQ(c->security_header_end, 16u);
  std::string cut = m.substr(0, 14);
  cut[4] = 14;
  EXPECT_EQ(DecodeSecureChunk(cut).status().message(), "offset 12: MSG.token_id: truncated UInt32 (need 4 bytes, 2 left)");
}

TEST(UaServices, EncodingIdsFromNodeIdsCsv) {
  EXPECT_EQ(ReadRequest::kBinaryEncodingId, 631u);
  EXPECT_EQ(ReadResponse::kBinaryEncodingId, 634u);
  EXPECT_EQ(GetEndpointsRequest::kBinaryEncodingId, 428u);
  EXPECT_EQ(CreateSessionRequest::kBinaryEncodingId, 461u);
  EXPECT_EQ(ActivateSessionRequest::kBinaryEncodingId, 467u);
  EXPECT_EQ(PublishResponse::kBinaryEncodingId, 829u);
  EXPECT_EQ(ServiceFault::kBinaryEncodingId, 397u);
  // ReadRequest body: 01 00 77 02 (631), null auth token 00 00, ...
  ReadRequest r;
  EXPECT_EQ(Hex(EncodeServiceBody(r).substr(0, 6)), "01 00 77 02 00 00");
}

TEST(UaServices, UserNameTokenAsExtensionObject) {
  UserNameIdentityToken t{"user", "op", "pw", ""};
  ExtensionObject x = ToExtensionObject(t);
  Encoder e;
  EncodeExtensionObject(e, x);
  // 324 = 0x144; binary body: policy "user", name "op", password "pw", null algorithm.
  EXPECT_EQ(Hex(e.bytes()),
            "01 00 44 01 01 18 00 00 00 04 00 00 00 75 73 65 72 02 00 00 00 6F 70 02 00 00 00 70 77 FF FF FF FF");
  UserNameIdentityToken back;
  ASSERT_TRUE(FromExtensionObject(x, &back).ok());
  EXPECT_EQ(back.user_name, "op");
  AnonymousIdentityToken anon;
  EXPECT_EQ(FromExtensionObject(x, &anon).message(), "ExtensionObject i=324 is not a binary AnonymousIdentityToken");
}

TEST(UaServices, ServiceFaultBecomesStatus) {
  ServiceFault f;
  f.response_header.service_result = StatusCode{status_codes::kBadSessionIdInvalid};
  auto r = DecodeServiceBody<ReadResponse>(EncodeServiceBody(f));
  EXPECT_EQ(r.status().code(), pf::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "ReadResponse: service fault BadSessionIdInvalid (0x80250000)");
  f.response_header.service_result = StatusCode{status_codes::kBadTooManyPublishRequests};
  EXPECT_EQ(DecodeServiceBody<PublishResponse>(EncodeServiceBody(f)).status().code(), pf::StatusCode::kUnavailable);
  BrowseResponse b;
  EXPECT_EQ(DecodeServiceBody<ReadResponse>(EncodeServiceBody(b)).status().message(),
            "offset 0: expected ReadResponse (i=634), got type id i=530");
}

TEST(UaServices, TruncatedReadResponseNamesTheField) {
  ReadResponse r;
  r.results.resize(2);
  r.results[0].value = Variant::Scalar1(BuiltinType::kInt32, int32_t{42});
  r.results[1].value = Variant::Scalar1(BuiltinType::kInt32, int32_t{43});
  std::string body = EncodeServiceBody(r);
  // Drop the diagnostic array length (4 bytes) and half of the last Int32.
  std::string cut = body.substr(0, body.size() - 6);
  auto d = DecodeServiceBody<ReadResponse>(cut);
  EXPECT_EQ(d.status().message(),
            fmt::format("offset {}: ReadResponse.results[1].Value: truncated Int32 (need 4 bytes, 2 left)",
                        body.size() - 8));
  std::string extra = body + "zz";
  EXPECT_EQ(DecodeServiceBody<ReadResponse>(extra).status().message(),
            fmt::format("offset {}: 2 trailing bytes after ReadResponse", body.size()));
}

TEST(UaServices, PublishResponseWithDataChangeAndKeepAlive) {
  DataChangeNotification dcn;
  dcn.monitored_items.push_back({7, DataValue{Variant::Scalar1(BuiltinType::kDouble, 21.5), {}, 100, {}, {}, {}}});
  PublishResponse p;
  p.subscription_id = 3;
  p.available_sequence_numbers = {4, 5};
  p.notification_message.sequence_number = 5;
  p.notification_message.notification_data.push_back(ToExtensionObject(dcn));
  auto back = DecodeServiceBody<PublishResponse>(EncodeServiceBody(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->notification_message.IsKeepAlive());
  DataChangeNotification got;
  ASSERT_TRUE(FromExtensionObject(back->notification_message.notification_data[0], &got).ok());
  ASSERT_EQ(got.monitored_items.size(), 1u);
  EXPECT_EQ(got.monitored_items[0].client_handle, 7u);
  EXPECT_EQ(std::get<double>(got.monitored_items[0].value.value->values[0]), 21.5);
  EXPECT_EQ(back->available_sequence_numbers, (std::vector<uint32_t>{4, 5}));

  PublishResponse keep;
  keep.notification_message.sequence_number = 6;
  EXPECT_TRUE(DecodeServiceBody<PublishResponse>(EncodeServiceBody(keep))->notification_message.IsKeepAlive());
}

TEST(UaServices, DataChangeFilterDeadband) {
  DataChangeFilter f{DataChangeTrigger::kStatusValue, DeadbandType::kAbsolute, 0.5};
  ExtensionObject x = ToExtensionObject(f);
  // 724 = 0x2D4; body: trigger 1, deadband type 1, 0.5 = 0x3FE0000000000000.
  Encoder e;
  EncodeExtensionObject(e, x);
  EXPECT_EQ(Hex(e.bytes()), "01 00 D4 02 01 10 00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00 00 E0 3F");
}

// Every service structure: encode a filled value, decode it, re-encode: identical bytes; every
// proper prefix fails with "offset N:" and no crash.
template <typename T>
void RoundTrip(const T& v) {
  std::string body = EncodeServiceBody(v);
  MaybeWriteSeed(fmt::format("body-{}", T::kName), body);
  auto back = DecodeServiceBody<T>(body);
  ASSERT_TRUE(back.ok()) << T::kName << ": " << back.status().ToString();
  EXPECT_EQ(Hex(EncodeServiceBody(*back)), Hex(body)) << T::kName;
  auto any = DecodeAnyServiceBody(body);
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_EQ(*any, T::kName);
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = DecodeServiceBody<T>(std::string_view(body).substr(0, n));
    ASSERT_FALSE(r.ok()) << T::kName << " prefix " << n;
    EXPECT_EQ(r.status().message().rfind("offset ", 0), 0u) << r.status().message();
  }
}

RequestHeader Req() {
  RequestHeader h;
  h.authentication_token = NodeId::Numeric(1, 99999);
  h.timestamp = kUnixEpochTicks + 1;
  h.request_handle = 17;
  h.timeout_hint = 5000;
  return h;
}

ResponseHeader Resp() {
  ResponseHeader h;
  h.timestamp = kUnixEpochTicks + 2;
  h.request_handle = 17;
  h.service_result = StatusCode{status_codes::kGood};
  h.string_table = {"a", "b"};
  return h;
}

EndpointDescription Endpoint() {
  EndpointDescription e;
  e.endpoint_url = "opc.tcp://127.0.0.1:4840/UA/X";
  e.server.application_uri = "urn:x";
  e.server.application_name = LocalizedText{std::nullopt, std::string("X")};
  e.server.application_type = ApplicationType::kServer;
  e.server.discovery_urls = {"opc.tcp://127.0.0.1:4840"};
  e.server_certificate = std::string("\x30\x82\x01", 3);
  e.security_mode = MessageSecurityMode::kSignAndEncrypt;
  e.security_policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
  e.user_identity_tokens = {{"anon", UserTokenType::kAnonymous, "", "", ""},
                            {"user", UserTokenType::kUserName, "", "", "http://x#None"}};
  e.transport_profile_uri = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary";
  e.security_level = 3;
  return e;
}

TEST(UaServices, EveryServiceRoundTrips) {
  RoundTrip(OpenSecureChannelRequest{Req(), 0, SecurityTokenRequestType::kRenew,
                                     MessageSecurityMode::kSignAndEncrypt, std::string(32, 'n'), 10000});
  OpenSecureChannelResponse osr;
  osr.response_header = Resp();
  osr.security_token = {5, 6, kUnixEpochTicks, 10000};
  osr.server_nonce = std::string(32, 's');
  RoundTrip(osr);
  RoundTrip(CloseSecureChannelRequest{Req()});
  RoundTrip(CloseSecureChannelResponse{Resp()});
  RoundTrip(ServiceFault{Resp()});
  RoundTrip(GetEndpointsRequest{Req(), "opc.tcp://x", {"en"}, {"p"}});
  RoundTrip(GetEndpointsResponse{Resp(), {Endpoint(), Endpoint()}});
  CreateSessionRequest cs;
  cs.request_header = Req();
  cs.client_description.application_uri = "urn:plantfloor";
  cs.session_name = "plantfloor";
  cs.client_nonce = std::string(32, 'c');
  RoundTrip(cs);
  CreateSessionResponse csr;
  csr.response_header = Resp();
  csr.session_id = NodeId::Numeric(1, 5);
  csr.authentication_token = NodeId{0, IdType::kOpaque, 0, "tok", {}};
  csr.revised_session_timeout = 30000;
  csr.server_endpoints = {Endpoint()};
  csr.server_software_certificates = {{"c", "s"}};
  csr.server_signature = {"alg", "sig"};
  RoundTrip(csr);
  ActivateSessionRequest as;
  as.request_header = Req();
  as.locale_ids = {"en"};
  as.user_identity_token = ToExtensionObject(AnonymousIdentityToken{"anon"});
  RoundTrip(as);
  RoundTrip(ActivateSessionResponse{Resp(), "nonce", {StatusCode{0}}, {}});
  RoundTrip(CloseSessionRequest{Req(), true});
  RoundTrip(CloseSessionResponse{Resp()});
  RoundTrip(AnonymousIdentityToken{"anon"});
  RoundTrip(UserNameIdentityToken{"u", "n", "p", "alg"});
  BrowseRequest br;
  br.request_header = Req();
  br.requested_max_references_per_node = 100;
  br.nodes_to_browse = {BrowseDescription{NodeId::Numeric(0, 85)}};
  RoundTrip(br);
  BrowseResult res;
  res.continuation_point = "cp";
  res.references.push_back({NodeId::Numeric(0, 35), true, ExpandedNodeId{NodeId::String(1, "Line1"), "", 0},
                            QualifiedName{1, "Line1"}, LocalizedText{std::nullopt, std::string("Line1")},
                            NodeClass::kObject, ExpandedNodeId{NodeId::Numeric(0, 61), "", 0}});
  RoundTrip(BrowseResponse{Resp(), {res}, {}});
  RoundTrip(BrowseNextRequest{Req(), false, {"cp"}});
  RoundTrip(BrowseNextResponse{Resp(), {res}, {}});
  BrowsePath path{NodeId::Numeric(0, 85), {{{NodeId::Numeric(0, 35), false, true, QualifiedName{1, "Line1"}}}}};
  RoundTrip(TranslateBrowsePathsToNodeIdsRequest{Req(), {path}});
  RoundTrip(TranslateBrowsePathsToNodeIdsResponse{
      Resp(), {{StatusCode{0}, {{ExpandedNodeId{NodeId::String(1, "Line1"), "", 0}, 0xFFFFFFFFu}}}}, {}});
  RoundTrip(ReadRequest{Req(), 0, TimestampsToReturn::kBoth,
                        {{NodeId::String(1, "Line1.Counter"), attribute::kValue, "", {}}}});
  ReadResponse rr;
  rr.response_header = Resp();
  rr.results = {DataValue{Variant::Scalar1(BuiltinType::kInt32, int32_t{42}), StatusCode{0}, 1, 2, {}, {}}};
  DiagnosticInfo di;
  di.symbolic_id = 1;
  rr.diagnostic_infos = {di};
  RoundTrip(rr);
  RoundTrip(CreateSubscriptionRequest{Req(), 100, 600, 20, 1000, true, 5});
  RoundTrip(CreateSubscriptionResponse{Resp(), 9, 100, 600, 20});
  RoundTrip(ModifySubscriptionRequest{Req(), 9, 250, 600, 20, 0, 1});
  RoundTrip(ModifySubscriptionResponse{Resp(), 250, 600, 20});
  RoundTrip(DeleteSubscriptionsRequest{Req(), {9, 10}});
  RoundTrip(DeleteSubscriptionsResponse{Resp(), {StatusCode{0}, StatusCode{status_codes::kBadSubscriptionIdInvalid}}, {}});
  MonitoredItemCreateRequest item;
  item.item_to_monitor.node_id = NodeId::String(1, "Line1.Temperature");
  item.requested_parameters = {1, 100, ToExtensionObject(DataChangeFilter{DataChangeTrigger::kStatusValue,
                                                                          DeadbandType::kPercent, 2.0}),
                               10, true};
  RoundTrip(CreateMonitoredItemsRequest{Req(), 9, TimestampsToReturn::kSource, {item}});
  RoundTrip(CreateMonitoredItemsResponse{Resp(), {{StatusCode{0}, 1, 100, 10, {}}}, {}});
  RoundTrip(DeleteMonitoredItemsRequest{Req(), 9, {1, 2}});
  RoundTrip(DeleteMonitoredItemsResponse{Resp(), {StatusCode{0}}, {}});
  RoundTrip(DataChangeFilter{DataChangeTrigger::kStatusValueTimestamp, DeadbandType::kAbsolute, 0.25});
  RoundTrip(DataChangeNotification{{{1, DataValue{Variant::Scalar1(BuiltinType::kBoolean, true), {}, {}, {}, {}, {}}}}, {}});
  RoundTrip(StatusChangeNotification{StatusCode{status_codes::kBadTimeout}, {}});
  RoundTrip(PublishRequest{Req(), {{9, 4}, {9, 5}}});
  PublishResponse pr;
  pr.response_header = Resp();
  pr.subscription_id = 9;
  pr.available_sequence_numbers = {5};
  pr.notification_message = {5, kUnixEpochTicks, {ToExtensionObject(StatusChangeNotification{StatusCode{0}, {}})}};
  pr.results = {StatusCode{0}};
  RoundTrip(pr);
  RoundTrip(RepublishRequest{Req(), 9, 4});
  RoundTrip(RepublishResponse{Resp(), {4, kUnixEpochTicks, {}}});
  RoundTrip(TransferSubscriptionsRequest{Req(), {9}, true});
  RoundTrip(TransferSubscriptionsResponse{Resp(), {{StatusCode{0}, {4, 5}}}, {}});
}

TEST(UaServices, HugeArrayInResponseIsRefusedBeforeAllocating) {
  GetEndpointsResponse r;
  std::string body = EncodeServiceBody(r);
  // Replace the endpoints array length (the last 4 bytes) by 2^30.
  body.replace(body.size() - 4, 4, std::string("\x00\x00\x00\x40", 4));
  EXPECT_EQ(DecodeServiceBody<GetEndpointsResponse>(body).status().message(),
            fmt::format("offset {}: GetEndpointsResponse.endpoints: array length 1073741824 exceeds limit 1048576",
                        body.size() - 4));
}

}  // namespace
}  // namespace pf::opcua
