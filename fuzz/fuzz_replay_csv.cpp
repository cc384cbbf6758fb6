// Historian CSV exports come from outside: every byte sequence must give rows or precise issues.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "connect/replay/csv.h"
#include "connect/replay/time_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte picks the dialect, the rest is the file.
  uint8_t mode = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  pf::CsvOptions opts;
  opts.separator = (mode & 1) ? ';' : ',';
  opts.whitespace = (mode & 2) != 0;
  opts.multiline_fields = (mode & 4) != 0;
  opts.max_row_bytes = 256;
  std::istringstream in(text);
  pf::CsvReader reader(in, opts);
  pf::CsvRow row;
  size_t rows = 0;
  int64_t last_line = 0;
  while (reader.Next(row)) {
    if (row.line <= last_line) __builtin_trap();  // line numbers only move forward
    last_line = row.line;
    if (!row.ok() && row.detail.empty()) __builtin_trap();  // every issue says what is wrong
    if (++rows > 100000) break;
  }
  return 0;
}
