#pragma once
// The [[sources]] keys of type "opcua" and their tag keys, described once (FieldSpec tables), and the
// reader that turns a config table into MonitorOptions plus per-tag settings. Reading is offline (no
// connection): node ids and browse paths are checked for syntax only, so `plantfloor check` works
// without the server. Errors name file:line:key.
#include <span>
#include <string>
#include <vector>

#include "connect/opcua/monitor.h"
#include "connect/source.h"
#include "core/config.h"

namespace pf::opcua {

std::span<const FieldSpec> SourceSpec();
std::span<const FieldSpec> TagSpec();  // only the OPC UA keys; the runtime owns name, unit, asset, ...

struct TagConfig {
  TagId id = 0;
  std::string name;
  std::string asset_id;
  MonitorItemSpec item;         // node or browse_path, sampling, queue, server-side deadband
  bool waveform = false;        // a numeric array becomes a Block of sample_rate_hz
  double sample_rate_hz = 0;
};

struct SourceConfig {
  std::string name;
  MonitorOptions monitor;  // items are filled from tags, in the same order (handle = tag index)
  std::vector<TagConfig> tags;
};

// password_env is resolved here (the variable must be set); the password itself is never logged.
Result<SourceConfig> ReadSourceConfig(const ConfigNode& source_table, const std::vector<SourceTagConfig>& tags);
// One tag table. `sampling_ms` and `queue_size` are the source's defaults for the item.
Result<TagConfig> ReadTagConfig(const ConfigNode& tag_table, double sampling_ms, uint32_t queue_size);

// Syntax of a browse path from the Objects folder: '/'-separated browse names, each optionally
// prefixed by a namespace index or URI ("1:Line1/1:Temperature", "urn:x:Line1"); resolved by the
// Monitor after every (re)connect. Empty segments and indexes above 65535 are refused.
Status CheckBrowsePath(std::string_view path);

}  // namespace pf::opcua
