// The message layer against a real server: node-opcua (../shared/peers, `peers.sh start opcua`)
// over a plain loopback TCP socket with SecurityPolicy None. Hello/Acknowledge, OpenSecureChannel,
// GetEndpoints, CreateSession, ActivateSession (anonymous), Read of the peer's Line1 nodes, then
// CloseSession and CloseSecureChannel. Every value checked here is what the peer is documented to
// serve (README: Line1.Counter Int32 42, Line1.Label "hello"), not what plantfloor produced.
// Skips (77) when ../shared/peers is absent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "connect/opcua/messages.h"
#include "testing.h"

namespace pf::opcua {
namespace {

// A blocking loopback connection with a 10 s receive timeout; test-only transport.
class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Connection() { ::close(fd_); }
  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << "send failed";
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // One whole UA TCP message (header included), or "" on EOF/timeout. With PF_OPCUA_SEED_DIR set,
  // each received message is also saved there (real server bytes for the fuzz seed corpus).
  std::string ReceiveMessage() {
    std::string head = ReadExactly(kTransportHeaderSize);
    if (head.size() != kTransportHeaderSize) return "";
    auto h = DecodeTransportHeader(head);
    if (!h.ok() || h->size > (16u << 20)) return "";
    std::string m = head + ReadExactly(h->size - kTransportHeaderSize);
    if (const char* dir = std::getenv("PF_OPCUA_SEED_DIR")) {
      std::ofstream(fmt::format("{}/peer-{:02d}-{}", dir, ++received_, head.substr(0, 3)), std::ios::binary) << m;
    }
    return m;
  }

 private:
  std::string ReadExactly(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) return out.substr(0, got);
      got += static_cast<size_t>(r);
    }
    return out;
  }
  int fd_ = -1;
  bool connected_ = false;
  int received_ = 0;
};

// A SecurityPolicy None channel: numbers the chunks and reassembles multi-chunk responses.
class PlainChannel {
 public:
  PlainChannel(Connection& c, std::string endpoint_url) : c_(c), url_(std::move(endpoint_url)) {}

  Status Open() {
    Hello hello;
    hello.endpoint_url = url_;
    c_.Send(EncodeHello(hello));
    std::string reply = c_.ReceiveMessage();
    PF_ASSIGN_OR_RETURN(ack_, DecodeAcknowledge(reply));
    OpenSecureChannelRequest req;
    req.request_header = Header();
    req.request_type = SecurityTokenRequestType::kIssue;
    req.security_mode = MessageSecurityMode::kNone;
    req.requested_lifetime = 600000;
    AsymmetricSecurityHeader sec{std::string(kSecurityPolicyNone), "", ""};
    uint32_t request_id = ++request_id_;
    c_.Send(EncodeOpenChunk(0, sec, SequenceHeader{++sequence_, request_id}, EncodeServiceBody(req)));
    std::string m = c_.ReceiveMessage();
    PF_ASSIGN_OR_RETURN(SecureChunk chunk, DecodeSecureChunk(m));
    if (!chunk.asymmetric || chunk.asymmetric->security_policy_uri != kSecurityPolicyNone) {
      return InvalidArgument("OPN reply without the None security header");
    }
    SequenceHeader seq;
    std::string_view body;
    PF_RETURN_IF_ERROR(SplitPlainChunk(chunk, &seq, &body));
    if (seq.request_id != request_id) return InvalidArgument("OPN reply for request {}", seq.request_id);
    PF_ASSIGN_OR_RETURN(open_, DecodeServiceBody<OpenSecureChannelResponse>(body));
    channel_id_ = chunk.secure_channel_id;
    return Status::Ok();
  }

  template <typename Resp, typename Req>
  Result<Resp> Call(Req req, std::string_view type = "MSG") {
    uint32_t request_id = ++request_id_;
    c_.Send(EncodeSymmetricChunk(type, channel_id_, open_.security_token.token_id,
                                 SequenceHeader{++sequence_, request_id}, EncodeServiceBody(req)));
    std::string body;
    for (;;) {
      std::string m = c_.ReceiveMessage();
      if (m.empty()) return Unavailable("connection closed or timed out waiting for {}", Resp::kName);
      PF_ASSIGN_OR_RETURN(SecureChunk chunk, DecodeSecureChunk(m));
      SequenceHeader seq;
      std::string_view part;
      PF_RETURN_IF_ERROR(SplitPlainChunk(chunk, &seq, &part));
      if (seq.request_id != request_id) return InvalidArgument("reply for request {}, expected {}", seq.request_id, request_id);
      if (chunk.header.chunk == 'A') return Unavailable("server aborted the response");
      body.append(part);
      ++chunks_;
      if (chunk.header.chunk == 'F') break;
    }
    return DecodeServiceBody<Resp>(body);
  }

  RequestHeader Header() {
    RequestHeader h;
    h.authentication_token = auth_token_;
    h.request_handle = ++handle_;
    h.timeout_hint = 10000;
    h.timestamp = UnixNanosToTicks(static_cast<int64_t>(::time(nullptr)) * 1000000000LL);
    return h;
  }

  void Close() {
    CloseSecureChannelRequest req;
    req.request_header = Header();
    c_.Send(EncodeSymmetricChunk("CLO", channel_id_, open_.security_token.token_id,
                                 SequenceHeader{++sequence_, ++request_id_}, EncodeServiceBody(req)));
  }

  NodeId auth_token_;
  Acknowledge ack_;
  OpenSecureChannelResponse open_;
  uint32_t channel_id_ = 0;
  int chunks_ = 0;

 private:
  Connection& c_;
  std::string url_;
  uint32_t sequence_ = 0, request_id_ = 0, handle_ = 0;
};

TEST(OpcuaPeer, HelloOpenGetEndpointsSessionRead) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string url = fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", peer.port());
  Connection conn(peer.port());
  ASSERT_TRUE(conn.connected());
  PlainChannel ch(conn, url);
  Status open = ch.Open();
  ASSERT_TRUE(open.ok()) << open.ToString();
  EXPECT_EQ(ch.ack_.protocol_version, 0u);
  EXPECT_GE(ch.ack_.receive_buffer_size, 8192u);  // Part 6 §7.1.2.3: at least 8192
  EXPECT_GE(ch.ack_.send_buffer_size, 8192u);
  EXPECT_NE(ch.channel_id_, 0u);
  EXPECT_EQ(ch.open_.security_token.channel_id, ch.channel_id_);
  EXPECT_TRUE(ch.open_.response_header.service_result.IsGood());
  EXPECT_GT(ch.open_.security_token.revised_lifetime, 0u);

  // GetEndpoints: every EndpointDescription decodes; the peer's URL with SecurityPolicy None is offered.
  GetEndpointsRequest ge;
  ge.request_header = ch.Header();
  ge.endpoint_url = url;
  auto eps = ch.Call<GetEndpointsResponse>(ge);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  ASSERT_FALSE(eps->endpoints.empty());
  const EndpointDescription* none = nullptr;
  for (const EndpointDescription& e : eps->endpoints) {
    EXPECT_EQ(e.endpoint_url, url);
    EXPECT_EQ(e.transport_profile_uri, "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary");
    EXPECT_EQ(e.server.application_type, ApplicationType::kServer);
    if (e.security_policy_uri == kSecurityPolicyNone && e.security_mode == MessageSecurityMode::kNone) none = &e;
  }
  ASSERT_NE(none, nullptr) << "no SecurityPolicy None endpoint offered";
  std::string anonymous_policy;
  for (const UserTokenPolicy& p : none->user_identity_tokens) {
    if (p.token_type == UserTokenType::kAnonymous) anonymous_policy = p.policy_id;
  }
  ASSERT_FALSE(anonymous_policy.empty()) << "no anonymous token policy";

  // CreateSession + ActivateSession (anonymous).
  CreateSessionRequest cs;
  cs.request_header = ch.Header();
  cs.client_description.application_uri = "urn:plantfloor:test";
  cs.client_description.product_uri = "urn:plantfloor";
  cs.client_description.application_name = LocalizedText{std::nullopt, std::string("plantfloor test")};
  cs.client_description.application_type = ApplicationType::kClient;
  cs.endpoint_url = url;
  cs.session_name = "plantfloor-peer-test";
  std::mt19937 rng(7);
  for (int i = 0; i < 32; ++i) cs.client_nonce.push_back(static_cast<char>(rng() & 0xff));
  cs.requested_session_timeout = 60000;
  auto session = ch.Call<CreateSessionResponse>(cs);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_FALSE(session->authentication_token.IsNull());
  EXPECT_GT(session->revised_session_timeout, 0);
  ch.auth_token_ = session->authentication_token;

  ActivateSessionRequest as;
  as.request_header = ch.Header();
  as.locale_ids = {"en"};
  as.user_identity_token = ToExtensionObject(AnonymousIdentityToken{anonymous_policy});
  auto activated = ch.Call<ActivateSessionResponse>(as);
  ASSERT_TRUE(activated.ok()) << activated.status().ToString();
  EXPECT_TRUE(activated->response_header.service_result.IsGood());

  // Read Line1.Counter (Int32 42), Line1.Label (String "hello"), Line1.Running (Boolean true) and
  // an unknown node (BadNodeIdUnknown).
  ReadRequest rd;
  rd.request_header = ch.Header();
  rd.timestamps_to_return = TimestampsToReturn::kBoth;
  for (const char* id : {"ns=1;s=Line1.Counter", "ns=1;s=Line1.Label", "ns=1;s=Line1.Running", "ns=1;s=NoSuchNode"}) {
    auto node = ParseNodeId(id);
    ASSERT_TRUE(node.ok());
    rd.nodes_to_read.push_back(ReadValueId{*node, attribute::kValue, "", {}});
  }
  auto read = ch.Call<ReadResponse>(rd);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->results.size(), 4u);
  const DataValue& counter = read->results[0];
  ASSERT_TRUE(counter.value.has_value());
  EXPECT_EQ(counter.value->type, BuiltinType::kInt32);
  EXPECT_FALSE(counter.value->is_array);
  EXPECT_EQ(std::get<int32_t>(counter.value->values.at(0)), 42);
  EXPECT_TRUE(!counter.status || counter.status->IsGood());
  EXPECT_TRUE(counter.server_timestamp.has_value());
  const DataValue& label = read->results[1];
  ASSERT_TRUE(label.value.has_value());
  EXPECT_EQ(label.value->type, BuiltinType::kString);
  EXPECT_EQ(std::get<std::string>(label.value->values.at(0)), "hello");
  ASSERT_TRUE(read->results[2].value.has_value());
  EXPECT_EQ(read->results[2].value->type, BuiltinType::kBoolean);
  EXPECT_EQ(std::get<bool>(read->results[2].value->values.at(0)), true);
  ASSERT_TRUE(read->results[3].status.has_value());
  EXPECT_EQ(read->results[3].status->Name(), "BadNodeIdUnknown");

  // A Read with a null session token is refused by the server as a ServiceFault, which the
  // decoder turns into a Status carrying the server's code.
  NodeId saved = ch.auth_token_;
  ch.auth_token_ = NodeId{};
  ReadRequest anon_read;
  anon_read.request_header = ch.Header();
  anon_read.nodes_to_read = rd.nodes_to_read;
  auto refused = ch.Call<ReadResponse>(anon_read);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("ReadResponse: service fault Bad"), std::string::npos)
      << refused.status().message();
  ch.auth_token_ = saved;

  CloseSessionRequest close;
  close.request_header = ch.Header();
  auto closed = ch.Call<CloseSessionResponse>(close);
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_TRUE(closed->response_header.service_result.IsGood());
  ch.Close();
}

// The secure-mode peer still answers GetEndpoints on a None channel (discovery); its endpoints carry
// the server certificate (DER: SEQUENCE with a two-byte length, 30 82 ..) and Basic256Sha256.
TEST(OpcuaPeer, SecurePeerEndpointsDecode) {
  testing::Peer peer("opcua", 0, "secure");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string url = fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", peer.port());
  Connection conn(peer.port());
  ASSERT_TRUE(conn.connected());
  PlainChannel ch(conn, url);
  Status open = ch.Open();
  ASSERT_TRUE(open.ok()) << open.ToString();
  GetEndpointsRequest ge;
  ge.request_header = ch.Header();
  ge.endpoint_url = url;
  auto eps = ch.Call<GetEndpointsResponse>(ge);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  int secure = 0;
  for (const EndpointDescription& e : eps->endpoints) {
    if (e.security_policy_uri != "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256") continue;
    EXPECT_EQ(e.security_mode, MessageSecurityMode::kSignAndEncrypt);
    ASSERT_GT(e.server_certificate.size(), 4u);
    EXPECT_EQ(static_cast<uint8_t>(e.server_certificate[0]), 0x30);
    EXPECT_EQ(static_cast<uint8_t>(e.server_certificate[1]), 0x82);
    size_t der_len = 4 + ((static_cast<uint8_t>(e.server_certificate[2]) << 8) | static_cast<uint8_t>(e.server_certificate[3]));
    EXPECT_EQ(der_len, e.server_certificate.size());  // one whole certificate, no chain
    ++secure;
  }
  EXPECT_GE(secure, 1);
  ch.Close();
}

}  // namespace
}  // namespace pf::opcua
