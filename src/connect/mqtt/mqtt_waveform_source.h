#pragma once
// The "mqtt_waveform" source: subscribes to one MQTT topic that carries PFWB waveform blocks
// (waveform_block.h, docs/schema.md) and delivers each configured channel as a Block of its tag.
//
// Contract:
// - One thread, one paho client. MQTT 3.1.1 with a persistent session (clean session off, a stable
//   client id): while plantfloor is disconnected the broker keeps the QoS 1 blocks it could not deliver,
//   so a short outage loses nothing. Reconnects with exponential backoff; source_status events on
//   connected / disconnected / unreachable.
// - A message that does not decode (bad magic, lengths, CRC) is refused with the decoder's precise
//   reason in a "source_status" event (state "block_rejected", first 20 per minute; all counted in
//   pf_waveform_blocks_rejected_total) and nothing of it is delivered.
// - Sequence numbers: a skip of k blocks gives each tag one bad sample (sub-code "gap") at the time
//   the first missing block would have started, and an event with the missing range; a number going
//   backwards is a sender restart (event, tracking restarts). A repeated number (QoS 1 redelivery) is
//   dropped as a duplicate.
// - A tag whose channel index is not in the block gets a bad sample (config_error) once, with the
//   reason, until a block has it again.
// - Metrics (label source): pf_waveform_blocks_total, pf_waveform_blocks_rejected_total,
//   pf_waveform_blocks_missing_total, pf_waveform_blocks_duplicate_total, pf_mqtt_reconnects_total.
#include "connect/source.h"

namespace pf {

ConnectorInfo MqttWaveformConnector();

}  // namespace pf
