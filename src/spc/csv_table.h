#pragma once
// A strict CSV reader for the `plantfloor spc` tool (RFC 4180 shape): the first record is the
// header; fields are separated by ',' and may be quoted with '"' ("" is a literal quote, and a
// quoted field may span lines); CRLF or LF line ends; a final newline is optional.
// Strict: a record with a different number of fields than the header, an unterminated quote,
// text after a closing quote, an empty or duplicate column name are errors naming file:row:column
// (row = the line the record starts on, 1 = the header; column 1-based).
// Blank lines are skipped, except in a single-column file, where a blank line inside the data is
// an empty cell (trailing blank lines are still skipped).
// Cells stay text (TRUE/FALSE are not turned into numbers); NumericColumn converts one column:
// an empty cell (or NA) is a missing value, anything else must be a finite number.
// Pure: the caller reads the file; this parses bytes already in memory.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::spc {

struct CsvTable {
  std::string file;                              // for error messages only
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;    // each has header.size() cells
  std::vector<int> lines;                        // line number each row starts on

  // Index of the column, or kNotFound listing the columns there are.
  Result<size_t> Column(std::string_view name) const;
  // The column as numbers; nullopt = missing (empty cell or NA). kInvalidArgument on any other
  // text that is not a finite number: "data.csv:17:2: column 'diameter': not a number 'x'".
  Result<std::vector<std::optional<double>>> NumericColumn(std::string_view name) const;
  // "data.csv:17:2" for row index r (0-based into rows) and column index c.
  std::string Where(size_t r, size_t c) const;
};

Result<CsvTable> ParseCsv(std::string_view text, std::string file);

}  // namespace pf::spc
