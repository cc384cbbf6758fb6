#include "uplink/uplink_config.h"

#include <unistd.h>

#include <array>
#include <charconv>

#include <fmt/format.h>

namespace pf::uplink {
namespace {

constexpr FieldSpec kSpec[] = {
    {"name", FieldType::kString, true, "", "uplink name: its outbox cursor and the metrics label"},
    {"type", FieldType::kString, true, "", "\"mqtt\""},
    {"broker", FieldType::kString, true, "", "\"tcp://host:1883\" or \"ssl://host:8883\""},
    {"device", FieldType::kString, true, "", "device id: a topic level and the message id prefix"},
    {"client_id", FieldType::kString, false, "plantfloor-<device>", "MQTT client id"},
    {"topic_prefix", FieldType::kString, false, "plantfloor/v1", "first topic levels"},
    {"qos", FieldType::kInt, false, "1", "MQTT QoS of every publish; only 1 (the outbox needs PUBACKs)"},
    {"keepalive", FieldType::kDuration, false, "30s", "MQTT keepalive interval"},
    {"connect_timeout", FieldType::kDuration, false, "10s", "time allowed for one connect"},
    {"tls", FieldType::kTable, false, "", "TLS settings for an ssl:// broker: ca_file, cert_file, key_file, verify"},
    {"drain_rate_bytes_s", FieldType::kInt, false, "0", "cap on topic+payload bytes per second (0 = unlimited)"},
    {"max_inflight", FieldType::kInt, false, "64", "records published and not yet acknowledged (PUBACK)"},
    {"batch", FieldType::kInt, false, "256", "records read from the outbox at once"},
    {"reconnect_min", FieldType::kDuration, false, "500ms", "first reconnect backoff (full jitter)"},
    {"reconnect_max", FieldType::kDuration, false, "30s", "longest reconnect backoff"},
    {"username", FieldType::kString, false, "", "MQTT user name"},
    {"password", FieldType::kString, false, "", "MQTT password (use ${VAR})"},
};

constexpr FieldSpec kTlsSpec[] = {
    {"ca_file", FieldType::kString, false, "", "PEM CA certificate(s) that signed the broker's certificate"},
    {"cert_file", FieldType::kString, false, "", "PEM client certificate (needs key_file)"},
    {"key_file", FieldType::kString, false, "", "PEM private key of the client certificate"},
    {"verify", FieldType::kBool, false, "true", "verify the broker's certificate and host name"},
};

Status CheckReadable(const ConfigReader& r, std::string_view key, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0)
    return r.Error(key, fmt::format("cannot read file \"{}\"", path));
  return Status::Ok();
}

Status ReadTls(const ConfigReader& outer, MqttUplinkConfig& c) {
  const ConfigNode* node = outer.Node("tls");
  if (!node) {
    if (c.tls.enabled && c.tls.verify)
      return outer.Error("tls", "an ssl:// broker needs tls.ca_file (the CA that signed the broker's certificate)");
    return Status::Ok();
  }
  if (!c.tls.enabled) return outer.Error("tls", "TLS settings need an ssl:// broker");
  ConfigReader r(*node, kTlsSpec);
  PF_RETURN_IF_ERROR(r.Check());
  PF_ASSIGN_OR_RETURN(c.tls.ca_file, r.String("ca_file"));
  PF_ASSIGN_OR_RETURN(c.tls.cert_file, r.String("cert_file"));
  PF_ASSIGN_OR_RETURN(c.tls.key_file, r.String("key_file"));
  PF_ASSIGN_OR_RETURN(c.tls.verify, r.Bool("verify", true));
  if (c.tls.verify && c.tls.ca_file.empty())
    return r.Error("ca_file", "missing: verify = true needs the CA that signed the broker's certificate");
  if (c.tls.cert_file.empty() != c.tls.key_file.empty())
    return r.Error(c.tls.cert_file.empty() ? "cert_file" : "key_file",
                   "cert_file and key_file go together (a client certificate needs its key)");
  if (!c.tls.ca_file.empty()) PF_RETURN_IF_ERROR(CheckReadable(r, "ca_file", c.tls.ca_file));
  if (!c.tls.cert_file.empty()) PF_RETURN_IF_ERROR(CheckReadable(r, "cert_file", c.tls.cert_file));
  if (!c.tls.key_file.empty()) PF_RETURN_IF_ERROR(CheckReadable(r, "key_file", c.tls.key_file));
  return Status::Ok();
}

}  // namespace

std::span<const FieldSpec> MqttUplinkSpec() { return kSpec; }
std::span<const FieldSpec> MqttTlsSpec() { return kTlsSpec; }

Status CheckBrokerUrl(const std::string& url, bool* tls) {
  constexpr std::array<std::pair<std::string_view, bool>, 4> kSchemes = {
      {{"tcp://", false}, {"mqtt://", false}, {"ssl://", true}, {"mqtts://", true}}};
  for (const auto& [scheme, is_tls] : kSchemes) {
    if (url.rfind(scheme, 0) != 0) continue;
    std::string_view rest = std::string_view(url).substr(scheme.size());
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return InvalidArgument("expected \"{}host:port\", got \"{}\" (host or port missing)", scheme, url);
    std::string_view port = rest.substr(colon + 1);
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      return InvalidArgument("port \"{}\" in \"{}\" is not a number from 1 to 65535", port, url);
    *tls = is_tls;
    return Status::Ok();
  }
  return InvalidArgument("expected \"tcp://host:port\" or \"ssl://host:port\", got \"{}\"", url);
}

Result<MqttUplinkConfig> ParseMqttUplinkConfig(const ConfigNode& table) {
  ConfigReader r(table, kSpec);
  PF_RETURN_IF_ERROR(r.Check());
  MqttUplinkConfig c;
  PF_ASSIGN_OR_RETURN(c.name, r.String("name"));
  PF_ASSIGN_OR_RETURN(std::string type, r.String("type"));
  if (type != "mqtt") return r.Error("type", fmt::format("expected \"mqtt\", got \"{}\"", type));
  PF_ASSIGN_OR_RETURN(c.broker, r.String("broker"));
  if (Status s = CheckBrokerUrl(c.broker, &c.tls.enabled); !s.ok()) return r.Error("broker", s.message());
  PF_ASSIGN_OR_RETURN(c.device, r.String("device"));
  if (c.device.empty() || c.device.find_first_of("/+#") != std::string::npos)
    return r.Error("device", fmt::format("expected a non-empty id without '/', '+' or '#', got \"{}\"", c.device));
  PF_ASSIGN_OR_RETURN(c.client_id, r.String("client_id", "plantfloor-" + c.device));
  PF_ASSIGN_OR_RETURN(c.topic_prefix, r.String("topic_prefix", c.topic_prefix));
  if (c.topic_prefix.find_first_of("+#") != std::string::npos || c.topic_prefix.empty())
    return r.Error("topic_prefix", fmt::format("expected topic levels without '+' or '#', got \"{}\"", c.topic_prefix));
  PF_ASSIGN_OR_RETURN(int64_t qos, r.Int("qos", 1));
  if (qos != 1)
    return r.Error("qos", fmt::format("only 1 is supported (the outbox deletes a record only after PUBACK), got {}", qos));
  PF_ASSIGN_OR_RETURN(c.keepalive, r.Dur("keepalive", c.keepalive));
  PF_ASSIGN_OR_RETURN(c.connect_timeout, r.Dur("connect_timeout", c.connect_timeout));
  PF_ASSIGN_OR_RETURN(int64_t rate, r.IntIn("drain_rate_bytes_s", 0, 0, int64_t{1} << 40));
  c.drain_rate_bytes_s = static_cast<uint64_t>(rate);
  PF_ASSIGN_OR_RETURN(int64_t inflight, r.IntIn("max_inflight", 64, 1, 65535));
  c.max_inflight = static_cast<int>(inflight);
  PF_ASSIGN_OR_RETURN(int64_t batch, r.IntIn("batch", 256, 1, 100000));
  c.batch = static_cast<int>(batch);
  PF_ASSIGN_OR_RETURN(c.reconnect_min, r.Dur("reconnect_min", c.reconnect_min));
  PF_ASSIGN_OR_RETURN(c.reconnect_max, r.Dur("reconnect_max", c.reconnect_max));
  if (c.reconnect_min.count() <= 0 || c.reconnect_max < c.reconnect_min)
    return r.Error("reconnect_max", fmt::format("expected 0 < reconnect_min ({}) <= reconnect_max ({})",
                                                FormatDuration(c.reconnect_min), FormatDuration(c.reconnect_max)));
  PF_ASSIGN_OR_RETURN(c.username, r.String("username"));
  PF_ASSIGN_OR_RETURN(c.password, r.String("password"));
  PF_RETURN_IF_ERROR(ReadTls(r, c));
  return c;
}

}  // namespace pf::uplink
