#pragma once
// The contract between a connector (a source of samples) and the runtime.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/model.h"
#include "core/sample.h"
#include "core/status.h"

namespace pf {

// Where a source delivers. Implemented by the runtime's bus; thread-safe.
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  // Blocks while the bus is full: backpressure pauses the source instead of growing memory.
  // Returns false when the runtime is shutting down (the batch is then not accepted).
  virtual bool Write(std::vector<Sample>&& batch) = 0;
  // Waveform blocks (vibration, current). Same blocking contract.
  virtual bool WriteBlock(Block&& block) = 0;
  // Source status events (connected, connection lost, CSV rows rejected, ...).
  virtual void Emit(Event&& event) = 0;
};

// A source owns its threads: Start() launches them and returns; Stop() asks them to end and
// returns once they have. A source never blocks another source (one thread per peer at least).
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string_view name() const = 0;
  virtual Status Start(SampleSink& sink) = 0;
  virtual void Stop() = 0;
  // True once a finite source (a replay) has delivered everything.
  virtual bool Finished() const { return false; }
};

// One tag bound to a source: its runtime id, unique name, asset and the config table that
// holds the source-specific keys (address, type, column, ...). node outlives the factory call only.
struct SourceTagConfig {
  TagId id = 0;
  std::string name;
  std::string asset_id;
  const ConfigNode* node = nullptr;
};

using SourceFactory = Result<std::unique_ptr<Source>> (*)(const ConfigNode& source_table,
                                                          const std::vector<SourceTagConfig>& tags,
                                                          MetricsRegistry& metrics);

// One row of the connector table (connect/registry.cpp): config described once.
struct ConnectorInfo {
  std::string_view type;                  // "modbus", "replay", ...
  std::string_view help;
  std::span<const FieldSpec> source_spec;  // keys of [[sources]] (besides name, type, tags)
  std::span<const FieldSpec> tag_spec;     // source-specific keys of each tag
  SourceFactory create;
};

std::span<const ConnectorInfo> Connectors();
const ConnectorInfo* FindConnector(std::string_view type);

}  // namespace pf
