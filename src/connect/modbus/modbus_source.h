#pragma once
// The Modbus source: one thread and one connection per PLC, shared by all its tags.
//
// Contract:
// - Polls on absolute deadlines (start + k*poll, steady clock, never drifts). A cycle that overruns
//   skips the deadlines it missed and counts them in pf_modbus_skipped_cycles_total.
// - Each cycle reads the planned blocks (modbus_plan.h), decodes and writes one batch: source_time =
//   wall time when the cycle's first request was sent, receive_time = when its block arrived, seq
//   strictly increasing per source.
// - Bad quality is reported on transition only: a tag gets one bad sample when it goes bad (or its
//   sub-code changes), nothing while it stays bad, and good samples again once it reads. A timeout or
//   socket error closes the connection and makes every tag bad/comm_failure in the same cycle, i.e.
//   within `timeout` of the request; reconnects follow with exponential backoff and jitter.
//   Exception replies make only that block's tags bad: 0x02 -> config_error, 0x04 ->
//   device_failure, others -> comm_failure.
// - Events of kind "source_status" on connected / disconnected / unreachable (never connected).
// - Stop() returns within timeout + ~100 ms even when the PLC is dead.
// - Metrics (labels source, kind): pf_modbus_requests_total, pf_modbus_errors_total{kind=timeout|crc|
//   exception|connect|protocol}, pf_modbus_reconnects_total, pf_modbus_poll_seconds,
//   pf_modbus_skipped_cycles_total, pf_samples_read_total.
#include "connect/source.h"

namespace pf {

// The "modbus" row of the connector table (connect/registry.cpp).
ConnectorInfo ModbusConnector();

}  // namespace pf
