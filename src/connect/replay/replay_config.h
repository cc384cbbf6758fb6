#pragma once
// The replay source's configuration: the FieldSpec tables (described once) and the validated,
// typed form that the source runs on. Internal to connect/replay.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "connect/replay/csv.h"
#include "connect/replay/time_format.h"
#include "connect/replay/tz.h"
#include "connect/source.h"
#include "core/config.h"

namespace pf {

enum class ReplayFormat { kWide, kLong, kWaveform };
enum class OnAmbiguous { kFirst, kSecond, kSkip };
enum class ColumnKind { kAuto, kNumber, kText };

struct ReplayTag {
  TagId id = 0;
  std::string name;
  std::string asset_id;
  std::string column;  // wide/waveform: the header name; long: the value in the tag column
  ColumnKind kind = ColumnKind::kAuto;  // kAuto is settled by the first non-empty cell
  size_t index = 0;    // wide/waveform: field index of the column
};

struct ReplayConfig {
  std::string name;
  std::string file;
  ReplayFormat format = ReplayFormat::kWide;
  CsvOptions csv;
  TimeFormat time_format;
  TimeZone tz;
  double speed = 1;  // 0 = as fast as possible, 1 = real time, N = N times faster
  bool loop = false;
  OnAmbiguous on_ambiguous = OnAmbiguous::kFirst;
  bool skip_out_of_order = false;
  int64_t max_reported_rows = 100;
  // wide / long
  size_t time_index = 0;
  size_t tag_index = 0, value_index = 0;  // long only
  // waveform
  double sample_rate_hz = 0;
  int64_t block_size = 1024;
  bool has_start_time = false;
  Timestamp start_time;
  std::vector<std::string> header;
  std::vector<ReplayTag> tags;
};

std::span<const FieldSpec> ReplaySourceSpec();
std::span<const FieldSpec> ReplayTagSpec();

// Reads and validates: the file opens and has a header holding every configured column, the
// time format parses, the time zone loads. Errors name file:line:key (config) or the data file.
Result<ReplayConfig> ParseReplayConfig(const ConfigNode& table, const std::vector<SourceTagConfig>& tags);

}  // namespace pf
