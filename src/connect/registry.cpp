#include <array>

#include "connect/modbus/modbus_source.h"
#include "connect/mqtt/mqtt_waveform_source.h"
#include "connect/opcua/opcua_source.h"
#include "connect/replay/replay_source.h"
#include "connect/source.h"

namespace pf {

std::span<const ConnectorInfo> Connectors() {
  static const std::array kTable = {ModbusConnector(), ReplayConnector(), MqttWaveformConnector(), OpcuaConnector()};
  return kTable;
}

const ConnectorInfo* FindConnector(std::string_view type) {
  for (const auto& c : Connectors())
    if (c.type == type) return &c;
  return nullptr;
}

}  // namespace pf
