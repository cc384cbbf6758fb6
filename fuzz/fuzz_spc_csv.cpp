// `plantfloor spc` charts CSV files exported from anywhere: every byte sequence must give a table or an
// error naming the file (and where), and every table the CLI could chart must give charts whose points,
// limits and parameters are all finite, or an error that says why (never NaN/inf passed on as a limit).
// The input is the whole file. Columns are picked the way a user would from the header: the first
// numeric column is charted as individuals (imr, ewma, cusum), grouped by the second column (xbar_r,
// xbar_s, as --subgroup-column does), and as counts over a sizes column (p, np, c, u, as --sizes-column).
// Any kInternal from BuildChart traps: an overflow of the data's magnitude is refused as
// kInvalidArgument by BuildChart's final check (regressions/fuzz_spc_csv/internal_* are the inputs
// that once gave kInternal). PF_FUZZ_TRAP_INTERNAL=0 turns that off.
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spc/charts.h"
#include "spc/csv_table.h"

namespace {

using namespace pf;
using namespace pf::spc;

constexpr size_t kMaxBytes = 64 * 1024;
constexpr size_t kMaxRows = 2000;  // keeps one input cheap: exclusion passes are O(passes * rows)
constexpr std::string_view kFile = "fuzz.csv";

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

bool TrapInternal() {
  static const bool on = [] {
    const char* v = std::getenv("PF_FUZZ_TRAP_INTERNAL");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return on;
}

// An error says where: every CSV message starts with the file name.
void RequireNamesFile(const Status& s) {
  Require(!s.ok());
  Require(s.message().substr(0, kFile.size()) == kFile);
}

void RequireFinite(double v) { Require(std::isfinite(v)); }
void RequireFinite(const std::optional<double>& v) {
  if (v) RequireFinite(*v);
}

void CheckChart(const Result<ChartResult>& r, ChartType type) {
  if (!r.ok()) {
    Require(!r.status().message().empty());
    if (TrapInternal()) Require(r.status().code() != StatusCode::kInternal);
    return;
  }
  Require(r->type == type);
  Require(!r->charts.empty());
  size_t points = r->charts.front().points.size();
  Require(points > 0);
  for (const Chart& c : r->charts) {
    RequireFinite(c.center);
    RequireFinite(c.ucl);
    RequireFinite(c.lcl);
    for (const ChartPoint& p : c.points) {
      Require(p.index >= 1 && static_cast<size_t>(p.index) <= points);
      RequireFinite(p.value);
      RequireFinite(p.center);
      RequireFinite(p.ucl);
      RequireFinite(p.lcl);
      RequireFinite(p.sigma);
      RequireFinite(p.size);
      Require(p.lcl <= p.ucl);
      Require(p.phase == 1 || p.phase == 2);
    }
  }
  for (const auto& [name, v] : r->parameters) RequireFinite(v);
  RequireFinite(r->lag1_autocorrelation);
  for (const Exclusion& e : r->exclusions) Require(e.index >= 1 && static_cast<size_t>(e.index) <= points);
  for (const std::string& w : r->warnings) Require(!w.empty());
}

// Builds the chart twice: the CLI defaults, and a Phase I of the first half with exclusion passes (the
// path that re-estimates) and autocorrelation allowed (so autocorrelated inputs still reach the limits).
void Chart2Ways(const ChartData& data, ChartType type, size_t points) {
  ChartOptions o;
  o.type = type;
  CheckChart(BuildChart(data, o), type);
  if (points < 2) return;
  o.phase1_first = 1;
  o.phase1_last = static_cast<int>(points / 2);
  o.exclude_ooc = true;
  o.max_exclusion_passes = 8;
  o.allow_autocorrelation = true;
  CheckChart(BuildChart(data, o), type);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

void CheckTable(const CsvTable& t) {
  Require(!t.header.empty());
  std::map<std::string, int> seen;
  for (const auto& h : t.header) Require(!h.empty() && ++seen[h] == 1);
  Require(t.rows.size() == t.lines.size());
  int last = 1;  // the header's line
  for (size_t r = 0; r < t.rows.size(); ++r) {
    Require(t.rows[r].size() == t.header.size());
    Require(t.lines[r] > last);  // rows start on later lines, in order
    last = t.lines[r];
  }
}

// An independent reading of one cell, to hold NumericColumn to its contract: spaces trimmed, empty or
// NA is missing, a decimal literal [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)? is a number (read as long double,
// whose wider exponent range tells a double overflow from a value that only rounds), anything else is
// not a number.
struct Cell {
  enum Kind { kMissing, kNumber, kBad } kind;
  long double value = 0;
};

Cell ReadCell(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s == "NA") return {Cell::kMissing};
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t mantissa = digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return {Cell::kBad};
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return {Cell::kBad};
  }
  if (i != s.size()) return {Cell::kBad};
  return {Cell::kNumber, std::strtold(std::string(s).c_str(), nullptr)};
}

bool FitsDouble(long double v) { return std::fabs(v) <= static_cast<long double>(DBL_MAX); }

// The column as numbers, or nullopt when it is not a numeric column (or has no value at all).
std::optional<std::vector<std::optional<double>>> Numbers(const CsvTable& t, size_t c) {
  std::vector<Cell> cells;
  for (const auto& row : t.rows) cells.push_back(ReadCell(row[c]));
  auto v = t.NumericColumn(t.header[c]);
  if (!v.ok()) {
    RequireNamesFile(v.status());
    Require(v.status().message().find("column '" + t.header[c] + "'") != std::string::npos);
    // Refused: some cell must be text or a number beyond a double.
    bool bad = false;
    for (const Cell& cell : cells) bad = bad || cell.kind == Cell::kBad || !FitsDouble(cell.value);
    Require(bad);
    return std::nullopt;
  }
  Require(v->size() == t.rows.size());
  bool any = false;
  for (size_t r = 0; r < v->size(); ++r) {
    const auto& x = (*v)[r];
    RequireFinite(x);
    Require(cells[r].kind != Cell::kBad);
    Require(x.has_value() == (cells[r].kind == Cell::kNumber));
    if (x) Require(std::fabs(*x - cells[r].value) <= 1e-15L * std::fabs(cells[r].value) + 5e-324L);
    any = any || x.has_value();
  }
  if (!any) return std::nullopt;
  return std::move(*v);
}

void Individuals(const std::vector<std::optional<double>>& x) {
  ChartData data;
  for (size_t r = 0; r < x.size(); ++r)
    if (x[r]) data.subgroups.push_back({std::to_string(r + 1), {*x[r]}, 0});
  for (ChartType type : {ChartType::kIMR, ChartType::kEWMA, ChartType::kCUSUM})
    Chart2Ways(data, type, data.subgroups.size());
}

// Rows with the same id in column `by` form a subgroup, in order of first appearance (--subgroup-column).
void Subgrouped(const CsvTable& t, const std::vector<std::optional<double>>& x, size_t by) {
  ChartData data;
  std::map<std::string, size_t> at;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    std::string id = Trim(t.rows[r][by]);
    if (id.empty() || id == "NA") return;  // the CLI refuses a missing id
    auto [it, fresh] = at.emplace(id, data.subgroups.size());
    if (fresh) data.subgroups.push_back({id, {}, 0});
    Subgroup& g = data.subgroups[it->second];
    if (x[r]) g.values.push_back(*x[r]);
    else ++g.missing;
  }
  std::erase_if(data.subgroups, [](const Subgroup& g) { return g.values.empty(); });
  for (ChartType type : {ChartType::kXbarR, ChartType::kXbarS}) Chart2Ways(data, type, data.subgroups.size());
}

void Attributes(const std::vector<std::optional<double>>& counts, const std::vector<std::optional<double>>& sizes) {
  ChartData data;
  for (size_t r = 0; r < counts.size(); ++r)
    if (counts[r] && sizes[r]) data.samples.push_back({std::to_string(r + 1), *counts[r], *sizes[r]});
  for (ChartType type : {ChartType::kP, ChartType::kNP, ChartType::kC, ChartType::kU})
    Chart2Ways(data, type, data.samples.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxBytes) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = ParseCsv(text, std::string(kFile));
  if (!table.ok()) {
    RequireNamesFile(table.status());
    return 0;
  }
  const CsvTable& t = *table;
  CheckTable(t);
  if (t.rows.size() > kMaxRows) return 0;

  std::vector<std::optional<std::vector<std::optional<double>>>> numeric;
  for (size_t c = 0; c < t.header.size(); ++c) numeric.push_back(Numbers(t, c));
  std::optional<size_t> first;
  for (size_t c = 0; c < numeric.size() && !first; ++c)
    if (numeric[c]) first = c;
  if (!first) return 0;

  Individuals(*numeric[*first]);

  // The value column for subgroups: the first numeric column that is not the grouping (second) column.
  if (t.header.size() >= 2) {
    for (size_t c = 0; c < numeric.size(); ++c)
      if (c != 1 && numeric[c]) {
        Subgrouped(t, *numeric[c], 1);
        break;
      }
  }

  // Sizes: the column named "size" or "n" if numeric, else the last numeric column; counts: the first
  // other numeric column.
  std::optional<size_t> sizes;
  for (size_t c = 0; c < t.header.size(); ++c)
    if ((t.header[c] == "size" || t.header[c] == "n") && numeric[c]) sizes = c;
  for (size_t c = numeric.size(); c-- > 0 && !sizes;)
    if (numeric[c]) sizes = c;
  for (size_t c = 0; c < numeric.size(); ++c)
    if (c != *sizes && numeric[c]) {
      Attributes(*numeric[c], *numeric[*sizes]);
      break;
    }
  return 0;
}
