#pragma once
// An OPC UA client session over a SecureChannel (OPC 10000-4 services): GetEndpoints, CreateSession +
// ActivateSession (anonymous or user name / password, the password encrypted per the endpoint's user
// token policy), Browse + BrowseNext, TranslateBrowsePathsToNodeIds and Read of any attribute.
//
// On connect the client reads the server's NamespaceArray (i=2255) so that "nsu=<uri>;..." node ids
// resolve to the current namespace index (indexes may change when a server restarts), and the
// OperationLimits MaxNodesPerRead / MaxNodesPerBrowse / MaxMonitoredItemsPerCall (children of i=11704)
// once; Read and Browse split their node lists into calls of at most those sizes (0 = no limit).
//
// With security Sign/SignAndEncrypt the server certificate from GetEndpoints is checked against the
// CertificateStore (pki.h) before the channel is opened; an untrusted one fails with kPermissionDenied
// and the store's message that says which file to move where.
// Synchronous and not thread-safe (one caller at a time), like SecureChannel.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connect/opcua/channel.h"
#include "connect/opcua/messages.h"
#include "connect/opcua/types.h"
#include "core/status.h"

namespace pf::opcua {

enum class Security { kNone, kSign, kSignAndEncrypt };
// "none" | "sign" | "encrypt" (also "signandencrypt").
Result<Security> ParseSecurity(std::string_view s);

struct ClientOptions {
  std::string endpoint_url;
  Security security = Security::kNone;
  std::string pki_dir;                  // certificate store root; needed unless kNone
  std::string application_uri = "urn:plantfloor:client";
  std::optional<std::string> user;      // user name / password; anonymous when unset
  std::string password;
  uint32_t requested_lifetime_ms = 3600000;
  double session_timeout_ms = 60000;
  uint32_t max_references_per_node = 0;  // Browse page size asked of the server (0: the server's choice)
  std::chrono::milliseconds timeout{10000};
};

struct OperationLimits {
  uint32_t max_nodes_per_read = 0;   // 0: no limit
  uint32_t max_nodes_per_browse = 0;
  uint32_t max_monitored_items_per_call = 0;
};

class Client {
 public:
  ~Client();
  // GetEndpoints on a SecurityPolicy None channel (discovery, allowed by every server).
  static Result<std::vector<EndpointDescription>> GetEndpoints(const std::string& endpoint_url,
                                                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Opens channel and session, reads the namespace array and operation limits.
  static Result<std::unique_ptr<Client>> Connect(ClientOptions options);

  // Every reference of each node (BrowseNext followed until the continuation point is empty).
  Result<std::vector<BrowseResult>> Browse(const std::vector<BrowseDescription>& nodes);
  Result<std::vector<ReferenceDescription>> BrowseChildren(const NodeId& node);
  Result<std::vector<BrowsePathResult>> TranslateBrowsePaths(const std::vector<BrowsePath>& paths);
  // Read, chunked by MaxNodesPerRead; one DataValue per item, in order.
  Result<std::vector<DataValue>> Read(const std::vector<ReadValueId>& items,
                                      TimestampsToReturn timestamps = TimestampsToReturn::kBoth);
  Result<DataValue> ReadValue(const NodeId& node);

  // "ns=2;s=x", "i=85" or "nsu=urn:...;s=x" -> a NodeId with the current namespace index.
  Result<NodeId> ResolveNodeId(std::string_view text) const;
  Result<NodeId> Resolve(const ExpandedNodeId& id) const;
  // Reads the NamespaceArray again (after a server restart).
  Status RefreshNamespaces();

  void Close();  // CloseSession + CloseSecureChannel; idempotent

  // Recovery after a broken connection (used by Monitor, monitor.h). ReopenChannel opens a new secure
  // channel with the options of the first one (same endpoint, security and certificates); the session
  // is kept. ReactivateSession then moves the existing session to the new channel (ActivateSession
  // with its authentication token, OPC 10000-4 §5.6.3); when the server no longer knows the session it
  // fails (kUnavailable, "BadSessionIdInvalid" in the message) and NewSession creates and activates a
  // fresh one. Client services (Read, Browse, ...) use whichever channel is current, so objects that
  // hold a Client& (Subscription) stay bound across a reconnect.
  Status ReopenChannel();
  Status ReactivateSession();
  Status NewSession();
  // Reads the OperationLimits again (after a server restart).
  Status RefreshLimits() { return ReadLimits(); }
  // Security token renewals of the channels closed by ReopenChannel plus those of the current one.
  int total_channel_renewals() const { return past_renewals_ + (channel_ ? channel_->renewals() : 0); }

  const std::vector<std::string>& namespaces() const { return namespaces_; }
  const OperationLimits& limits() const { return limits_; }
  // Test hook: pretend the server announced smaller limits.
  void set_limits(const OperationLimits& l) { limits_ = l; }
  const EndpointDescription& endpoint() const { return endpoint_; }
  SecureChannel& channel() { return *channel_; }
  const NodeId& auth_token() const { return auth_token_; }  // session token for services called outside Client
  int read_calls() const { return read_calls_; }  // Read service calls made
  int browse_calls() const { return browse_calls_; }  // Browse service calls made (BrowseNext not counted)
  int browse_next_calls() const { return browse_next_calls_; }
  void set_max_references_per_node(uint32_t n) { opt_.max_references_per_node = n; }

 private:
  Client() = default;
  Status CreateAndActivate();
  Status CreateSession();
  Status ActivateSession();
  Status ReadLimits();
  template <typename Resp, typename Req>
  Result<Resp> Call(Req req);

  ClientOptions opt_;
  EndpointDescription endpoint_;
  std::unique_ptr<SecureChannel> channel_;
  ChannelOptions channel_options_;  // what ReopenChannel opens again
  NodeId auth_token_;
  std::string server_nonce_;        // the last one from CreateSession / ActivateSession
  int past_renewals_ = 0;
  std::vector<std::string> namespaces_;
  OperationLimits limits_;
  int read_calls_ = 0;
  int browse_calls_ = 0;
  int browse_next_calls_ = 0;
};

// Display helpers for the CLI and logs: "Int32 42", "String \"hello\"", arrays as "[1, 2]".
std::string VariantToString(const Variant& v);
std::string ScalarToString(BuiltinType t, const Scalar& s);

}  // namespace pf::opcua
