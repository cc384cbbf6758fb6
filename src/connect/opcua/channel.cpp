#include "connect/opcua/channel.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace pf::opcua {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kSymHeader = 16;  // type+chunk, size, channel id, token id
constexpr size_t kSeqHeader = 8;

int64_t NowTicks() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  return UnixNanosToTicks(ns.count());
}

std::string Bytes2Str(const Bytes& b) { return AsString(b); }

}  // namespace

Result<EndpointAddress> ParseEndpointUrl(std::string_view url) {
  constexpr std::string_view kScheme = "opc.tcp://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("endpoint '{}': must start with opc.tcp://", url);
  }
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  EndpointAddress a;
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return InvalidArgument("endpoint '{}': unterminated '[' in host", url);
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return InvalidArgument("endpoint '{}': expected ':' after ']'", url);
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgument("endpoint '{}': no host", url);
  a.host = std::string(host);
  if (!port.empty() || rest.find(':') != std::string_view::npos) {
    int p = 0;
    if (port.empty() || port.size() > 5) return InvalidArgument("endpoint '{}': bad port '{}'", url, port);
    for (char c : port) {
      if (c < '0' || c > '9') return InvalidArgument("endpoint '{}': bad port '{}'", url, port);
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return InvalidArgument("endpoint '{}': port {} out of range 1..65535", url, p);
    a.port = p;
  }
  return a;
}

SecureChannel::SecureChannel(ChannelOptions o) : opt_(std::move(o)) {
  if (opt_.policy == nullptr) opt_.policy = &SecurityPolicyNone();
  if (opt_.policy->is_none()) opt_.mode = MessageSecurityMode::kNone;
}

SecureChannel::~SecureChannel() { Close(); }

Status SecureChannel::Fail(Status why) {
  if (closed_reason_.empty()) closed_reason_ = why.message();
  PF_LOG_WARN("opcua channel {} to {} closed: {}", channel_id_, opt_.endpoint_url, why.message());
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return why;
}

Result<std::unique_ptr<SecureChannel>> SecureChannel::Open(ChannelOptions options) {
  if (options.receive_buffer_size < 8192 || options.send_buffer_size < 8192) {
    return InvalidArgument("channel: buffer sizes must be at least 8192 bytes (OPC 10000-6 7.1.2.3)");
  }
  std::unique_ptr<SecureChannel> ch(new SecureChannel(std::move(options)));
  if (ch->secure()) {
    if (!ch->opt_.own.key.valid() || !ch->opt_.own.key.has_private() || ch->opt_.own.der.empty()) {
      return InvalidArgument("channel: security {} needs the client certificate and private key",
                             ch->opt_.policy->uri());
    }
    if (ch->opt_.server_certificate.empty()) {
      return InvalidArgument("channel: security {} needs the server certificate", ch->opt_.policy->uri());
    }
    PF_ASSIGN_OR_RETURN(ch->server_key_, RsaKey::FromCertificateDer(ch->opt_.server_certificate));
  }
  PF_RETURN_IF_ERROR(ch->Connect());
  PF_RETURN_IF_ERROR(ch->Hello());
  PF_RETURN_IF_ERROR(ch->OpenOrRenew(SecurityTokenRequestType::kIssue));
  return ch;
}

Status SecureChannel::Connect() {
  PF_ASSIGN_OR_RETURN(EndpointAddress a, ParseEndpointUrl(opt_.endpoint_url));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(a.port);
  if (int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Unavailable("{}: cannot resolve host '{}': {}", opt_.endpoint_url, a.host, ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(opt_.connect_timeout.count()));
      if (rc == 0) {
        last = fmt::format("connect timed out after {} ms", opt_.connect_timeout.count());
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFL, flags);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    break;
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) return Unavailable("{}: cannot connect to {}:{}: {}", opt_.endpoint_url, a.host, a.port, last);
  return Status::Ok();
}

Status SecureChannel::SendAll(std::string_view bytes) {
  const auto deadline = Clock::now() + opt_.io_timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLOUT, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
        return Fail(Unavailable("send timed out after {} ms", opt_.io_timeout.count()));
      }
      continue;
    }
    return Fail(Unavailable("send failed: {}", std::strerror(errno)));
  }
  return Status::Ok();
}

Result<std::string> SecureChannel::ReceiveMessage() {
  if (fd_ < 0) return Unavailable("channel closed: {}", closed_reason_);
  const auto deadline = Clock::now() + opt_.io_timeout;
  auto read_exactly = [&](std::string* out, size_t n) -> Status {
    size_t got = out->size();
    out->resize(got + n);
    size_t end = got + n;
    while (got < end) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      int rc = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
      if (rc == 0) return Fail(Unavailable("no response from the server within {} ms", opt_.io_timeout.count()));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return Fail(Unavailable("poll failed: {}", std::strerror(errno)));
      }
      ssize_t r = ::recv(fd_, out->data() + got, end - got, 0);
      if (r == 0) return Fail(Unavailable("server closed the connection"));
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Fail(Unavailable("receive failed: {}", std::strerror(errno)));
      }
      got += static_cast<size_t>(r);
    }
    return Status::Ok();
  };
  std::string m;
  PF_RETURN_IF_ERROR(read_exactly(&m, kTransportHeaderSize));
  auto h = DecodeTransportHeader(m);
  if (!h.ok()) return Fail(DataLoss("bad message header: {}", h.status().message()));
  if (h->size > opt_.receive_buffer_size) {
    return Fail(DataLoss("{} chunk of {} bytes exceeds our ReceiveBufferSize {}", h->type, h->size,
                         opt_.receive_buffer_size));
  }
  PF_RETURN_IF_ERROR(read_exactly(&m, h->size - kTransportHeaderSize));
  if (h->type == "ERR") {
    auto e = DecodeTransportError(m);
    if (!e.ok()) return Fail(DataLoss("malformed ERR message: {}", e.status().message()));
    return Fail(Unavailable("server error {}: {}", e->error.Name(), e->reason));
  }
  return m;
}

Status SecureChannel::Hello() {
  opcua::Hello hello;
  hello.receive_buffer_size = opt_.receive_buffer_size;
  hello.send_buffer_size = opt_.send_buffer_size;
  hello.max_message_size = opt_.max_message_size;
  hello.max_chunk_count = opt_.max_chunk_count;
  hello.endpoint_url = opt_.endpoint_url;
  PF_RETURN_IF_ERROR(SendAll(EncodeHello(hello)));
  PF_ASSIGN_OR_RETURN(std::string reply, ReceiveMessage());
  auto ack = DecodeAcknowledge(reply);
  if (!ack.ok()) return Fail(DataLoss("Hello answered with a bad Acknowledge: {}", ack.status().message()));
  ack_ = *ack;
  if (ack_.receive_buffer_size < 8192) {
    return Fail(DataLoss("Acknowledge: ReceiveBufferSize {} below the minimum 8192", ack_.receive_buffer_size));
  }
  if (ack_.send_buffer_size > opt_.receive_buffer_size) {
    return Fail(DataLoss("Acknowledge: SendBufferSize {} larger than our ReceiveBufferSize {}", ack_.send_buffer_size,
                         opt_.receive_buffer_size));
  }
  return Status::Ok();
}

size_t SecureChannel::MaxRequestBodyPerChunk() const {
  const size_t chunk = std::min<size_t>(opt_.send_buffer_size, ack_.receive_buffer_size);
  if (!secure()) return chunk - kSymHeader - kSeqHeader;
  const size_t sig = opt_.policy->SymmetricSignatureSize();
  if (!encrypt()) return chunk - kSymHeader - kSeqHeader - sig;
  const size_t block = opt_.policy->SymmetricBlockSize();
  return block * ((chunk - kSymHeader - sig - 1) / block) - kSeqHeader;
}

RequestHeader SecureChannel::NewHeader(const NodeId& auth_token) {
  RequestHeader h;
  h.authentication_token = auth_token;
  h.timestamp = NowTicks();
  h.request_handle = ++request_handle_;
  h.timeout_hint = static_cast<uint32_t>(opt_.io_timeout.count());
  return h;
}

Status SecureChannel::CheckSequence(uint32_t seq) {
  // Part 6 6.7.2.4: strictly increasing; it may wrap to a value below 1024 after UInt32.Max - 1024.
  if (have_recv_sequence_) {
    bool wrapped = recv_sequence_ > 0xFFFFFFFFu - 1024 && seq < 1024;
    if (seq <= recv_sequence_ && !wrapped) {
      return Fail(DataLoss("sequence number {} after {} (replayed or reordered chunk)", seq, recv_sequence_));
    }
  }
  recv_sequence_ = seq;
  have_recv_sequence_ = true;
  return Status::Ok();
}

Status SecureChannel::OpenOrRenew(SecurityTokenRequestType type) {
  const SecurityPolicy& p = *opt_.policy;
  OpenSecureChannelRequest req;
  req.request_header = NewHeader();
  req.request_type = type;
  req.security_mode = opt_.mode;
  req.requested_lifetime = opt_.requested_lifetime_ms;
  PF_ASSIGN_OR_RETURN(Bytes client_nonce, p.GenerateNonce());
  req.client_nonce = Bytes2Str(client_nonce);
  AsymmetricSecurityHeader sec{std::string(p.uri()), "", ""};
  if (secure()) {
    sec.sender_certificate = Bytes2Str(opt_.own.der);
    sec.receiver_certificate_thumbprint = Bytes2Str(Thumbprint(opt_.server_certificate));
  }
  const uint32_t request_id = ++request_id_;
  const SequenceHeader seq{++send_sequence_, request_id};
  const std::string body = EncodeServiceBody(req);
  std::string out;
  if (!secure()) {
    out = EncodeOpenChunk(channel_id_, sec, seq, body);
  } else {
    Encoder secb;
    sec.Encode(secb);
    Encoder plain;
    seq.Encode(plain);
    plain.Raw(body);
    const size_t sig_size = p.AsymmetricSignatureSize(opt_.own.key);
    const size_t block = p.AsymmetricPlainBlockSize(server_key_);
    Padding pad = ComputePadding(plain.size(), sig_size, block, server_key_.bits() > 2048);
    plain.Raw(AsString(pad.Encode()));
    const size_t cipher_size = (plain.size() + sig_size) / block * p.AsymmetricCipherBlockSize(server_key_);
    Encoder head;
    head.Raw("OPNF");
    head.UInt32(static_cast<uint32_t>(12 + secb.size() + cipher_size));
    head.UInt32(channel_id_);
    head.Raw(secb.bytes());
    if (12 + secb.size() + cipher_size > ack_.receive_buffer_size) {
      return Fail(InvalidArgument("OpenSecureChannel of {} bytes exceeds the server's ReceiveBufferSize {}",
                                  12 + secb.size() + cipher_size, ack_.receive_buffer_size));
    }
    std::string to_sign = head.bytes() + plain.bytes();
    PF_ASSIGN_OR_RETURN(Bytes sig, p.AsymmetricSign(opt_.own.key, AsBytes(to_sign)));
    std::string signed_plain = plain.Take() + AsString(sig);
    PF_ASSIGN_OR_RETURN(Bytes cipher, p.AsymmetricEncrypt(server_key_, AsBytes(signed_plain)));
    if (cipher.size() != cipher_size) return Fail(Internal("OPN: cipher size {} != {}", cipher.size(), cipher_size));
    out = head.Take() + AsString(cipher);
  }
  PF_RETURN_IF_ERROR(SendAll(out));

  PF_ASSIGN_OR_RETURN(std::string m, ReceiveMessage());
  auto chunk = DecodeSecureChunk(m);
  if (!chunk.ok()) return Fail(DataLoss("OpenSecureChannel response: {}", chunk.status().message()));
  if (chunk->header.type != "OPN" || !chunk->asymmetric) {
    return Fail(DataLoss("OpenSecureChannel answered with a {} message", chunk->header.type));
  }
  if (chunk->header.chunk != 'F') return Fail(DataLoss("OpenSecureChannel response in several chunks (unsupported)"));
  if (chunk->asymmetric->security_policy_uri != p.uri()) {
    return Fail(DataLoss("OpenSecureChannel response with policy '{}', asked for '{}'",
                         chunk->asymmetric->security_policy_uri, p.uri()));
  }
  SequenceHeader rseq;
  std::string rbody;
  if (!secure()) {
    std::string_view part;
    Status st = SplitPlainChunk(*chunk, &rseq, &part);
    if (!st.ok()) return Fail(DataLoss("OpenSecureChannel response: {}", st.message()));
    rbody = std::string(part);
  } else {
    if (chunk->asymmetric->sender_certificate != Bytes2Str(opt_.server_certificate)) {
      return Fail(PermissionDenied("OpenSecureChannel response signed with another certificate than the endpoint's"));
    }
    if (!chunk->asymmetric->receiver_certificate_thumbprint.empty() &&
        chunk->asymmetric->receiver_certificate_thumbprint != Bytes2Str(Thumbprint(opt_.own.der))) {
      return Fail(DataLoss("OpenSecureChannel response encrypted for another certificate"));
    }
    if (chunk->secured.size() % p.AsymmetricCipherBlockSize(opt_.own.key) != 0) {
      // An unencrypted ServiceFault is not allowed; treat as malformed.
      return Fail(DataLoss("OpenSecureChannel response: {} encrypted bytes, not a multiple of {}",
                           chunk->secured.size(), p.AsymmetricCipherBlockSize(opt_.own.key)));
    }
    auto dec = p.AsymmetricDecrypt(opt_.own.key, AsBytes(chunk->secured));
    if (!dec.ok()) return Fail(PermissionDenied("OpenSecureChannel response: {}", dec.status().message()));
    const size_t sig = p.AsymmetricSignatureSize(server_key_);
    if (dec->size() < sig + kSeqHeader + 1) return Fail(DataLoss("OpenSecureChannel response too short"));
    std::string signed_part = m.substr(0, chunk->security_header_end) + AsString(ByteView(*dec).first(dec->size() - sig));
    Status v = p.AsymmetricVerify(server_key_, AsBytes(signed_part), ByteView(*dec).last(sig));
    if (!v.ok()) return Fail(PermissionDenied("OpenSecureChannel response signature: {}", v.message()));
    auto pad = ParsePadding(ByteView(*dec).first(dec->size() - sig), opt_.own.key.bits() > 2048);
    if (!pad.ok()) return Fail(DataLoss("OpenSecureChannel response padding: {}", pad.status().message()));
    const size_t plain_len = dec->size() - sig - *pad;
    if (plain_len < kSeqHeader) return Fail(DataLoss("OpenSecureChannel response without a sequence header"));
    std::string plain = AsString(ByteView(*dec).first(plain_len));
    Decoder d(plain);
    Status st = rseq.Decode(d);
    if (!st.ok()) return Fail(DataLoss("OpenSecureChannel response: {}", st.message()));
    rbody = plain.substr(kSeqHeader);
  }
  if (rseq.request_id != request_id) {
    return Fail(DataLoss("OpenSecureChannel response for request {}, expected {}", rseq.request_id, request_id));
  }
  if (type == SecurityTokenRequestType::kIssue) have_recv_sequence_ = false;
  PF_RETURN_IF_ERROR(CheckSequence(rseq.sequence_number));
  auto resp = DecodeServiceBody<OpenSecureChannelResponse>(rbody);
  if (!resp.ok()) {
    ::pf::StatusCode code = resp.status().code() == ::pf::StatusCode::kInvalidArgument ? ::pf::StatusCode::kDataLoss
                                                                                        : resp.status().code();
    const std::string& msg = resp.status().message();
    if (msg.find("BadSecurityChecksFailed") != std::string::npos ||
        msg.find("BadCertificate") != std::string::npos) {
      code = ::pf::StatusCode::kPermissionDenied;
      return Fail(Status(code, fmt::format("{}: the server refused our certificate; on the server, move it from "
                                           "its rejected folder to its trusted folder (thumbprint {})",
                                           msg, ThumbprintHex(opt_.own.der))));
    }
    return Fail(Status(code, msg));
  }
  if (!resp->response_header.service_result.IsGood()) {
    return Fail(Unavailable("OpenSecureChannel: {}", resp->response_header.service_result.Name()));
  }
  if (type == SecurityTokenRequestType::kIssue) {
    channel_id_ = chunk->secure_channel_id;
  } else if (chunk->secure_channel_id != channel_id_) {
    return Fail(DataLoss("renewed token for channel {}, ours is {}", chunk->secure_channel_id, channel_id_));
  }
  if (resp->security_token.channel_id != channel_id_) {
    return Fail(DataLoss("security token for channel {}, the chunk says {}", resp->security_token.channel_id, channel_id_));
  }
  if (resp->security_token.revised_lifetime == 0) return Fail(DataLoss("security token with lifetime 0"));
  ChannelKeys keys;
  if (secure()) {
    if (resp->server_nonce.size() != p.nonce_length()) {
      return Fail(DataLoss("server nonce of {} bytes, expected {}", resp->server_nonce.size(), p.nonce_length()));
    }
    PF_ASSIGN_OR_RETURN(keys, p.DeriveKeys(client_nonce, AsBytes(resp->server_nonce)));
  }
  // Keep the previous token's keys: the server may still answer with it until it sees the new one.
  std::map<uint32_t, ChannelKeys> kept;
  if (keys_.count(token_.token_id) != 0) kept[token_.token_id] = keys_[token_.token_id];
  kept[resp->security_token.token_id] = std::move(keys);
  keys_ = std::move(kept);
  token_ = resp->security_token;
  token_received_ = Clock::now();
  if (type == SecurityTokenRequestType::kRenew) ++renewals_;
  return Status::Ok();
}

Status SecureChannel::Renew() {
  if (fd_ < 0) return Unavailable("channel closed: {}", closed_reason_);
  return OpenOrRenew(SecurityTokenRequestType::kRenew);
}

Status SecureChannel::MaybeRenew() {
  if (fd_ < 0) return Unavailable("channel closed: {}", closed_reason_);
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - token_received_).count();
  if (static_cast<double>(age) >= 0.75 * token_.revised_lifetime) return Renew();
  return Status::Ok();
}

Result<std::string> SecureChannel::BuildSymmetricChunk(std::string_view type, char chunk, uint32_t request_id,
                                                       std::string_view body) {
  const SecurityPolicy& p = *opt_.policy;
  Encoder plain;
  SequenceHeader{++send_sequence_, request_id}.Encode(plain);
  plain.Raw(body);
  const size_t sig = secure() ? p.SymmetricSignatureSize() : 0;
  if (encrypt()) {
    Padding pad = ComputePadding(plain.size(), sig, p.SymmetricBlockSize(), false);
    plain.Raw(AsString(pad.Encode()));
  }
  Encoder head;
  head.Raw(type);
  head.Byte(static_cast<uint8_t>(chunk));
  head.UInt32(static_cast<uint32_t>(kSymHeader + plain.size() + sig));
  head.UInt32(channel_id_);
  head.UInt32(token_.token_id);
  if (!secure()) return head.Take() + plain.Take();
  const ChannelKeys& keys = keys_[token_.token_id];
  std::string to_sign = head.bytes() + plain.bytes();
  PF_ASSIGN_OR_RETURN(Bytes s, p.SymmetricSign(keys.client, AsBytes(to_sign)));
  if (!encrypt()) return to_sign + AsString(s);
  std::string tail = plain.Take() + AsString(s);
  PF_ASSIGN_OR_RETURN(Bytes cipher, p.SymmetricEncrypt(keys.client, AsBytes(tail)));
  return head.Take() + AsString(cipher);
}

Status SecureChannel::OpenSymmetricChunk(std::string_view msg, SequenceHeader* seq, std::string* body) {
  auto chunk = DecodeSecureChunk(msg);
  if (!chunk.ok()) return Fail(DataLoss("malformed chunk: {}", chunk.status().message()));
  if (chunk->header.type != "MSG" && chunk->header.type != "CLO") {
    return Fail(DataLoss("expected a MSG chunk, got {}", chunk->header.type));
  }
  if (chunk->secure_channel_id != channel_id_) {
    return Fail(DataLoss("chunk for channel {}, ours is {}", chunk->secure_channel_id, channel_id_));
  }
  auto k = keys_.find(chunk->token_id);
  if (k == keys_.end()) return Fail(DataLoss("chunk with unknown token id {}", chunk->token_id));
  std::string plain;
  if (!secure()) {
    plain = std::string(chunk->secured);
  } else {
    const SecurityPolicy& p = *opt_.policy;
    const size_t sig = p.SymmetricSignatureSize();
    std::string clear;
    if (encrypt()) {
      if (chunk->secured.size() % p.SymmetricBlockSize() != 0) {
        return Fail(DataLoss("encrypted chunk of {} bytes is not a multiple of {}", chunk->secured.size(),
                             p.SymmetricBlockSize()));
      }
      auto dec = p.SymmetricDecrypt(k->second.server, AsBytes(chunk->secured));
      if (!dec.ok()) return Fail(PermissionDenied("chunk does not decrypt: {}", dec.status().message()));
      clear = AsString(*dec);
    } else {
      clear = std::string(chunk->secured);
    }
    if (clear.size() < sig + kSeqHeader) return Fail(DataLoss("secured chunk of {} bytes is too short", clear.size()));
    std::string signed_part = std::string(msg.substr(0, chunk->security_header_end)) + clear.substr(0, clear.size() - sig);
    Status v = p.SymmetricVerify(k->second.server, AsBytes(signed_part), AsBytes(std::string_view(clear).substr(clear.size() - sig)));
    if (!v.ok()) return Fail(PermissionDenied("chunk signature does not verify: {}", v.message()));
    size_t pad = 0;
    if (encrypt()) {
      auto pr = ParsePadding(AsBytes(std::string_view(clear).substr(0, clear.size() - sig)), false);
      if (!pr.ok()) return Fail(DataLoss("chunk padding: {}", pr.status().message()));
      pad = *pr;
    }
    if (clear.size() < sig + pad + kSeqHeader) return Fail(DataLoss("chunk shorter than its padding"));
    plain = clear.substr(0, clear.size() - sig - pad);
  }
  if (plain.size() < kSeqHeader) return Fail(DataLoss("chunk without a sequence header"));
  Decoder d(plain);
  Status st = seq->Decode(d);
  if (!st.ok()) return Fail(DataLoss("chunk sequence header: {}", st.message()));
  PF_RETURN_IF_ERROR(CheckSequence(seq->sequence_number));
  *body = plain.substr(kSeqHeader);
  // Once the server uses the newest token, the older one's keys are no longer needed.
  if (chunk->token_id == token_.token_id && keys_.size() > 1) {
    for (auto it = keys_.begin(); it != keys_.end();) it = it->first == token_.token_id ? std::next(it) : keys_.erase(it);
  }
  return Status::Ok();
}

Result<std::string> SecureChannel::Request(std::string_view body) {
  if (fd_ < 0) return Unavailable("channel closed: {}", closed_reason_);
  PF_RETURN_IF_ERROR(MaybeRenew());
  const size_t per_chunk = MaxRequestBodyPerChunk();
  const size_t chunks = body.empty() ? 1 : (body.size() + per_chunk - 1) / per_chunk;
  if (ack_.max_message_size != 0 && body.size() > ack_.max_message_size) {
    return InvalidArgument("request of {} bytes exceeds the server's MaxMessageSize {}", body.size(), ack_.max_message_size);
  }
  if (ack_.max_chunk_count != 0 && chunks > ack_.max_chunk_count) {
    return InvalidArgument("request needs {} chunks, the server accepts {}", chunks, ack_.max_chunk_count);
  }
  const uint32_t request_id = ++request_id_;
  for (size_t i = 0; i < chunks; ++i) {
    std::string_view part = body.substr(std::min(body.size(), i * per_chunk), per_chunk);
    PF_ASSIGN_OR_RETURN(std::string c, BuildSymmetricChunk("MSG", i + 1 == chunks ? 'F' : 'C', request_id, part));
    PF_RETURN_IF_ERROR(SendAll(c));
  }
  std::string out;
  last_chunks_ = 0;
  for (;;) {
    PF_ASSIGN_OR_RETURN(std::string m, ReceiveMessage());
    SequenceHeader seq;
    std::string part;
    PF_RETURN_IF_ERROR(OpenSymmetricChunk(m, &seq, &part));
    if (m.compare(0, 3, "MSG") != 0) return Fail(DataLoss("server sent {} while a response was pending", m.substr(0, 3)));
    if (seq.request_id != request_id) {
      return Fail(DataLoss("response for request {}, expected {}", seq.request_id, request_id));
    }
    ++last_chunks_;
    const char kind = m[3];
    if (kind == 'A') {
      Decoder d(part);
      TransportError e;
      Status st = e.Decode(d);
      if (!st.ok()) return Fail(DataLoss("malformed abort chunk: {}", st.message()));
      return Unavailable("server aborted the response: {} {}", e.error.Name(), e.reason);
    }
    if (out.size() + part.size() > opt_.max_message_size) {
      return Fail(DataLoss("response exceeds our MaxMessageSize {}", opt_.max_message_size));
    }
    if (opt_.max_chunk_count != 0 && static_cast<uint32_t>(last_chunks_) > opt_.max_chunk_count) {
      return Fail(DataLoss("response exceeds our MaxChunkCount {}", opt_.max_chunk_count));
    }
    out += part;
    if (kind == 'F') return out;
  }
}

void SecureChannel::Close() {
  if (fd_ < 0) return;
  CloseSecureChannelRequest req;
  req.request_header = NewHeader();
  auto c = BuildSymmetricChunk("CLO", 'F', ++request_id_, EncodeServiceBody(req));
  if (c.ok()) (void)::send(fd_, c->data(), c->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd_);
  fd_ = -1;
  if (closed_reason_.empty()) closed_reason_ = "closed by the client";
}

}  // namespace pf::opcua
