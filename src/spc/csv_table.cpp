#include "spc/csv_table.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

namespace pf::spc {
namespace {

// Splits records; tracks the line every record starts on.
class Reader {
 public:
  Reader(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  bool Done() const { return pos_ >= text_.size(); }
  int line() const { return line_; }

  Result<std::vector<std::string>> Record() {
    std::vector<std::string> fields;
    int start_line = line_;
    for (;;) {
      PF_ASSIGN_OR_RETURN(std::string field, Field(start_line, static_cast<int>(fields.size()) + 1));
      fields.push_back(std::move(field));
      if (pos_ >= text_.size()) return fields;
      char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      // c is '\r' or '\n' (Field stops only there or at ',').
      if (c == '\r') ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      return fields;
    }
  }

 private:
  Result<std::string> Field(int start_line, int column) {
    std::string out;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      int quote_line = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size())
          return InvalidArgument("{}:{}:{}: unterminated quoted field (opened on line {})", file_, start_line, column,
                                 quote_line);
        char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            out += '"';
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        out += c;
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r')
        return InvalidArgument("{}:{}:{}: text after the closing quote", file_, line_, column);
      return out;
    }
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') return InvalidArgument("{}:{}:{}: a quote inside an unquoted field", file_, line_, column);
      out += c;
      ++pos_;
    }
    return out;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1;
};

bool IsMissing(std::string_view s) { return s.empty() || s == "NA"; }

}  // namespace

Result<CsvTable> ParseCsv(std::string_view text, std::string file) {
  CsvTable t;
  t.file = std::move(file);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  if (text.empty()) return InvalidArgument("{}: empty file (expected a header row)", t.file);
  Reader reader(text, t.file);
  PF_ASSIGN_OR_RETURN(t.header, reader.Record());
  std::set<std::string> seen;
  for (size_t c = 0; c < t.header.size(); ++c) {
    if (t.header[c].empty()) return InvalidArgument("{}:1:{}: empty column name in the header", t.file, c + 1);
    if (!seen.insert(t.header[c]).second)
      return InvalidArgument("{}:1:{}: duplicate column name '{}'", t.file, c + 1, t.header[c]);
  }
  while (!reader.Done()) {
    int line = reader.line();
    PF_ASSIGN_OR_RETURN(std::vector<std::string> record, reader.Record());
    // A blank line: no record when there are several columns (it cannot be one); with a single
    // column it is an empty (missing) cell, except at the end of the file.
    if (record.size() == 1 && record[0].empty() && t.header.size() > 1) continue;
    if (record.size() != t.header.size())
      return InvalidArgument("{}:{}: {} fields, the header has {}", t.file, line, record.size(), t.header.size());
    t.rows.push_back(std::move(record));
    t.lines.push_back(line);
  }
  while (t.header.size() == 1 && !t.rows.empty() && t.rows.back()[0].empty()) {
    t.rows.pop_back();
    t.lines.pop_back();
  }
  return t;
}

Result<size_t> CsvTable::Column(std::string_view name) const {
  for (size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) return c;
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "'" : ", '") + h + "'";
  return NotFound("{}: no column '{}' (columns: {})", file, name, have);
}

std::string CsvTable::Where(size_t r, size_t c) const {
  return fmt::format("{}:{}:{}", file, r < lines.size() ? lines[r] : 0, c + 1);
}

Result<std::vector<std::optional<double>>> CsvTable::NumericColumn(std::string_view name) const {
  PF_ASSIGN_OR_RETURN(size_t c, Column(name));
  std::vector<std::optional<double>> out;
  out.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string& cell = rows[r][c];
    std::string_view s = cell;
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (IsMissing(s)) {
      out.emplace_back();
      continue;
    }
    std::string copy(s);
    // strtod also takes hex, "inf" and "nan": a data file means decimal numbers only.
    bool decimal = copy.find_first_of("xXpP") == std::string::npos &&
                   (std::isdigit(static_cast<unsigned char>(copy[0])) || copy[0] == '-' || copy[0] == '+' || copy[0] == '.');
    // ERANGE on underflow is a number below DBL_MIN rounded to a subnormal or 0 (2e-308 is a number);
    // on overflow the value is inf, refused below.
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (!decimal || end != copy.c_str() + copy.size() || !std::isfinite(v))
      return InvalidArgument("{}: column '{}': not a number '{}'", Where(r, c), name, cell);
    out.push_back(v);
  }
  return out;
}

}  // namespace pf::spc
