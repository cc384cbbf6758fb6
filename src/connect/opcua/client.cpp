#include "connect/opcua/client.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "connect/opcua/pki.h"
#include "core/log.h"

namespace pf::opcua {
namespace {

constexpr uint32_t kNamespaceArray = 2255;
constexpr uint32_t kMaxNodesPerRead = 11705;
constexpr uint32_t kMaxNodesPerBrowse = 11710;
constexpr uint32_t kMaxMonitoredItemsPerCall = 11714;

MessageSecurityMode ModeOf(Security s) {
  switch (s) {
    case Security::kNone: return MessageSecurityMode::kNone;
    case Security::kSign: return MessageSecurityMode::kSign;
    case Security::kSignAndEncrypt: return MessageSecurityMode::kSignAndEncrypt;
  }
  return MessageSecurityMode::kNone;
}

std::string_view ModeName(MessageSecurityMode m) {
  switch (m) {
    case MessageSecurityMode::kNone: return "None";
    case MessageSecurityMode::kSign: return "Sign";
    case MessageSecurityMode::kSignAndEncrypt: return "SignAndEncrypt";
    default: return "Invalid";
  }
}

}  // namespace

Result<Security> ParseSecurity(std::string_view s) {
  std::string l(s);
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "none") return Security::kNone;
  if (l == "sign") return Security::kSign;
  if (l == "encrypt" || l == "signandencrypt") return Security::kSignAndEncrypt;
  return InvalidArgument("security '{}': expected none, sign or encrypt", s);
}

Client::~Client() { Close(); }

Result<std::vector<EndpointDescription>> Client::GetEndpoints(const std::string& endpoint_url,
                                                              std::chrono::milliseconds timeout) {
  ChannelOptions co;
  co.endpoint_url = endpoint_url;
  co.io_timeout = timeout;
  co.connect_timeout = timeout;
  PF_ASSIGN_OR_RETURN(auto ch, SecureChannel::Open(co));
  GetEndpointsRequest req;
  req.request_header = ch->NewHeader();
  req.endpoint_url = endpoint_url;
  PF_ASSIGN_OR_RETURN(GetEndpointsResponse resp, ch->Call<GetEndpointsResponse>(req));
  ch->Close();
  return resp.endpoints;
}

template <typename Resp, typename Req>
Result<Resp> Client::Call(Req req) {
  req.request_header = channel_->NewHeader(auth_token_);
  PF_ASSIGN_OR_RETURN(Resp resp, channel_->Call<Resp>(req));
  if (resp.response_header.service_result.IsBad()) {
    return Unavailable("{}: {}", Resp::kName, resp.response_header.service_result.Name());
  }
  return resp;
}

Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  PF_ASSIGN_OR_RETURN(EndpointAddress addr, ParseEndpointUrl(options.endpoint_url));
  PF_ASSIGN_OR_RETURN(auto endpoints, GetEndpoints(options.endpoint_url, options.timeout));
  const MessageSecurityMode mode = ModeOf(options.security);
  const std::string_view want_policy =
      options.security == Security::kNone ? kSecurityPolicyNoneUri : kSecurityPolicyBasic256Sha256Uri;
  std::unique_ptr<Client> c(new Client());
  c->opt_ = std::move(options);
  const EndpointDescription* chosen = nullptr;
  std::string offered;
  for (const EndpointDescription& e : endpoints) {
    offered += fmt::format("{}{} {}", offered.empty() ? "" : ", ",
                           e.security_policy_uri.substr(e.security_policy_uri.find('#') + 1), ModeName(e.security_mode));
    if (e.security_policy_uri == want_policy && e.security_mode == mode && chosen == nullptr) chosen = &e;
  }
  if (chosen == nullptr) {
    return FailedPrecondition("{}: no endpoint with security policy {} and mode {}; the server offers: {}", c->opt_.endpoint_url,
                              want_policy.substr(want_policy.find('#') + 1), ModeName(mode), offered);
  }
  c->endpoint_ = *chosen;

  ChannelOptions co;
  co.endpoint_url = c->opt_.endpoint_url;
  co.mode = mode;
  co.requested_lifetime_ms = c->opt_.requested_lifetime_ms;
  co.io_timeout = c->opt_.timeout;
  co.connect_timeout = c->opt_.timeout;
  if (c->opt_.security != Security::kNone) {
    if (c->opt_.pki_dir.empty()) return InvalidArgument("security {}: needs a certificate store (--pki DIR)", ModeName(mode));
    co.policy = &SecurityPolicyBasic256Sha256();
    CertificateStore store(c->opt_.pki_dir);
    PF_RETURN_IF_ERROR(store.EnsureLayout());
    CertificateRequest req;
    req.application_uri = c->opt_.application_uri;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0] != 0) req.dns_names.push_back(host);
    req.dns_names.push_back("localhost");
    PF_ASSIGN_OR_RETURN(co.own, store.LoadOrCreateOwn(req));
    co.server_certificate = Bytes(chosen->server_certificate.begin(), chosen->server_certificate.end());
    if (co.server_certificate.empty()) return FailedPrecondition("{}: the endpoint carries no server certificate", co.endpoint_url);
    PF_RETURN_IF_ERROR(store.CheckServerCertificate(co.server_certificate, addr.host, chosen->server.application_uri));
  }
  c->channel_options_ = co;
  PF_ASSIGN_OR_RETURN(c->channel_, SecureChannel::Open(std::move(co)));
  PF_RETURN_IF_ERROR(c->CreateAndActivate());
  PF_RETURN_IF_ERROR(c->RefreshNamespaces());
  PF_RETURN_IF_ERROR(c->ReadLimits());
  return c;
}

Status Client::CreateAndActivate() {
  PF_RETURN_IF_ERROR(CreateSession());
  return ActivateSession();
}

Status Client::CreateSession() {
  const SecureChannel& ch = *channel_;
  const SecurityPolicy& p = ch.policy();
  const bool secure = !p.is_none();
  CreateSessionRequest cs;
  cs.client_description.application_uri = opt_.application_uri;
  cs.client_description.product_uri = "urn:plantfloor";
  cs.client_description.application_name = LocalizedText{std::nullopt, std::string("plantfloor")};
  cs.client_description.application_type = ApplicationType::kClient;
  cs.endpoint_url = opt_.endpoint_url;
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  cs.session_name = fmt::format("plantfloor@{}", host);
  PF_ASSIGN_OR_RETURN(Bytes nonce, RandomBytes(32));
  cs.client_nonce = AsString(nonce);
  if (secure) cs.client_certificate = AsString(ch.options().own.der);
  cs.requested_session_timeout = opt_.session_timeout_ms;
  cs.max_response_message_size = ch.options().max_message_size;
  PF_ASSIGN_OR_RETURN(CreateSessionResponse session, Call<CreateSessionResponse>(cs));
  if (session.authentication_token.IsNull()) return DataLoss("CreateSession: null authentication token");
  RsaKey server_key;
  if (secure) {
    if (AsString(ch.options().server_certificate) != session.server_certificate) {
      return PermissionDenied("CreateSession: the server certificate differs from the endpoint's");
    }
    PF_ASSIGN_OR_RETURN(server_key, RsaKey::FromCertificateDer(ch.options().server_certificate));
    // The server proves it holds its key: signature over our certificate + our nonce.
    std::string signed_data = cs.client_certificate + cs.client_nonce;
    Status v = p.AsymmetricVerify(server_key, AsBytes(signed_data), AsBytes(session.server_signature.signature));
    if (!v.ok()) return PermissionDenied("CreateSession: server signature does not verify: {}", v.message());
  }
  auth_token_ = session.authentication_token;
  server_nonce_ = session.server_nonce;
  return Status::Ok();
}

Status Client::ActivateSession() {
  const SecureChannel& ch = *channel_;
  const SecurityPolicy& p = ch.policy();
  const bool secure = !p.is_none();
  ActivateSessionRequest as;
  as.locale_ids = {"en"};
  if (secure) {
    std::string to_sign = AsString(ch.options().server_certificate) + server_nonce_;
    PF_ASSIGN_OR_RETURN(Bytes sig, p.AsymmetricSign(ch.options().own.key, AsBytes(to_sign)));
    as.client_signature = SignatureData{std::string(p.asymmetric_signature_uri()), AsString(sig)};
  }
  const UserTokenType want = opt_.user ? UserTokenType::kUserName : UserTokenType::kAnonymous;
  const UserTokenPolicy* policy = nullptr;
  for (const UserTokenPolicy& t : endpoint_.user_identity_tokens) {
    if (t.token_type == want) {
      policy = &t;
      break;
    }
  }
  if (policy == nullptr) {
    return FailedPrecondition("ActivateSession: the endpoint accepts no {} login",
                              opt_.user ? "user name/password" : "anonymous");
  }
  if (!opt_.user) {
    as.user_identity_token = ToExtensionObject(AnonymousIdentityToken{policy->policy_id});
  } else {
    const std::string& token_uri = policy->security_policy_uri.empty() ? endpoint_.security_policy_uri
                                                                       : policy->security_policy_uri;
    PF_ASSIGN_OR_RETURN(const SecurityPolicy* tp, FindSecurityPolicy(token_uri));
    UserNameIdentityToken tok;
    tok.policy_id = policy->policy_id;
    tok.user_name = *opt_.user;
    if (tp->is_none()) {
      tok.password = opt_.password;
    } else {
      if (endpoint_.server_certificate.empty()) {
        return FailedPrecondition("ActivateSession: the user token policy needs encryption but the endpoint has no certificate");
      }
      PF_ASSIGN_OR_RETURN(RsaKey key, RsaKey::FromCertificateDer(AsBytes(endpoint_.server_certificate)));
      PF_ASSIGN_OR_RETURN(Bytes secret, EncryptTokenSecret(*tp, key, AsBytes(opt_.password), AsBytes(server_nonce_)));
      tok.password = AsString(secret);
      tok.encryption_algorithm = std::string(tp->asymmetric_encryption_uri());
    }
    as.user_identity_token = ToExtensionObject(tok);
  }
  auto activated = Call<ActivateSessionResponse>(as);
  if (!activated.ok()) {
    const std::string& m = activated.status().message();
    if (m.find("BadUserAccessDenied") != std::string::npos || m.find("BadIdentityToken") != std::string::npos) {
      return PermissionDenied("ActivateSession: the server refused the login: {}", m);
    }
    return activated.status();
  }
  server_nonce_ = activated->server_nonce;
  return Status::Ok();
}

Status Client::RefreshNamespaces() {
  PF_ASSIGN_OR_RETURN(DataValue v, ReadValue(NodeId::Numeric(0, kNamespaceArray)));
  if (!v.value || v.value->type != BuiltinType::kString || !v.value->is_array) {
    return DataLoss("NamespaceArray (i=2255) is not a String array");
  }
  namespaces_.clear();
  for (const Scalar& s : v.value->values) namespaces_.push_back(std::get<std::string>(s));
  return Status::Ok();
}

Status Client::ReadLimits() {
  std::vector<ReadValueId> ids;
  for (uint32_t id : {kMaxNodesPerRead, kMaxNodesPerBrowse, kMaxMonitoredItemsPerCall}) {
    ids.push_back(ReadValueId{NodeId::Numeric(0, id), attribute::kValue, "", {}});
  }
  limits_ = {};
  PF_ASSIGN_OR_RETURN(std::vector<DataValue> r, Read(ids));
  uint32_t* out[] = {&limits_.max_nodes_per_read, &limits_.max_nodes_per_browse, &limits_.max_monitored_items_per_call};
  for (size_t i = 0; i < 3 && i < r.size(); ++i) {
    if (r[i].value && r[i].value->type == BuiltinType::kUInt32 && !r[i].value->is_array) {
      *out[i] = std::get<uint32_t>(r[i].value->values.at(0));
    }  // a server without the node (BadNodeIdUnknown) has no limit we know of
  }
  return Status::Ok();
}

Result<std::vector<DataValue>> Client::Read(const std::vector<ReadValueId>& items, TimestampsToReturn timestamps) {
  std::vector<DataValue> out;
  out.reserve(items.size());
  const size_t step = limits_.max_nodes_per_read == 0 ? std::max<size_t>(items.size(), 1) : limits_.max_nodes_per_read;
  for (size_t at = 0; at < items.size() || (items.empty() && at == 0); at += step) {
    if (items.empty()) break;
    ReadRequest req;
    req.timestamps_to_return = timestamps;
    req.nodes_to_read.assign(items.begin() + static_cast<std::ptrdiff_t>(at),
                             items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), at + step)));
    ++read_calls_;
    PF_ASSIGN_OR_RETURN(ReadResponse resp, Call<ReadResponse>(req));
    if (resp.results.size() != req.nodes_to_read.size()) {
      return DataLoss("ReadResponse: {} results for {} nodes", resp.results.size(), req.nodes_to_read.size());
    }
    for (DataValue& v : resp.results) out.push_back(std::move(v));
  }
  return out;
}

Result<DataValue> Client::ReadValue(const NodeId& node) {
  PF_ASSIGN_OR_RETURN(std::vector<DataValue> r, Read({ReadValueId{node, attribute::kValue, "", {}}}));
  return std::move(r.at(0));
}

Result<std::vector<BrowseResult>> Client::Browse(const std::vector<BrowseDescription>& nodes) {
  std::vector<BrowseResult> out;
  const size_t step = limits_.max_nodes_per_browse == 0 ? std::max<size_t>(nodes.size(), 1) : limits_.max_nodes_per_browse;
  for (size_t at = 0; at < nodes.size(); at += step) {
    BrowseRequest req;
    req.requested_max_references_per_node = opt_.max_references_per_node;
    ++browse_calls_;
    req.nodes_to_browse.assign(nodes.begin() + static_cast<std::ptrdiff_t>(at),
                               nodes.begin() + static_cast<std::ptrdiff_t>(std::min(nodes.size(), at + step)));
    PF_ASSIGN_OR_RETURN(BrowseResponse resp, Call<BrowseResponse>(req));
    if (resp.results.size() != req.nodes_to_browse.size()) {
      return DataLoss("BrowseResponse: {} results for {} nodes", resp.results.size(), req.nodes_to_browse.size());
    }
    for (BrowseResult& r : resp.results) {
      for (int guard = 0; !r.continuation_point.empty(); ++guard) {
        if (guard > 100000) return DataLoss("BrowseNext: the server keeps returning continuation points");
        BrowseNextRequest next;
        next.continuation_points = {r.continuation_point};
        ++browse_next_calls_;
        PF_ASSIGN_OR_RETURN(BrowseNextResponse nr, Call<BrowseNextResponse>(next));
        if (nr.results.size() != 1) return DataLoss("BrowseNextResponse: {} results for 1", nr.results.size());
        BrowseResult& more = nr.results[0];
        if (more.status_code.IsBad()) {
          r.status_code = more.status_code;
          break;
        }
        for (auto& ref : more.references) r.references.push_back(std::move(ref));
        r.continuation_point = std::move(more.continuation_point);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

Result<std::vector<ReferenceDescription>> Client::BrowseChildren(const NodeId& node) {
  BrowseDescription d;
  d.node_id = node;
  PF_ASSIGN_OR_RETURN(auto r, Browse({d}));
  if (r.at(0).status_code.IsBad()) return NotFound("browse {}: {}", node.ToString(), r[0].status_code.Name());
  return std::move(r[0].references);
}

Result<std::vector<BrowsePathResult>> Client::TranslateBrowsePaths(const std::vector<BrowsePath>& paths) {
  TranslateBrowsePathsToNodeIdsRequest req;
  req.browse_paths = paths;
  PF_ASSIGN_OR_RETURN(auto resp, Call<TranslateBrowsePathsToNodeIdsResponse>(req));
  if (resp.results.size() != paths.size()) {
    return DataLoss("TranslateBrowsePathsToNodeIdsResponse: {} results for {} paths", resp.results.size(), paths.size());
  }
  return resp.results;
}

Result<NodeId> Client::Resolve(const ExpandedNodeId& id) const {
  if (id.server_index != 0) return InvalidArgument("node {}: on another server (svr={})", id.ToString(), id.server_index);
  if (id.namespace_uri.empty()) return id.node;
  for (size_t i = 0; i < namespaces_.size(); ++i) {
    if (namespaces_[i] == id.namespace_uri) {
      NodeId n = id.node;
      n.ns = static_cast<uint16_t>(i);
      return n;
    }
  }
  return NotFound("node {}: namespace '{}' is not in the server's NamespaceArray ({} entries)", id.ToString(),
                  id.namespace_uri, namespaces_.size());
}

Result<NodeId> Client::ResolveNodeId(std::string_view text) const {
  PF_ASSIGN_OR_RETURN(ExpandedNodeId id, ParseExpandedNodeId(text));
  return Resolve(id);
}

Status Client::ReopenChannel() {
  if (channel_) channel_->Close();
  // On failure the old (closed) channel stays, so channel() remains valid and answers kUnavailable.
  PF_ASSIGN_OR_RETURN(auto ch, SecureChannel::Open(channel_options_));
  if (channel_) past_renewals_ += channel_->renewals();
  channel_ = std::move(ch);
  return Status::Ok();
}

Status Client::ReactivateSession() {
  if (auth_token_.IsNull()) return FailedPrecondition("ActivateSession: no session to reactivate");
  return ActivateSession();
}

Status Client::NewSession() {
  auth_token_ = NodeId{};
  return CreateAndActivate();
}

void Client::Close() {
  if (!channel_ || !channel_->is_open()) return;
  if (!auth_token_.IsNull()) {
    CloseSessionRequest req;
    auto r = Call<CloseSessionResponse>(req);
    if (!r.ok()) PF_LOG_DEBUG("opcua CloseSession: {}", r.status().message());
    auth_token_ = NodeId{};
  }
  channel_->Close();
}

std::string ScalarToString(BuiltinType t, const Scalar& s) {
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "null";
        else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) return fmt::format("{}", static_cast<int>(v));
        else if constexpr (std::is_same_v<T, int64_t>) {
          if (t == BuiltinType::kDateTime) {
            int64_t ns = TicksToUnixNanos(v);
            time_t secs = static_cast<time_t>(ns / 1000000000);
            tm utc{};
            gmtime_r(&secs, &utc);
            char buf[32];
            strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
            return fmt::format("{}.{:03d}Z", buf, static_cast<int>((ns / 1000000) % 1000 + 1000) % 1000);
          }
          return fmt::format("{}", v);
        } else if constexpr (std::is_arithmetic_v<T>) return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, std::string>) {
          if (t == BuiltinType::kByteString) return fmt::format("0x{}", ToHex(AsBytes(v)));
          return fmt::format("\"{}\"", v);
        } else if constexpr (std::is_same_v<T, Guid>) return v.ToString();
        else if constexpr (std::is_same_v<T, NodeId> || std::is_same_v<T, ExpandedNodeId>) return v.ToString();
        else if constexpr (std::is_same_v<T, StatusCode>) return v.Name();
        else if constexpr (std::is_same_v<T, QualifiedName>) return v.ns ? fmt::format("{}:{}", v.ns, v.name) : v.name;
        else if constexpr (std::is_same_v<T, LocalizedText>) return fmt::format("\"{}\"", v.text.value_or(""));
        else if constexpr (std::is_same_v<T, ExtensionObject>) {
          return fmt::format("ExtensionObject({}, {} bytes)", v.type_id.ToString(), v.body.size());
        } else if constexpr (std::is_same_v<T, std::shared_ptr<Variant>>) return v ? VariantToString(*v) : "null";
        else if constexpr (std::is_same_v<T, std::shared_ptr<DataValue>>) {
          return v && v->value ? VariantToString(*v->value) : "null";
        } else return "DiagnosticInfo";
      },
      s);
}

std::string VariantToString(const Variant& v) {
  if (v.IsNull()) return "null";
  if (!v.is_array) return ScalarToString(v.type, v.values.at(0));
  std::string out = "[";
  for (size_t i = 0; i < v.values.size(); ++i) {
    if (i) out += ", ";
    if (i == 20) {
      out += fmt::format("... {} more", v.values.size() - 20);
      break;
    }
    out += ScalarToString(v.type, v.values[i]);
  }
  return out + "]";
}

}  // namespace pf::opcua
