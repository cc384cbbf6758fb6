#pragma once
// Configuration of an MQTT uplink: one [[uplinks]] table with type = "mqtt". The keys are described
// once in MqttUplinkSpec() (validation, defaults and docs come from it); ParseMqttUplinkConfig
// reads a table through ConfigReader so every error names file:line:key.
#include <cstdint>
#include <span>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "core/time.h"

namespace pf::uplink {

struct TlsConfig {
  bool enabled = false;   // true for an ssl:// broker
  std::string ca_file;    // PEM CA bundle that signed the broker's certificate
  std::string cert_file;  // PEM client certificate (with key_file), for brokers that require one
  std::string key_file;
  bool verify = true;     // verify the broker's certificate and host name
};

struct MqttUplinkConfig {
  std::string name;                    // the uplink's name: its outbox cursor and metric label
  std::string broker;                  // "tcp://host:port" or "ssl://host:port"
  std::string device;                  // device id: topic level and message id prefix
  std::string client_id;               // MQTT client id, default "plantfloor-<device>"
  std::string topic_prefix = "plantfloor/v1";
  int qos = 1;
  Duration keepalive = std::chrono::seconds(30);
  Duration connect_timeout = std::chrono::seconds(10);
  TlsConfig tls;
  uint64_t drain_rate_bytes_s = 0;     // topic + payload bytes per second; 0 = unlimited
  int max_inflight = 64;               // records published and not yet PUBACKed
  int batch = 256;                     // records per outbox Peek
  Duration reconnect_min = std::chrono::milliseconds(500);
  Duration reconnect_max = std::chrono::seconds(30);
  std::string username, password;
};

std::span<const FieldSpec> MqttUplinkSpec();
std::span<const FieldSpec> MqttTlsSpec();  // the keys of the uplink's tls table

// Validates and reads one [[uplinks]] table. InvalidArgument with file:line:key on any error.
Result<MqttUplinkConfig> ParseMqttUplinkConfig(const ConfigNode& table);

// Checks "tcp://host:port" / "ssl://host:port" (also mqtt:// and mqtts://); sets *tls for ssl.
Status CheckBrokerUrl(const std::string& url, bool* tls);

}  // namespace pf::uplink
