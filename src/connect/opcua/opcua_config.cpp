#include "connect/opcua/opcua_config.h"

#include <array>
#include <cmath>
#include <cstdlib>

#include "connect/opcua/channel.h"

namespace pf::opcua {
namespace {

constexpr std::array<FieldSpec, 17> kSourceSpec = {{
    {"endpoint", FieldType::kString, true, "", "opc.tcp://HOST:PORT/PATH of the server"},
    {"security", FieldType::kString, false, "none", "none, sign or encrypt (Basic256Sha256 SignAndEncrypt)"},
    {"pki_dir", FieldType::kString, false, "", "certificate store (own, trusted, rejected); required unless security = none"},
    {"application_uri", FieldType::kString, false, "urn:plantfloor:client", "our ApplicationUri (in the client certificate)"},
    {"user", FieldType::kString, false, "", "user name; anonymous when unset"},
    {"password", FieldType::kString, false, "", "password of user (prefer password_env or ${VAR})"},
    {"password_env", FieldType::kString, false, "", "name of the environment variable that holds the password"},
    {"publishing_interval", FieldType::kDuration, false, "1s", "subscription publishing interval"},
    {"sampling_interval", FieldType::kDuration, false, "<publishing_interval>", "default sampling interval of the items"},
    {"queue_size", FieldType::kInt, false, "publishing / sampling interval",
     "values the server queues per item between two publishes (1..10000)"},
    {"keep_alive_count", FieldType::kInt, false, "10", "publishing intervals without data before a keep-alive"},
    {"lifetime_count", FieldType::kInt, false, "60", "publishing intervals without Publish before the server drops the "
                                                     "subscription (at least 3 x keep_alive_count)"},
    {"requested_lifetime", FieldType::kDuration, false, "1h", "secure channel token lifetime asked of the server (renewed at 75 %)"},
    {"session_timeout", FieldType::kDuration, false, "60s", "session timeout asked of the server"},
    {"timeout", FieldType::kDuration, false, "10s", "timeout of one service call (and of the TCP connect)"},
    {"reconnect_min", FieldType::kDuration, false, "500ms", "first reconnect delay; doubles per failure"},
    {"reconnect_max", FieldType::kDuration, false, "10s", "largest reconnect delay"},
}};

constexpr std::array<FieldSpec, 8> kTagSpec = {{
    {"node", FieldType::kString, false, "", "node id: ns=2;s=Line1.Temperature, i=2258, nsu=URI;s=X (node or browse_path)"},
    {"browse_path", FieldType::kString, false, "", "browse names from Objects: 1:Line1/1:Temperature (node or browse_path)"},
    {"sampling_interval", FieldType::kDuration, false, "<source.sampling_interval>", "sampling interval of this item"},
    {"queue_size", FieldType::kInt, false, "<source.queue_size>", "server queue of this item (1..10000)"},
    {"server_deadband", FieldType::kDouble, false, "0",
     "server-side DataChangeFilter deadband (0 = none); the common 'deadband' key filters storage only"},
    {"server_deadband_type", FieldType::kString, false, "absolute", "absolute (value units) or percent (of EURange)"},
    {"waveform", FieldType::kBool, false, "false", "a numeric array value is a waveform block (needs sample_rate)"},
    {"sample_rate", FieldType::kDouble, false, "", "samples per second of a waveform array (Hz)"},
}};

constexpr uint32_t kMaxQueue = 10000;

double Ms(Duration d) { return static_cast<double>(d.count()) * 1e-6; }

}  // namespace

std::span<const FieldSpec> SourceSpec() { return kSourceSpec; }
std::span<const FieldSpec> TagSpec() { return kTagSpec; }

Status CheckBrowsePath(std::string_view path) {
  if (path.empty()) return InvalidArgument("empty browse path");
  size_t start = 0;
  for (int index = 1;; ++index) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty())
      return InvalidArgument("segment {} of \"{}\" is empty; expected NS:Name segments separated by '/'", index, path);
    size_t colon = seg.find(':');
    if (colon != std::string_view::npos && colon > 0 &&
        seg.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos) {
      if (colon == seg.size() - 1)
        return InvalidArgument("segment {} \"{}\" of \"{}\" has a namespace index but no name", index, seg, path);
      if (colon > 5 || std::stoul(std::string(seg.substr(0, colon))) > 65535)
        return InvalidArgument("segment {} \"{}\" of \"{}\": namespace index above 65535", index, seg, path);
    }
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

Result<TagConfig> ReadTagConfig(const ConfigNode& tag_table, double sampling_ms, uint32_t queue_size) {
  ConfigReader r(tag_table, kTagSpec);
  TagConfig t;
  bool has_node = r.Has("node"), has_path = r.Has("browse_path");
  if (has_node == has_path)
    return r.Error(has_node ? "browse_path" : "node",
                   has_node ? "give either node or browse_path, not both"
                            : "missing; every OPC UA tag needs node (ns=2;s=X) or browse_path (1:Line1/1:X)");
  if (has_node) {
    PF_ASSIGN_OR_RETURN(t.item.node, r.String("node"));
    auto id = ParseExpandedNodeId(t.item.node);
    if (!id.ok()) return r.Error("node", id.status().message());
    if (id->server_index != 0) return r.Error("node", "svr= (a node on another server) cannot be monitored");
  } else {
    PF_ASSIGN_OR_RETURN(t.item.browse_path, r.String("browse_path"));
    if (Status s = CheckBrowsePath(t.item.browse_path); !s.ok()) return r.Error("browse_path", s.message());
  }
  t.item.sampling_interval_ms = sampling_ms;
  if (r.Has("sampling_interval")) {
    PF_ASSIGN_OR_RETURN(Duration d, r.Dur("sampling_interval", Duration(0)));
    if (d.count() < 0) return r.Error("sampling_interval", "must not be negative (0 = as fast as the server can)");
    t.item.sampling_interval_ms = Ms(d);
  }
  PF_ASSIGN_OR_RETURN(int64_t queue, r.IntIn("queue_size", queue_size, 1, kMaxQueue));
  t.item.queue_size = static_cast<uint32_t>(queue);
  PF_ASSIGN_OR_RETURN(t.item.deadband_value, r.Double("server_deadband", 0));
  if (!(t.item.deadband_value >= 0) || !std::isfinite(t.item.deadband_value))
    return r.Error("server_deadband", "must be a finite number >= 0");
  static constexpr std::array<std::string_view, 2> kTypes = {"absolute", "percent"};
  PF_ASSIGN_OR_RETURN(std::string type, r.Enum("server_deadband_type", "absolute", kTypes));
  if (r.Has("server_deadband_type") && t.item.deadband_value == 0)
    return r.Error("server_deadband_type", "set server_deadband above 0 too, or remove server_deadband_type");
  if (type == "percent" && t.item.deadband_value > 100)
    return r.Error("server_deadband", fmt::format("a percent deadband is 0..100, got {}", t.item.deadband_value));
  if (t.item.deadband_value > 0) t.item.deadband = type == "percent" ? DeadbandType::kPercent : DeadbandType::kAbsolute;
  PF_ASSIGN_OR_RETURN(t.waveform, r.Bool("waveform", false));
  if (t.waveform) {
    if (!r.Has("sample_rate")) return r.Error("sample_rate", "missing; a waveform tag needs its sample rate in Hz");
    PF_ASSIGN_OR_RETURN(t.sample_rate_hz, r.Double("sample_rate", 0));
    if (!(t.sample_rate_hz > 0) || !std::isfinite(t.sample_rate_hz))
      return r.Error("sample_rate", fmt::format("must be above 0 Hz, got {}", t.sample_rate_hz));
  } else if (r.Has("sample_rate")) {
    return r.Error("sample_rate", "only used with waveform = true");
  }
  return t;
}

namespace {

Status ReadSecurity(const ConfigReader& r, ClientOptions& c) {
  PF_ASSIGN_OR_RETURN(std::string security, r.String("security", "none"));
  auto sec = ParseSecurity(security);
  if (!sec.ok()) return r.Error("security", fmt::format("'{}': expected none, sign or encrypt", security));
  c.security = *sec;
  PF_ASSIGN_OR_RETURN(c.pki_dir, r.String("pki_dir"));
  if (c.security != Security::kNone && c.pki_dir.empty())
    return r.Error("pki_dir", fmt::format("missing; security = \"{}\" needs a certificate store folder", security));
  PF_ASSIGN_OR_RETURN(c.application_uri, r.String("application_uri", c.application_uri));
  if (c.application_uri.empty()) return r.Error("application_uri", "must not be empty");
  return Status::Ok();
}

Status ReadCredentials(const ConfigReader& r, ClientOptions& c) {
  bool has_pw = r.Has("password"), has_env = r.Has("password_env");
  if (has_pw && has_env) return r.Error("password_env", "give either password or password_env, not both");
  if (!r.Has("user")) {
    if (has_pw || has_env) return r.Error(has_pw ? "password" : "password_env", "a password needs user");
    return Status::Ok();
  }
  PF_ASSIGN_OR_RETURN(std::string user, r.String("user"));
  if (user.empty()) return r.Error("user", "must not be empty (remove it for anonymous access)");
  c.user = user;
  if (has_pw) {
    PF_ASSIGN_OR_RETURN(c.password, r.String("password"));
  } else if (has_env) {
    PF_ASSIGN_OR_RETURN(std::string var, r.String("password_env"));
    const char* value = var.empty() ? nullptr : std::getenv(var.c_str());
    if (!value) return r.Error("password_env", fmt::format("environment variable '{}' is not set", var));
    c.password = value;
  } else {
    return r.Error("user", "user needs password or password_env");
  }
  return Status::Ok();
}

Status ReadTiming(const ConfigReader& r, SourceConfig& c, double* sampling_ms, uint32_t* queue) {
  SubscriptionOptions& sub = c.monitor.subscription;
  PF_ASSIGN_OR_RETURN(Duration pub, r.Dur("publishing_interval", std::chrono::seconds(1)));
  if (pub < std::chrono::milliseconds(1)) return r.Error("publishing_interval", "must be at least 1ms");
  sub.publishing_interval_ms = Ms(pub);
  *sampling_ms = sub.publishing_interval_ms;
  if (r.Has("sampling_interval")) {
    PF_ASSIGN_OR_RETURN(Duration d, r.Dur("sampling_interval", pub));
    if (d.count() < 0) return r.Error("sampling_interval", "must not be negative (0 = as fast as the server can)");
    *sampling_ms = Ms(d);
  }
  // Enough room for every sample of one publishing interval, so that none is discarded between two.
  double per_publish = *sampling_ms > 0 ? std::ceil(sub.publishing_interval_ms / *sampling_ms) : 1.0;
  auto auto_queue = static_cast<int64_t>(std::clamp(per_publish, 1.0, static_cast<double>(kMaxQueue)));
  PF_ASSIGN_OR_RETURN(int64_t q, r.IntIn("queue_size", auto_queue, 1, kMaxQueue));
  *queue = static_cast<uint32_t>(q);
  PF_ASSIGN_OR_RETURN(int64_t keep_alive, r.IntIn("keep_alive_count", 10, 1, 100000));
  PF_ASSIGN_OR_RETURN(int64_t lifetime, r.IntIn("lifetime_count", std::max<int64_t>(60, 3 * keep_alive), 3, 1000000));
  if (lifetime < 3 * keep_alive)
    return r.Error("lifetime_count", fmt::format("must be at least 3 x keep_alive_count = {}", 3 * keep_alive));
  sub.max_keep_alive_count = static_cast<uint32_t>(keep_alive);
  sub.lifetime_count = static_cast<uint32_t>(lifetime);

  ClientOptions& cl = c.monitor.client;
  PF_ASSIGN_OR_RETURN(Duration lifetime_d, r.Dur("requested_lifetime", std::chrono::hours(1)));
  if (lifetime_d < std::chrono::seconds(1) || lifetime_d > std::chrono::hours(24 * 49))
    return r.Error("requested_lifetime", "must be between 1s and 49 days");
  cl.requested_lifetime_ms = static_cast<uint32_t>(lifetime_d.count() / 1'000'000);
  PF_ASSIGN_OR_RETURN(Duration session, r.Dur("session_timeout", std::chrono::seconds(60)));
  if (session < std::chrono::seconds(1)) return r.Error("session_timeout", "must be at least 1s");
  cl.session_timeout_ms = Ms(session);
  PF_ASSIGN_OR_RETURN(Duration timeout, r.Dur("timeout", std::chrono::seconds(10)));
  if (timeout < std::chrono::milliseconds(10)) return r.Error("timeout", "must be at least 10ms");
  cl.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  PF_ASSIGN_OR_RETURN(Duration rmin, r.Dur("reconnect_min", std::chrono::milliseconds(500)));
  PF_ASSIGN_OR_RETURN(Duration rmax, r.Dur("reconnect_max", std::chrono::seconds(10)));
  if (rmin < std::chrono::milliseconds(1)) return r.Error("reconnect_min", "must be at least 1ms");
  if (rmax < rmin) return r.Error("reconnect_max", "must not be below reconnect_min");
  c.monitor.reconnect_min = std::chrono::duration_cast<std::chrono::milliseconds>(rmin);
  c.monitor.reconnect_max = std::chrono::duration_cast<std::chrono::milliseconds>(rmax);
  return Status::Ok();
}

}  // namespace

Result<SourceConfig> ReadSourceConfig(const ConfigNode& source_table, const std::vector<SourceTagConfig>& tags) {
  ConfigReader r(source_table, kSourceSpec);
  SourceConfig c;
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", "opcua"));
  if (!r.Has("endpoint")) return r.Error("endpoint", "missing; expected opc.tcp://HOST:PORT/PATH");
  PF_ASSIGN_OR_RETURN(c.monitor.client.endpoint_url, r.String("endpoint"));
  if (auto ep = ParseEndpointUrl(c.monitor.client.endpoint_url); !ep.ok()) return r.Error("endpoint", ep.status().message());
  PF_RETURN_IF_ERROR(ReadSecurity(r, c.monitor.client));
  PF_RETURN_IF_ERROR(ReadCredentials(r, c.monitor.client));
  double sampling_ms = 0;
  uint32_t queue = 1;
  PF_RETURN_IF_ERROR(ReadTiming(r, c, &sampling_ms, &queue));
  for (const auto& tag : tags) {
    if (!tag.node) return InvalidArgument("opcua '{}': tag '{}' has no config table", c.name, tag.name);
    PF_ASSIGN_OR_RETURN(TagConfig t, ReadTagConfig(*tag.node, sampling_ms, queue));
    t.id = tag.id;
    t.name = tag.name;
    t.asset_id = tag.asset_id;
    c.monitor.items.push_back(t.item);
    c.tags.push_back(std::move(t));
  }
  return c;
}

}  // namespace pf::opcua
