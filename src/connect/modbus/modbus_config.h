#pragma once
// The [[sources]] keys of type "modbus" and their tag keys, described once (FieldSpec tables), and
// the reader that turns a config table into a validated SourceConfig. Errors name file:line:key.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "connect/modbus/modbus_address.h"
#include "connect/modbus/modbus_client.h"
#include "connect/modbus/modbus_codec.h"
#include "connect/modbus/modbus_plan.h"
#include "connect/source.h"
#include "core/config.h"

namespace pf::modbus {

std::span<const FieldSpec> SourceSpec();
std::span<const FieldSpec> TagSpec();  // only the Modbus keys; the runtime owns name, unit, asset, ...

struct TagConfig {
  TagId id = 0;
  std::string name;
  std::string asset_id;
  Address address;
  DataType type = DataType::kUint16;
  ByteOrder order = ByteOrder::kAbcd;
  int count = 0;          // registers (strings) or 1 bit; what the read needs: RegisterCount
  bool scaled = false;    // scale or offset given: the value becomes a double
  double scale = 1, offset = 0;
  int registers() const { return IsBitTable(address.table) ? 1 : RegisterCount(type, count); }
};

struct SourceConfig {
  std::string name;
  Endpoint endpoint;
  ClientOptions client;
  Duration poll = std::chrono::seconds(1);
  int retries = 1;  // extra attempts after a CRC/malformed reply, or a timeout on RTU
  PlanOptions plan;
  double max_requests_per_s = 0;  // 0 = unlimited
  Duration reconnect_min = std::chrono::milliseconds(500);
  Duration reconnect_max = std::chrono::seconds(30);
  std::vector<TagConfig> tags;
};

Result<SourceConfig> ReadSourceConfig(const ConfigNode& source_table, const std::vector<SourceTagConfig>& tags);
// One tag table (address, type, order, count, scale, offset, bit).
Result<TagConfig> ReadTagConfig(const ConfigNode& tag_table);

}  // namespace pf::modbus
