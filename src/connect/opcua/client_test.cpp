// SecureChannel + Client against node-opcua (../shared/peers `peers.sh start opcua PORT [secure]`).
// Expected values are the peer's documented address space (README: Objects/Line1 with Counter Int32 42,
// Label "hello", Running true, Temperature a Double), the OPC UA standard (NamespaceArray[0] is the UA
// namespace, Objects i=85, Server i=2253) and counts computed here, never plantfloor output.
// The unit part (URL parsing, bad addresses, malformed server bytes) needs no peer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "connect/opcua/client.h"
#include "testing.h"

namespace pf::opcua {
namespace {

namespace fs = std::filesystem;

std::string Url(int port) { return fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", port); }

TEST(OpcuaChannelUnit, ParseEndpointUrl) {
  auto a = ParseEndpointUrl("opc.tcp://plc7.local:4841/UA/Server");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "plc7.local");
  EXPECT_EQ(a->port, 4841);
  auto b = ParseEndpointUrl("opc.tcp://10.0.0.5");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 4840);  // IANA port of OPC UA
  auto c = ParseEndpointUrl("opc.tcp://[::1]:48010/x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 48010);
  EXPECT_NE(ParseEndpointUrl("http://x:1").status().message().find("must start with opc.tcp://"), std::string::npos);
  EXPECT_NE(ParseEndpointUrl("opc.tcp://x:99999").status().message().find("port 99999 out of range"), std::string::npos);
  EXPECT_NE(ParseEndpointUrl("opc.tcp://x:4a").status().message().find("bad port '4a'"), std::string::npos);
  EXPECT_NE(ParseEndpointUrl("opc.tcp://:4840").status().message().find("no host"), std::string::npos);
}

TEST(OpcuaChannelUnit, SecurityNames) {
  EXPECT_EQ(*ParseSecurity("none"), Security::kNone);
  EXPECT_EQ(*ParseSecurity("Sign"), Security::kSign);
  EXPECT_EQ(*ParseSecurity("encrypt"), Security::kSignAndEncrypt);
  EXPECT_EQ(ParseSecurity("tls").status().code(), ::pf::StatusCode::kInvalidArgument);
}

TEST(OpcuaChannelUnit, ConnectRefusedIsUnavailable) {
  int port = testing::FreePort();
  ChannelOptions o;
  o.endpoint_url = Url(port);
  auto ch = SecureChannel::Open(o);
  ASSERT_FALSE(ch.ok());
  EXPECT_EQ(ch.status().code(), ::pf::StatusCode::kUnavailable);
  EXPECT_NE(ch.status().message().find("cannot connect"), std::string::npos) << ch.status().message();
}

// A fake server that answers Hello with the given bytes; the channel must fail with a precise reason.
std::string AgainstFakeServer(const std::string& reply) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  ::listen(ls, 1);
  std::thread server([&] {
    int c = ::accept(ls, nullptr, nullptr);
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    // Read what the client sends next (its OpenSecureChannel, or EOF) so that close() is a clean FIN.
    timeval tv{3, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::recv(c, buf, sizeof buf, 0);
    ::close(c);
  });
  ChannelOptions o;
  o.endpoint_url = Url(ntohs(a.sin_port));
  o.io_timeout = std::chrono::milliseconds(2000);
  auto ch = SecureChannel::Open(o);
  server.join();
  ::close(ls);
  return ch.ok() ? "" : ch.status().message();
}

TEST(OpcuaChannelUnit, MalformedServerBytesCloseWithReason) {
  EXPECT_NE(AgainstFakeServer(std::string("XYZF\x10\0\0\0\0\0\0\0\0\0\0\0", 16)).find("bad message header"), std::string::npos);
  // ACK whose header claims 1 MB: above our 64 KiB receive buffer.
  EXPECT_NE(AgainstFakeServer(std::string("ACKF\x00\x00\x10\x00", 8)).find("exceeds our ReceiveBufferSize 65536"),
            std::string::npos);
  Acknowledge small;
  small.receive_buffer_size = 1024;
  small.send_buffer_size = 8192;
  EXPECT_NE(AgainstFakeServer(EncodeAcknowledge(small)).find("ReceiveBufferSize 1024 below the minimum 8192"),
            std::string::npos);
  TransportError err{StatusCode{status_codes::kBadTcpMessageTooLarge}, "too big"};
  std::string why = AgainstFakeServer(EncodeTransportError(err));
  EXPECT_NE(why.find("BadTcpMessageTooLarge"), std::string::npos) << why;
  EXPECT_NE(why.find("too big"), std::string::npos) << why;
  // The server closes after a good ACK without answering the OpenSecureChannel.
  Acknowledge ok;
  ok.receive_buffer_size = 65536;
  ok.send_buffer_size = 65536;
  EXPECT_NE(AgainstFakeServer(EncodeAcknowledge(ok)).find("server closed the connection"), std::string::npos);
}

// A fake server that completes Hello and a None OpenSecureChannel (channel 7, token 3), then answers
// the first request with `reply(request_id)`. Returns the Request's error ("" if it succeeded) and
// whether the channel was still open afterwards.
struct FakeOutcome {
  std::string error;
  bool open_after = true;
  std::string second_error;
};
FakeOutcome AfterOpen(const std::function<std::string(uint32_t)>& reply) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  ::listen(ls, 1);
  std::thread server([&] {
    int c = ::accept(ls, nullptr, nullptr);
    timeval tv{3, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string buf(65536, '\0');
    auto recv_one = [&]() -> std::string {
      ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
      return n > 0 ? buf.substr(0, static_cast<size_t>(n)) : "";
    };
    recv_one();  // HEL
    Acknowledge ack;
    ack.receive_buffer_size = ack.send_buffer_size = 65536;
    std::string m = EncodeAcknowledge(ack);
    (void)::send(c, m.data(), m.size(), MSG_NOSIGNAL);
    std::string opn = recv_one();
    auto chunk = DecodeSecureChunk(opn);
    SequenceHeader seq;
    std::string_view body;
    if (chunk.ok()) (void)SplitPlainChunk(*chunk, &seq, &body);
    OpenSecureChannelResponse resp;
    resp.security_token = ChannelSecurityToken{7, 3, 0, 600000};
    m = EncodeOpenChunk(7, AsymmetricSecurityHeader{std::string(kSecurityPolicyNone), "", ""},
                        SequenceHeader{1, seq.request_id}, EncodeServiceBody(resp));
    (void)::send(c, m.data(), m.size(), MSG_NOSIGNAL);
    std::string req = recv_one();
    auto rc = DecodeSecureChunk(req);
    SequenceHeader rseq;
    if (rc.ok()) (void)SplitPlainChunk(*rc, &rseq, &body);
    m = reply(rseq.request_id);
    (void)::send(c, m.data(), m.size(), MSG_NOSIGNAL);
    recv_one();  // EOF once the client closed
    ::close(c);
  });
  ChannelOptions o;
  o.endpoint_url = Url(ntohs(a.sin_port));
  o.io_timeout = std::chrono::milliseconds(2000);
  FakeOutcome out;
  auto ch = SecureChannel::Open(o);
  if (!ch.ok()) {
    out.error = "open: " + ch.status().message();
  } else {
    ReadRequest rr;
    rr.request_header = (*ch)->NewHeader();
    auto r = (*ch)->Call<ReadResponse>(rr);
    out.error = r.ok() ? "" : r.status().message();
    out.open_after = (*ch)->is_open();
    rr.request_header = (*ch)->NewHeader();
    auto again = (*ch)->Call<ReadResponse>(rr);
    out.second_error = again.ok() ? "" : again.status().message();
    (*ch)->Close();
  }
  server.join();
  ::close(ls);
  return out;
}

std::string Msg(uint32_t channel, uint32_t token, uint32_t seq, uint32_t request_id, std::string_view body,
                char chunk = 'F') {
  return EncodeSymmetricChunk("MSG", channel, token, SequenceHeader{seq, request_id}, body, chunk);
}

TEST(OpcuaChannelUnit, MalformedResponsesCloseTheChannel) {
  ReadResponse good;
  good.results.resize(1);
  good.results[0].value = Variant::Scalar1(BuiltinType::kInt32, int32_t{5});
  const std::string body = EncodeServiceBody(good);
  // The well-formed reply works (the fake server itself is right).
  FakeOutcome ok = AfterOpen([&](uint32_t id) { return Msg(7, 3, 2, id, body); });
  EXPECT_EQ(ok.error, "");
  EXPECT_TRUE(ok.open_after);
  struct Case {
    const char* name;
    std::function<std::string(uint32_t)> reply;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"other channel", [&](uint32_t id) { return Msg(8, 3, 2, id, body); }, "chunk for channel 8, ours is 7"},
      {"unknown token", [&](uint32_t id) { return Msg(7, 4, 2, id, body); }, "chunk with unknown token id 4"},
      {"replayed sequence", [&](uint32_t id) { return Msg(7, 3, 1, id, body); }, "sequence number 1 after 1"},
      {"other request", [&](uint32_t id) { return Msg(7, 3, 2, id + 5, body); }, "response for request"},
      {"truncated body", [&](uint32_t id) { return Msg(7, 3, 2, id, std::string_view(body).substr(0, body.size() - 3)); },
       "offset"},
      {"wrong type", [&](uint32_t id) { return Msg(7, 3, 2, id, EncodeServiceBody(BrowseResponse{})); }, "ReadResponse"},
      {"OPN instead of MSG",
       [&](uint32_t id) {
         return EncodeOpenChunk(7, AsymmetricSecurityHeader{std::string(kSecurityPolicyNone), "", ""},
                                SequenceHeader{2, id}, body);
       },
       "expected a MSG chunk, got OPN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeOutcome r = AfterOpen(c.reply);
    EXPECT_NE(r.error.find(c.expect), std::string::npos) << r.error;
    EXPECT_FALSE(r.open_after);
    EXPECT_NE(r.second_error.find("channel closed: "), std::string::npos) << r.second_error;
  }
  // An abort chunk ends that response only; the channel stays usable.
  Encoder abort;
  TransportError{StatusCode{status_codes::kBadEncodingLimitsExceeded}, "too many"}.Encode(abort);
  FakeOutcome ab = AfterOpen([&](uint32_t id) { return Msg(7, 3, 2, id, abort.bytes(), 'A'); });
  EXPECT_NE(ab.error.find("server aborted the response: BadEncodingLimitsExceeded too many"), std::string::npos) << ab.error;
  EXPECT_TRUE(ab.open_after);
}

const ReferenceDescription* FindRef(const std::vector<ReferenceDescription>& refs, std::string_view name) {
  for (const auto& r : refs) {
    if (r.browse_name.name == name) return &r;
  }
  return nullptr;
}

// Browse, read, nsu= and chunked reads over one connection; shared by the None and secure tests.
void ExerciseClient(Client& c) {
  // NamespaceArray: index 0 is always the OPC UA namespace (OPC 10000-5 8.2.1).
  ASSERT_GE(c.namespaces().size(), 2u);
  EXPECT_EQ(c.namespaces()[0], "http://opcfoundation.org/UA/");

  auto objects = c.BrowseChildren(NodeId::Numeric(0, 85));
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  const ReferenceDescription* line1 = FindRef(*objects, "Line1");
  ASSERT_NE(line1, nullptr);
  EXPECT_NE(FindRef(*objects, "Server"), nullptr);
  auto line1_id = c.Resolve(line1->node_id);
  ASSERT_TRUE(line1_id.ok());
  auto children = c.BrowseChildren(*line1_id);
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  std::set<std::string> names;
  for (const auto& r : *children) names.insert(r.browse_name.name);
  EXPECT_EQ(names, (std::set<std::string>{"Counter", "Label", "Running", "Temperature"}));
  for (const auto& r : *children) EXPECT_EQ(r.node_class, NodeClass::kVariable);

  // Browse chunked by MaxNodesPerBrowse (forced to 1) and paged with BrowseNext (2 references per
  // page): the same references as one unpaged Browse of the same nodes.
  {
    std::vector<BrowseDescription> desc(3);
    desc[0].node_id = NodeId::Numeric(0, 85);
    desc[1].node_id = *line1_id;
    desc[2].node_id = NodeId::Numeric(0, 2253);  // Server
    auto whole = c.Browse(desc);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    const OperationLimits saved = c.limits();
    OperationLimits one = saved;
    one.max_nodes_per_browse = 1;
    c.set_limits(one);
    c.set_max_references_per_node(2);
    const int calls = c.browse_calls(), nexts = c.browse_next_calls();
    auto paged = c.Browse(desc);
    c.set_limits(saved);
    c.set_max_references_per_node(0);
    ASSERT_TRUE(paged.ok()) << paged.status().ToString();
    EXPECT_EQ(c.browse_calls() - calls, 3);
    size_t expected_next = 0;
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_GT((*whole)[i].references.size(), 0u);
      expected_next += ((*whole)[i].references.size() - 1) / 2;  // pages after the first
      std::multiset<std::string> a, b;
      for (const auto& r : (*whole)[i].references) a.insert(r.node_id.ToString() + "/" + r.reference_type_id.ToString());
      for (const auto& r : (*paged)[i].references) b.insert(r.node_id.ToString() + "/" + r.reference_type_id.ToString());
      EXPECT_EQ(a, b) << i;
    }
    EXPECT_EQ(static_cast<size_t>(c.browse_next_calls() - nexts), expected_next);
  }

  std::vector<ReadValueId> ids;
  for (const char* s : {"ns=1;s=Line1.Counter", "ns=1;s=Line1.Label", "ns=1;s=Line1.Running", "ns=1;s=Line1.Temperature"}) {
    auto n = c.ResolveNodeId(s);
    ASSERT_TRUE(n.ok());
    ids.push_back(ReadValueId{*n, attribute::kValue, "", {}});
  }
  ids.push_back(ReadValueId{*c.ResolveNodeId("ns=1;s=Line1.Counter"), attribute::kBrowseName, "", {}});
  auto r = c.Read(ids);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 5u);
  ASSERT_TRUE((*r)[0].value);
  EXPECT_EQ((*r)[0].value->type, BuiltinType::kInt32);
  EXPECT_EQ(std::get<int32_t>((*r)[0].value->values.at(0)), 42);
  EXPECT_EQ(std::get<std::string>((*r)[1].value->values.at(0)), "hello");
  EXPECT_EQ(std::get<bool>((*r)[2].value->values.at(0)), true);
  ASSERT_TRUE((*r)[3].value);
  EXPECT_EQ((*r)[3].value->type, BuiltinType::kDouble);
  ASSERT_TRUE((*r)[4].value);
  EXPECT_EQ((*r)[4].value->type, BuiltinType::kQualifiedName);
  EXPECT_EQ(std::get<QualifiedName>((*r)[4].value->values.at(0)).name, "Counter");

  // nsu= form: the namespace URI of index 1 resolves back to index 1 and reads the same node.
  const std::string nsu = fmt::format("nsu={};s=Line1.Counter", c.namespaces()[1]);
  auto by_uri = c.ResolveNodeId(nsu);
  ASSERT_TRUE(by_uri.ok()) << by_uri.status().ToString();
  EXPECT_EQ(by_uri->ns, 1);
  auto v = c.ReadValue(*by_uri);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<int32_t>(v->value->values.at(0)), 42);
  auto unknown = c.ResolveNodeId("nsu=urn:nowhere;s=x");
  EXPECT_EQ(unknown.status().code(), ::pf::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("'urn:nowhere' is not in the server's NamespaceArray"), std::string::npos);

  // TranslateBrowsePathsToNodeIds: Objects/1:Line1/1:Counter -> ns=1;s=Line1.Counter.
  BrowsePath path;
  path.starting_node = NodeId::Numeric(0, 85);
  path.relative_path.elements = {RelativePathElement{NodeId::Numeric(0, 33), false, true, QualifiedName{1, "Line1"}},
                                 RelativePathElement{NodeId::Numeric(0, 33), false, true, QualifiedName{1, "Counter"}}};
  auto tr = c.TranslateBrowsePaths({path});
  ASSERT_TRUE(tr.ok()) << tr.status().ToString();
  ASSERT_EQ(tr->at(0).targets.size(), 1u);
  EXPECT_EQ(tr->at(0).targets[0].target_id.node, NodeId::String(1, "Line1.Counter"));

  // 3000 reads: chunked by MaxNodesPerRead; when the server reports none, force 250.
  const uint32_t announced = c.limits().max_nodes_per_read;
  uint32_t limit = announced;
  if (limit == 0 || limit > 1000) {
    OperationLimits l = c.limits();
    l.max_nodes_per_read = limit = 250;
    c.set_limits(l);
  }
  std::vector<ReadValueId> many;
  for (int i = 0; i < 3000; ++i) many.push_back(ids[static_cast<size_t>(i % 4)]);
  const int before = c.read_calls();
  auto big = c.Read(many);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  ASSERT_EQ(big->size(), 3000u);
  EXPECT_EQ(c.read_calls() - before, static_cast<int>((3000 + limit - 1) / limit));
  for (size_t i = 0; i < big->size(); i += 4) {
    ASSERT_EQ(std::get<int32_t>((*big)[i].value->values.at(0)), 42) << i;
    ASSERT_EQ(std::get<std::string>((*big)[i + 1].value->values.at(0)), "hello") << i;
  }
  std::cout << "MaxNodesPerRead announced " << announced << ", used " << limit << ", read calls "
            << (c.read_calls() - before) << "\n";
  // With the server's own limit (>= 3000 or none) the 3000 nodes go in one Read whose request and
  // response are each larger than one chunk: chunking on send and reassembly on receive.
  OperationLimits own = c.limits();
  own.max_nodes_per_read = announced;
  c.set_limits(own);
  if (announced == 0 || announced >= 3000) {
    ReadRequest probe;
    probe.nodes_to_read = many;
    EXPECT_GT(EncodeServiceBody(probe).size(), c.channel().MaxRequestBodyPerChunk());
    const int calls = c.read_calls();
    auto whole = c.Read(many);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ(c.read_calls() - calls, 1);
    ASSERT_EQ(whole->size(), 3000u);
    EXPECT_EQ(std::get<std::string>((*whole)[2997].value->values.at(0)), "hello");
    // 3000 DataValues with two timestamps each (> 22 bytes apiece) exceed one 64 KiB chunk.
    EXPECT_GE(c.channel().last_response_chunks(), 2);
    std::cout << "unchunked Read of 3000: request " << EncodeServiceBody(probe).size() << " bytes, response in "
              << c.channel().last_response_chunks() << " chunks\n";
  }
}

TEST(OpcuaClientPeer, NoneBrowseReadChunked) {
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  auto eps = Client::GetEndpoints(Url(peer.port()));
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  ASSERT_FALSE(eps->empty());
  EXPECT_EQ(eps->at(0).server.application_uri, "urn:localhost:EdgeTestPeer");
  ClientOptions o;
  o.endpoint_url = Url(peer.port());
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ExerciseClient(**c);
  (*c)->Close();
}

TEST(OpcuaClientPeer, SecureSignAndEncryptBrowseRead) {
  testing::Peer peer("opcua", 0, "secure");
  ASSERT_TRUE(peer.ok()) << peer.log();
  testing::TempDir dir;
  ClientOptions o;
  o.endpoint_url = Url(peer.port());
  o.security = Security::kSignAndEncrypt;
  o.pki_dir = dir.path();
  o.application_uri = "urn:plantfloor:client-test";
  // First contact: the server certificate is not trusted; the message says what to do.
  auto refused = Client::Connect(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ::pf::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("trusted"), std::string::npos) << refused.status().message();
  // Sign alone is not offered by this peer: the error lists what is.
  ClientOptions sign = o;
  sign.security = Security::kSign;
  auto no_sign = Client::Connect(sign);
  EXPECT_EQ(no_sign.status().code(), ::pf::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_sign.status().message().find("policy Basic256Sha256 and mode Sign; the server offers: Basic256Sha256 SignAndEncrypt"), std::string::npos) << no_sign.status().message();
  // The operator's step: move the rejected certificate to trusted.
  int moved = 0;
  for (const auto& e : fs::directory_iterator(fs::path(dir.path()) / "rejected" / "certs")) {
    fs::rename(e.path(), fs::path(dir.path()) / "trusted" / "certs" / e.path().filename());
    ++moved;
  }
  ASSERT_EQ(moved, 1);
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << peer.log();
  EXPECT_EQ((*c)->endpoint().security_mode, MessageSecurityMode::kSignAndEncrypt);
  ExerciseClient(**c);
  (*c)->Close();

  // User name / password: the peer has no user database, so it must refuse the login with
  // BadUserAccessDenied; a token it could not decrypt would be BadIdentityTokenInvalid instead.
  ClientOptions user = o;
  user.user = "operator";
  user.password = "s3cret";
  auto login = Client::Connect(user);
  ASSERT_FALSE(login.ok());
  EXPECT_EQ(login.status().code(), ::pf::StatusCode::kPermissionDenied);
  EXPECT_NE(login.status().message().find("BadUserAccessDenied"), std::string::npos) << login.status().message();
}

TEST(OpcuaClientPeer, TokenRenewalKeepsReadsWorking) {
  for (const char* mode : {"", "secure"}) {
    SCOPED_TRACE(mode);
    testing::Peer peer("opcua", 0, mode);
    ASSERT_TRUE(peer.ok()) << peer.log();
    testing::TempDir dir;
    ClientOptions o;
    o.endpoint_url = Url(peer.port());
    o.requested_lifetime_ms = 3000;
    if (*mode) {
      o.security = Security::kSignAndEncrypt;
      o.pki_dir = dir.path();
      auto eps = Client::GetEndpoints(o.endpoint_url);
      ASSERT_TRUE(eps.ok());
      CertificateStore store(dir.path());
      ASSERT_TRUE(store.Trust(AsBytes(eps->at(0).server_certificate)).ok());
    }
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    const uint32_t lifetime = (*c)->channel().revised_lifetime_ms();
    ASSERT_GT(lifetime, 0u);
    ASSERT_LE(lifetime, 5000u) << "server revised the lifetime up; the renewal count below assumes ~3 s";
    const uint32_t first_token = (*c)->channel().token_id();
    auto node = *(*c)->ResolveNodeId("ns=1;s=Line1.Counter");
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int reads = 0;
    while (std::chrono::steady_clock::now() < end) {
      auto v = (*c)->ReadValue(node);
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      ASSERT_EQ(std::get<int32_t>(v->value->values.at(0)), 42);
      ++reads;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // 10 s at one renewal per 0.75 * lifetime: floor(10 / (0.75 * lifetime)) renewals, at least 2.
    const int expected = static_cast<int>(10000.0 / (0.75 * lifetime));
    EXPECT_GE((*c)->channel().renewals(), std::min(expected, 2));
    EXPECT_GE((*c)->channel().renewals(), expected - 1);
    EXPECT_NE((*c)->channel().token_id(), first_token);
    EXPECT_GE(reads, 40);
    std::cout << "lifetime " << lifetime << " ms: " << (*c)->channel().renewals() << " renewals, " << reads
              << " reads in 10 s\n";
    (*c)->Close();
  }
}

// The commissioning tool end to end: `plantfloor opcua ...` against the None peer (the binary from
// PF_BIN; skipped when it is not built).
TEST(OpcuaClientPeer, CommissioningCli) {
  const std::string bin = testing::PlantfloorBin();
  if (!fs::exists(bin)) GTEST_SKIP() << "plantfloor binary not built: " << bin;
  testing::Peer peer("opcua");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string url = Url(peer.port());
  std::string out;
  EXPECT_EQ(testing::Run(fmt::format("{} opcua endpoints --endpoint {}", bin, url), &out), 0) << out;
  EXPECT_NE(out.find("None None"), std::string::npos) << out;
  EXPECT_NE(out.find("urn:localhost:EdgeTestPeer"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua browse --endpoint {}", bin, url), &out), 0) << out;
  EXPECT_NE(out.find("Line1"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua read --endpoint {} --node 'ns=1;s=Line1.Counter' --node "
                                     "'nsu=urn:localhost:EdgeTestPeer;s=Line1.Label' --json",
                                     bin, url),
                         &out),
            0)
      << out;
  EXPECT_NE(out.find("\"value\": \"42\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"type\": \"Int32\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"value\": \"\\\"hello\\\"\""), std::string::npos) << out;
  // A node the server does not have: printed with its status, exit 1.
  out.clear();
  EXPECT_EQ(testing::Run(fmt::format("{} opcua read --endpoint {} --node 'ns=1;s=NoSuchNode'", bin, url), &out), 1);
  EXPECT_NE(out.find("BadNodeIdUnknown"), std::string::npos) << out;
  // Bad input: exit 2 with a precise message.
  struct Bad {
    std::string args, expect;
  };
  for (const Bad& b : std::vector<Bad>{
           {fmt::format("read --endpoint {} --node 'ns=x;s=1'", url), "--node #1 'ns=x;s=1'"},
           {fmt::format("read --endpoint {}", url), "give at least one --node"},
           {"read --endpoint http://host:1 --node i=85", "must start with opc.tcp://"},
           {fmt::format("read --endpoint {} --security tls --node i=85", url), "expected none, sign or encrypt"},
           {fmt::format("read --endpoint {} --user bob --node i=85", url), "--user and --password go together"},
           {fmt::format("read --endpoint {} --node 'nsu=urn:nowhere;s=x'", url), "'urn:nowhere' is not in"},
       }) {
    out.clear();
    EXPECT_EQ(testing::Run(fmt::format("{} opcua {}", bin, b.args), &out), 2) << b.args << "\n" << out;
    EXPECT_NE(out.find(b.expect), std::string::npos) << b.args << "\n" << out;
  }
}

}  // namespace
}  // namespace pf::opcua
