#pragma once
// A small streaming RFC 4180 CSV reader: quoted fields, "" escapes, CRLF or LF line ends, a UTF-8
// BOM skipped at the start, a configurable separator (one character, or runs of blanks for
// whitespace-separated files like C-MAPSS). It reads through a fixed 64 KiB buffer, so memory is
// bounded by the longest row (max_row_bytes), never by the file size.
//
// A malformed row is returned with an issue set instead of stopping the read: the caller reports
// it with its line number and goes on with the next row.
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf {

struct CsvOptions {
  char separator = ',';
  bool whitespace = false;          // fields are separated by runs of ' ' / '\t' (separator unused)
  bool multiline_fields = true;     // a quoted field may contain line breaks (RFC 4180); when false
                                    // a quote still open at the end of the line is reported there
  size_t max_row_bytes = 1 << 20;   // longer rows are reported (row_too_long) and skipped
};

// ",", ";", "|", "\t" or "tab", "whitespace" -> options (other members default).
Result<CsvOptions> ParseCsvSeparator(std::string_view text);

enum class CsvIssue { kNone, kUnterminatedQuote, kBadQuote, kFieldCount, kRowTooLong };
// "unterminated_quote", "bad_quote", "field_count", "row_too_long": the reason words used in
// metrics and events.
std::string_view CsvIssueName(CsvIssue issue);

struct CsvRow {
  int64_t line = 0;  // 1-based physical line on which the row starts (the header is line 1)
  std::vector<std::string> fields;
  CsvIssue issue = CsvIssue::kNone;
  std::string detail;  // what is wrong, for people: "expected 11 fields, got 12"
  bool ok() const { return issue == CsvIssue::kNone; }
};

// Not thread-safe; `in` must outlive the reader.
class CsvReader {
 public:
  CsvReader(std::istream& in, CsvOptions options);

  // Reads the next row that is not empty (blank lines are skipped but counted). Returns false at
  // end of input. A malformed row is still returned, with issue and detail set.
  bool Next(CsvRow& row);
  // Every later row must have n fields (typically the header's count); 0 turns the check off.
  void ExpectFields(size_t n) { expected_fields_ = n; }
  int64_t lines_read() const { return line_ - 1; }

 private:
  int Get();
  int Peek();
  bool Fill();
  void SkipRestOfLine();

  std::istream& in_;
  CsvOptions options_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool started_ = false;
  int64_t line_ = 1;
  size_t expected_fields_ = 0;
};

}  // namespace pf
