#include "connect/replay/csv.h"

namespace pf {

Result<CsvOptions> ParseCsvSeparator(std::string_view text) {
  CsvOptions o;
  if (text == "whitespace") {
    o.whitespace = true;
  } else if (text == "tab" || text == "\t") {
    o.separator = '\t';
  } else if (text.size() == 1 && text[0] != '"' && text[0] != '\n' && text[0] != '\r') {
    o.separator = text[0];
  } else {
    return InvalidArgument("separator \"{}\": expected one character (\",\", \";\", \"|\"), \"tab\" or \"whitespace\"",
                           text);
  }
  return o;
}

std::string_view CsvIssueName(CsvIssue issue) {
  switch (issue) {
    case CsvIssue::kNone: return "none";
    case CsvIssue::kUnterminatedQuote: return "unterminated_quote";
    case CsvIssue::kBadQuote: return "bad_quote";
    case CsvIssue::kFieldCount: return "field_count";
    case CsvIssue::kRowTooLong: return "row_too_long";
  }
  return "?";
}

CsvReader::CsvReader(std::istream& in, CsvOptions options) : in_(in), options_(options), buf_(64 * 1024) {}

bool CsvReader::Fill() {
  if (!in_) return false;
  in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  len_ = static_cast<size_t>(in_.gcount());
  pos_ = 0;
  return len_ > 0;
}

int CsvReader::Peek() {
  if (pos_ >= len_ && !Fill()) return -1;
  return static_cast<unsigned char>(buf_[pos_]);
}

int CsvReader::Get() {
  if (!started_) {
    started_ = true;
    if (Fill() && len_ >= 3 && static_cast<unsigned char>(buf_[0]) == 0xEF &&
        static_cast<unsigned char>(buf_[1]) == 0xBB && static_cast<unsigned char>(buf_[2]) == 0xBF)
      pos_ = 3;
  }
  int c = Peek();
  if (c >= 0) ++pos_;
  return c;
}

void CsvReader::SkipRestOfLine() {
  for (int c = Get(); c >= 0; c = Get())
    if (c == '\n') {
      ++line_;
      return;
    }
}

bool CsvReader::Next(CsvRow& row) {
  for (;;) {
    row.fields.clear();
    row.issue = CsvIssue::kNone;
    row.detail.clear();
    row.line = line_;
    std::string field;
    bool field_started = false;  // a character or quote of the current field was seen
    bool in_quotes = false, after_quote = false, saw_any = false, no_newline = false;
    int64_t quote_line = 0;
    size_t bytes = 0;
    auto issue = [&](CsvIssue kind, std::string detail) {
      if (row.issue != CsvIssue::kNone) return;
      row.issue = kind;
      row.detail = std::move(detail);
    };
    auto end_field = [&] {
      row.fields.push_back(std::move(field));
      field.clear();
      field_started = after_quote = false;
    };
    for (;;) {
      int c = Get();
      if (c < 0) {
        if (!saw_any) return false;
        no_newline = true;
        if (in_quotes)
          issue(CsvIssue::kUnterminatedQuote,
                fmt::format("quoted field {} opened on line {} is not closed before the end of the file",
                            row.fields.size() + 1, quote_line));
        break;
      }
      saw_any = true;
      if (++bytes > options_.max_row_bytes) {
        if (c != '\n') SkipRestOfLine();
        else ++line_;
        row.fields.clear();
        issue(CsvIssue::kRowTooLong, fmt::format("row is longer than {} bytes", options_.max_row_bytes));
        return true;
      }
      if (in_quotes) {
        if (c == '"') {
          if (Peek() == '"') {
            Get();
            field += '"';
          } else {
            in_quotes = false;
            after_quote = true;
          }
        } else if (c == '\n' && !options_.multiline_fields) {
          ++line_;
          issue(CsvIssue::kUnterminatedQuote,
                fmt::format("quoted field {} is not closed at the end of the line", row.fields.size() + 1));
          break;
        } else {
          if (c == '\n') ++line_;
          field += static_cast<char>(c);
        }
        continue;
      }
      if (c == '\r' && Peek() == '\n') continue;
      if (c == '\n') {
        ++line_;
        break;
      }
      const bool blank = c == ' ' || c == '\t';
      if (options_.whitespace && blank) {
        if (field_started) end_field();
        continue;
      }
      if (!options_.whitespace && c == options_.separator) {
        end_field();
        continue;
      }
      if (c == '"' && !field_started) {
        in_quotes = field_started = true;
        quote_line = line_;
        continue;
      }
      if (after_quote)
        issue(CsvIssue::kBadQuote, fmt::format("unexpected character '{}' after the closing quote of field {}",
                                               static_cast<char>(c), row.fields.size() + 1));
      field_started = true;
      field += static_cast<char>(c);
    }
    if (options_.whitespace) {
      if (field_started) end_field();
    } else if (field_started || !row.fields.empty()) {
      end_field();
    }
    if (row.fields.empty() && row.issue == CsvIssue::kNone) {
      if (no_newline) return false;
      continue;  // blank line
    }
    if (row.issue == CsvIssue::kNone && expected_fields_ != 0 && row.fields.size() != expected_fields_)
      issue(CsvIssue::kFieldCount,
            fmt::format("expected {} fields, got {}{}", expected_fields_, row.fields.size(),
                        no_newline ? " (last line has no line end: truncated?)" : ""));
    return true;
  }
}

}  // namespace pf
