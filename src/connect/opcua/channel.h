#pragma once
// A UA TCP connection with one UA Secure Conversation channel on it (OPC 10000-6 §6.7, §7.1):
// Hello/Acknowledge with buffer and message size limits, OpenSecureChannel (Issue and Renew) with
// SecurityPolicy None or Basic256Sha256 in Sign / SignAndEncrypt, chunking of requests and reassembly
// of multi-chunk responses within the negotiated limits, sequence numbers and request ids, and
// CloseSecureChannel.
//
// Synchronous: one request at a time, the caller's thread does the I/O (the commissioning tool and
// the tests; a subscription runtime puts its own thread around it). Token renewal happens before a
// request once 75 % of the revised lifetime has passed (Renew()/MaybeRenew() may also be called).
// Every malformed or unexpected message closes the channel: the reason is logged (PF_LOG_WARN) and
// returned, and every later call answers kUnavailable with that reason. Nothing is trusted from the
// wire without a bounds check; sizes are capped by the limits below.
//
// Errors: kUnavailable for the network (connect refused, timeout, peer closed, ERR message);
// kInvalidArgument for a bad URL or options; kPermissionDenied when a signature does not verify or the
// server refuses our certificate (BadSecurityChecksFailed / BadCertificateUntrusted);
// kDataLoss for malformed bytes from the server.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "connect/opcua/crypto.h"
#include "connect/opcua/messages.h"
#include "connect/opcua/pki.h"
#include "core/status.h"

namespace pf::opcua {

// "opc.tcp://host:port/path" -> host, port (default 4840).
struct EndpointAddress {
  std::string host;
  int port = 4840;
};
Result<EndpointAddress> ParseEndpointUrl(std::string_view url);

struct ChannelOptions {
  std::string endpoint_url;
  const SecurityPolicy* policy = nullptr;  // nullptr = None
  MessageSecurityMode mode = MessageSecurityMode::kNone;
  CertificateAndKey own;                   // needed unless None
  Bytes server_certificate;                // DER; needed unless None
  uint32_t requested_lifetime_ms = 3600000;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};  // per receive of a response
  uint32_t receive_buffer_size = 65536;   // our chunk size limit (>= 8192)
  uint32_t send_buffer_size = 65536;
  uint32_t max_message_size = 16u << 20;  // largest response body we accept
  uint32_t max_chunk_count = 4096;        // most chunks per response
};

class SecureChannel {
 public:
  ~SecureChannel();
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;

  // Connects, Hello/Acknowledge, OpenSecureChannel(Issue).
  static Result<std::unique_ptr<SecureChannel>> Open(ChannelOptions options);

  // Sends a service request body (encoding id + structure) and returns the response body.
  Result<std::string> Request(std::string_view body);
  template <typename Resp, typename Req>
  Result<Resp> Call(const Req& req) {
    PF_ASSIGN_OR_RETURN(std::string body, Request(EncodeServiceBody(req)));
    auto r = DecodeServiceBody<Resp>(body);
    if (!r.ok() && r.status().code() == ::pf::StatusCode::kInvalidArgument) {
      return Fail(Status(::pf::StatusCode::kDataLoss, r.status().message()));
    }
    return r;
  }

  Status Renew();
  Status MaybeRenew();  // Renew() when 75 % of the token lifetime has passed
  // CloseSecureChannel, then closes the socket. Idempotent.
  void Close();

  bool is_open() const { return fd_ >= 0; }
  const std::string& closed_reason() const { return closed_reason_; }
  uint32_t channel_id() const { return channel_id_; }
  uint32_t token_id() const { return token_.token_id; }
  uint32_t revised_lifetime_ms() const { return token_.revised_lifetime; }
  int renewals() const { return renewals_; }
  const Acknowledge& acknowledge() const { return ack_; }
  const ChannelOptions& options() const { return opt_; }
  const SecurityPolicy& policy() const { return *opt_.policy; }
  // A RequestHeader with the next request handle, timestamp and timeout hint.
  RequestHeader NewHeader(const NodeId& auth_token = {});
  // The largest body one request chunk can carry (for tests and diagnostics).
  size_t MaxRequestBodyPerChunk() const;
  // Test hook: incoming chunks of the last response.
  int last_response_chunks() const { return last_chunks_; }

  // Closes the channel with a reason (logged); returns it as a Status with the given code.
  Status Fail(Status why);

 private:
  explicit SecureChannel(ChannelOptions o);
  Status Connect();
  Status Hello();
  Status OpenOrRenew(SecurityTokenRequestType type);
  Status SendAll(std::string_view bytes);
  Result<std::string> ReceiveMessage();  // one whole chunk (header included)
  Result<std::string> BuildSymmetricChunk(std::string_view type, char chunk, uint32_t request_id,
                                          std::string_view body);
  // Verifies/decrypts a MSG/CLO chunk, checks channel/token/sequence; returns the body part.
  Status OpenSymmetricChunk(std::string_view msg, SequenceHeader* seq, std::string* body);
  Status CheckSequence(uint32_t seq);
  bool secure() const { return opt_.mode != MessageSecurityMode::kNone && !opt_.policy->is_none(); }
  bool encrypt() const { return opt_.mode == MessageSecurityMode::kSignAndEncrypt && !opt_.policy->is_none(); }

  ChannelOptions opt_;
  RsaKey server_key_;
  int fd_ = -1;
  std::string closed_reason_;
  Acknowledge ack_;
  uint32_t channel_id_ = 0;
  ChannelSecurityToken token_;
  std::chrono::steady_clock::time_point token_received_;
  std::map<uint32_t, ChannelKeys> keys_;  // by token id: the current one and the one before
  uint32_t send_sequence_ = 0, request_id_ = 0, request_handle_ = 0;
  uint32_t recv_sequence_ = 0;
  bool have_recv_sequence_ = false;
  int renewals_ = 0;
  int last_chunks_ = 0;
};

}  // namespace pf::opcua
