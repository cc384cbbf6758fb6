#pragma once
// VisionStation: a watched folder of part images to fail-safe verdicts for the PLC (issue 10), run by
// `plantfloor inspect --watch DIR`. One thread: FolderSource (complete files only, claimed into
// .processing/) -> apps::VisionInspector -> the inspection appended to the journal (JSON lines,
// fsync'd) -> the verdict registers (apps::VerdictRegisters) on the Modbus TCP register map the PLC
// polls -> the file moved to .done/. Every image gets exactly one journal line, across kill -9: at
// start, claimed files whose line is in the journal are finished without a second inspection, the
// others are inspected (the journal is written before the file leaves .processing/).
// The part id is the file name's stem. The heartbeat register counts seconds while the loop runs.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "apps/vision_inspector.h"
#include "connect/images/folder_source.h"
#include "connect/modbus/modbus_server.h"
#include "core/status.h"

namespace pf {

struct StationOptions {
  images::FolderOptions folder;
  std::string journal;              // default <folder>/.plantfloor-inspections.jsonl
  std::string modbus_host = "127.0.0.1";
  int modbus_port = -1;             // -1: no register map; 0: a free port
};

struct StationCounters {
  uint64_t inspected = 0, recovered = 0, accept = 0, reject = 0, uncertain = 0;
};

class VisionStation {
 public:
  static Result<std::unique_ptr<VisionStation>> Create(std::unique_ptr<apps::VisionInspector> inspector,
                                                       const StationOptions& options);
  int modbus_port() const { return server_ ? server_->port() : -1; }
  // Finishes what a crash left in .processing/, then inspects arriving files until `stop` is set.
  // `on_inspection` (may be empty) sees each journal line as it is written.
  Status Run(const std::atomic<bool>& stop, const std::function<void(const std::string&)>& on_inspection = {});
  const StationCounters& counters() const { return counters_; }

 private:
  VisionStation() = default;
  Status Process(const images::ClaimedFile& f, const std::function<void(const std::string&)>& on_inspection);
  Status AppendJournal(const std::string& line);
  std::unique_ptr<apps::VisionInspector> inspector_;
  std::unique_ptr<images::FolderSource> folder_;
  std::unique_ptr<modbus::RegisterMapServer> server_;
  StationOptions options_;
  int journal_fd_ = -1;
  std::set<std::string> journaled_;  // claimed file names already in the journal
  uint32_t sequence_ = 0;
  StationCounters counters_;
 public:
  ~VisionStation();
};

}  // namespace pf
