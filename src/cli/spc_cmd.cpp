#include "cli/spc_cmd.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "spc/autocorr.h"
#include "spc/capability.h"
#include "spc/chart_json.h"
#include "spc/charts.h"
#include "spc/csv_table.h"
#ifdef PF_SPC_HAS_PLOT
#include "spc/plot.h"
#endif

namespace pf {
namespace {

using namespace pf::spc;

constexpr int kExitBadInput = 2;
constexpr int kExitFailed = 1;

// Rows of the table grouped into points: by --subgroup-column id, --subgroup-size N, or one each.
struct Grouping {
  std::vector<std::string> labels;
  std::vector<std::vector<size_t>> rows;
};

struct Loaded {
  ChartData data;
  JsonInput input;
  std::vector<std::string> warnings;
};

Result<CsvTable> Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot read: {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseCsv(ss.str(), path);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::stringstream ss(s);
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

// by_size: --subgroup-size groups consecutive rows (variables and t2); attribute charts read it as the sample size.
// unique: every id must name one row (charts of individual points).
Result<Grouping> GroupRows(const CsvTable& t, const SpcArgs& a, bool by_size, bool unique, std::string_view chart) {
  Grouping g;
  if (!a.subgroup_column.empty()) {
    PF_ASSIGN_OR_RETURN(size_t c, t.Column(a.subgroup_column));
    std::map<std::string, size_t> at;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      std::string id = Trim(t.rows[r][c]);
      if (id.empty() || id == "NA")
        return InvalidArgument("{}: missing subgroup id in column '{}'", t.Where(r, c), a.subgroup_column);
      auto [it, fresh] = at.emplace(id, g.rows.size());
      if (fresh) {
        g.labels.push_back(id);
        g.rows.emplace_back();
      } else if (unique) {
        return InvalidArgument("{}: id '{}' in column '{}' repeats (first on line {}): a {} chart takes one row per "
                               "point",
                               t.Where(r, c), id, a.subgroup_column, t.lines[g.rows[it->second][0]], chart);
      }
      g.rows[it->second].push_back(r);
    }
    return g;
  }
  if (by_size && a.subgroup_size > 0) {
    size_t n = static_cast<size_t>(a.subgroup_size);
    if (t.rows.size() % n != 0)
      return InvalidArgument("{}: {} data rows do not divide into subgroups of {} (lines {}-{} are left over)", t.file,
                             t.rows.size(), n, t.lines[t.rows.size() / n * n], t.lines.back());
    for (size_t r = 0; r < t.rows.size(); r += n) {
      g.labels.push_back(std::to_string(r / n + 1));
      g.rows.emplace_back();
      for (size_t k = 0; k < n; ++k) g.rows.back().push_back(r + k);
    }
    return g;
  }
  for (size_t r = 0; r < t.rows.size(); ++r) {
    g.labels.push_back(std::to_string(r + 1));  // the data row
    g.rows.push_back({r});
  }
  return g;
}

// The value column: --column, else the only column no other flag claims.
Result<std::string> ValueColumn(const CsvTable& t, const SpcArgs& a) {
  if (!a.column.empty()) return a.column;
  std::vector<std::string> free;
  for (const auto& h : t.header)
    if (h != a.subgroup_column && h != a.sizes_column) free.push_back(h);
  if (free.size() == 1) return free[0];
  std::string have;
  for (const auto& h : free) have += (have.empty() ? "" : ", ") + h;
  return InvalidArgument("{}: which column to chart? give --column (candidates: {})", t.file, have);
}

Result<Loaded> LoadVariables(const CsvTable& t, const SpcArgs& a, ChartType type) {
  Loaded l;
  bool individuals = type == ChartType::kIMR;
  PF_ASSIGN_OR_RETURN(std::string col, ValueColumn(t, a));
  PF_ASSIGN_OR_RETURN(auto values, t.NumericColumn(col));
  PF_ASSIGN_OR_RETURN(Grouping g, GroupRows(t, a, true, individuals && !a.subgroup_column.empty(), ChartTypeName(type)));
  for (size_t i = 0; i < g.rows.size(); ++i) {
    Subgroup s;
    s.label = g.labels[i];
    for (size_t r : g.rows[i]) {
      if (values[r]) s.values.push_back(*values[r]);
      else ++s.missing;
    }
    l.input.missing += s.missing;
    if (s.values.empty()) {
      if (g.rows[i].size() > 1) l.warnings.push_back(fmt::format("subgroup '{}': every value is missing: dropped", s.label));
      continue;
    }
    l.data.subgroups.push_back(std::move(s));
  }
  return l;
}

Result<Loaded> LoadAttributes(const CsvTable& t, const SpcArgs& a, ChartType type) {
  Loaded l;
  PF_ASSIGN_OR_RETURN(std::string col, ValueColumn(t, a));
  PF_ASSIGN_OR_RETURN(auto counts, t.NumericColumn(col));
  std::vector<std::optional<double>> sizes(t.rows.size(), std::nullopt);
  if (!a.sizes_column.empty()) {
    PF_ASSIGN_OR_RETURN(sizes, t.NumericColumn(a.sizes_column));
  } else if (a.subgroup_size > 0) {
    sizes.assign(t.rows.size(), static_cast<double>(a.subgroup_size));
  } else if (type == ChartType::kC) {
    sizes.assign(t.rows.size(), 1.0);
  } else {
    return InvalidArgument("a {} chart needs the sample sizes: --sizes-column C, or --subgroup-size N when every "
                           "sample has N {}",
                           ChartTypeName(type), type == ChartType::kU ? "inspection units" : "units");
  }
  PF_ASSIGN_OR_RETURN(Grouping g, GroupRows(t, a, false, true, ChartTypeName(type)));
  for (size_t i = 0; i < g.rows.size(); ++i) {
    size_t r = g.rows[i][0];
    if (!counts[r] || !sizes[r]) {
      l.input.missing += !counts[r] + !sizes[r];
      continue;
    }
    l.data.samples.push_back({g.labels[i], *counts[r], *sizes[r]});
  }
  return l;
}

Result<Loaded> LoadT2(const std::vector<CsvTable>& tables, const SpcArgs& a) {
  Loaded l;
  if (tables.size() == 1) {
    const CsvTable& t = tables[0];
    std::vector<std::string> cols = SplitList(a.columns);
    if (cols.empty()) return InvalidArgument("a t2 chart needs --columns c1,c2,... (the variables)");
    std::vector<std::vector<std::optional<double>>> vars;
    for (const auto& c : cols) {
      PF_ASSIGN_OR_RETURN(auto v, t.NumericColumn(c));
      vars.push_back(std::move(v));
    }
    l.data.variables = cols;
    PF_ASSIGN_OR_RETURN(Grouping g, GroupRows(t, a, true, false, "t2"));
    for (size_t i = 0; i < g.rows.size(); ++i) {
      VectorSubgroup s{g.labels[i], {}};
      for (size_t r : g.rows[i]) {
        std::vector<double> row;
        for (const auto& v : vars)
          if (v[r]) row.push_back(*v[r]);
        if (row.size() != vars.size()) {
          l.input.missing += static_cast<int>(vars.size() - row.size());
          continue;
        }
        s.rows.push_back(std::move(row));
      }
      if (!s.rows.empty()) l.data.vectors.push_back(std::move(s));
    }
    return l;
  }
  // One file per variable, one row per subgroup, the observations in columns.
  size_t m = tables[0].rows.size();
  std::vector<std::vector<std::vector<std::optional<double>>>> per_var;  // var -> obs column -> row
  for (const CsvTable& t : tables) {
    if (t.rows.size() != m)
      return InvalidArgument("{}: {} rows, {} has {}: one row per subgroup in every file", t.file, t.rows.size(),
                             tables[0].file, m);
    std::vector<std::string> cols = SplitList(a.columns);
    if (cols.empty())
      for (const auto& h : t.header)
        if (h != a.subgroup_column) cols.push_back(h);
    std::vector<std::vector<std::optional<double>>> obs;
    for (const auto& c : cols) {
      PF_ASSIGN_OR_RETURN(auto v, t.NumericColumn(c));
      obs.push_back(std::move(v));
    }
    if (!per_var.empty() && obs.size() != per_var[0].size())
      return InvalidArgument("{}: {} observation columns, {} has {}", t.file, obs.size(), tables[0].file,
                             per_var[0].size());
    per_var.push_back(std::move(obs));
    l.data.variables.push_back(std::filesystem::path(t.file).stem().string());
  }
  std::vector<std::string> labels;
  if (!a.subgroup_column.empty()) {
    PF_ASSIGN_OR_RETURN(size_t c, tables[0].Column(a.subgroup_column));
    for (size_t r = 0; r < m; ++r) labels.push_back(Trim(tables[0].rows[r][c]));
  }
  for (size_t r = 0; r < m; ++r) {
    VectorSubgroup s{labels.empty() ? std::to_string(r + 1) : labels[r], {}};
    for (size_t j = 0; j < per_var[0].size(); ++j) {
      std::vector<double> row;
      for (const auto& var : per_var)
        if (var[j][r]) row.push_back(*var[j][r]);
      if (row.size() != per_var.size()) {
        l.input.missing += static_cast<int>(per_var.size() - row.size());
        continue;
      }
      s.rows.push_back(std::move(row));
    }
    if (!s.rows.empty()) l.data.vectors.push_back(std::move(s));
  }
  return l;
}

Result<std::pair<int, int>> ParseRange(const std::string& s) {
  auto colon = s.find(':');
  auto num = [&](const std::string& part) -> std::optional<int> {
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoi(part);
  };
  std::optional<int> a, b;
  if (colon != std::string::npos) a = num(s.substr(0, colon)), b = num(s.substr(colon + 1));
  if (!a || !b) return InvalidArgument("--phase1-rows '{}': expected A:B (1-based, inclusive), e.g. 1:25", s);
  return std::make_pair(*a, *b);
}

Result<ChartOptions> Options(const SpcArgs& a, ChartType type) {
  ChartOptions o;
  o.type = type;
  if (!a.phase1_rows.empty()) {
    PF_ASSIGN_OR_RETURN(auto range, ParseRange(a.phase1_rows));
    o.phase1_first = range.first;
    o.phase1_last = range.second;
  }
  PF_ASSIGN_OR_RETURN(o.rules, ParseRuleSet(a.rules));
  o.exclude_ooc = a.exclude_ooc;
  o.max_exclusion_passes = a.max_passes;
  for (const auto& item : SplitList(a.exclude)) {
    if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 9)
      return InvalidArgument("--exclude '{}': '{}' is not a point number", a.exclude, item);
    o.exclude.push_back(std::stoi(item));
  }
  o.L = a.L;
  o.lambda = a.lambda;
  o.asymptotic = a.asymptotic;
  o.k = a.k;
  o.h = a.h;
  o.fir = a.fir;
  o.alpha = a.alpha;
  o.mean = a.mean;
  o.sigma = a.sigma;
  o.allow_autocorrelation = a.allow_autocorrelation;
  return o;
}

std::string Num(double v) { return fmt::format("{:.6g}", v); }

std::string Limits(const Chart& c) {
  auto show = [&](const std::optional<double>& v, double ChartPoint::*field) {
    if (v) return Num(*v);
    double lo = c.points[0].*field, hi = lo;
    for (const auto& p : c.points) lo = std::min(lo, p.*field), hi = std::max(hi, p.*field);
    return lo == hi ? Num(lo) : fmt::format("{}..{} (per point)", Num(lo), Num(hi));
  };
  std::string s = fmt::format("center {}  UCL {}", show(c.center, &ChartPoint::center), show(c.ucl, &ChartPoint::ucl));
  s += c.lcl ? fmt::format("  LCL {}", Num(*c.lcl)) : fmt::format("  LCL {}", show(c.lcl, &ChartPoint::lcl));
  return s;
}

void PrintText(const ChartResult& r, const JsonInput& in, std::ostream& out) {
  size_t points = r.charts.empty() ? 0 : r.charts[0].points.size();
  out << fmt::format("{} chart of {}: {} points ({} data rows, {} missing cells skipped)\n", ChartTypeName(r.type),
                     in.file, points, in.rows, in.missing);
  if (r.phase1_first > 0) out << fmt::format("Phase I: points {}-{}\n", r.phase1_first, r.phase1_last);
  else out << "Phase I: none (given parameters); every point is Phase II\n";
  std::string params;
  for (const auto& [k, v] : r.parameters) params += fmt::format("{}{}={}", params.empty() ? "" : "  ", k, Num(v));
  out << "parameters: " << params << "\n";
  for (const Chart& c : r.charts) out << fmt::format("  {:<12} {}\n", c.name, Limits(c));
  if (r.lag1_autocorrelation) out << fmt::format("lag-1 autocorrelation (Phase I): {:.3f}\n", *r.lag1_autocorrelation);
  for (const Exclusion& e : r.exclusions)
    out << fmt::format("excluded: point {} ({} chart, pass {}): {}\n", e.index, e.chart, e.iteration, e.reason);
  out << fmt::format("violations: {}\n", r.violations.size());
  for (const Violation& v : r.violations) out << fmt::format("  {:<8} {:<12} {}: {}\n", v.rule, v.chart, v.zone, v.message);
  for (const auto& w : r.warnings) out << "warning: " << w << "\n";
}

// --ar1-residuals: replaces the values by the one-step prediction errors of an AR(1) model fitted
// (Yule-Walker) to the Phase I values. Point 1 has no predecessor and drops out, so point i+1
// becomes residual i and the Phase I range moves down by one; labels keep the data rows.
Status ToAr1Residuals(const SpcArgs& a, ChartType type, ChartData* data, ChartOptions* o,
                      std::map<std::string, double>* params, std::vector<std::string>* warnings) {
  if (type != ChartType::kIMR && type != ChartType::kEWMA && type != ChartType::kCUSUM)
    return InvalidArgument("--ar1-residuals applies to individual values: --chart ewma, cusum or imr");
  std::vector<double> x;
  for (const Subgroup& g : data->subgroups) {
    if (g.values.size() != 1)
      return InvalidArgument("--ar1-residuals needs one value per point; subgroup '{}' has {}", g.label, g.values.size());
    x.push_back(g.values[0]);
  }
  int first = o->phase1_first.value_or(1), last = o->phase1_last.value_or(static_cast<int>(x.size()));
  if (first < 1 || last < first || last > static_cast<int>(x.size()))
    return InvalidArgument("Phase I points {}:{} are outside 1:{} (or reversed)", first, last, x.size());
  std::vector<double> base(x.begin() + first - 1, x.begin() + last);
  auto fit = FitAr1(base);
  if (!fit.ok()) return fit.status().WithContext("--ar1-residuals: Phase I");
  std::vector<double> e = Ar1Residuals(x, *fit);
  std::vector<Subgroup> out;
  for (size_t i = 0; i < e.size(); ++i) out.push_back({data->subgroups[i + 1].label, {e[i]}, 0});
  data->subgroups = std::move(out);
  if (last - 1 < std::max(1, first - 1)) return InvalidArgument("--ar1-residuals: Phase I {}:{} leaves no residual", first, last);
  if (o->phase1_first || o->phase1_last) {
    o->phase1_first = std::max(1, first - 1);
    o->phase1_last = last - 1;
  }
  (*params)["ar1_phi"] = fit->phi;
  (*params)["ar1_mean"] = fit->mean;
  (*params)["ar1_residual_sigma"] = fit->residual_sigma;
  warnings->push_back(fmt::format("charting AR(1) residuals (phi {:.4f}, mean {:.6g}, residual sigma {:.6g}) from "
                                  "Phase I {}:{}; point 1 has no residual, so point i is data point i+1",
                                  fit->phi, fit->mean, fit->residual_sigma, first, last));
  return Status::Ok();
}

bool IsVariables(ChartType t) {
  return t == ChartType::kXbarR || t == ChartType::kXbarS || t == ChartType::kIMR || t == ChartType::kEWMA ||
         t == ChartType::kCUSUM;
}

// The individual values behind the Phase I points in use (all points when nothing is estimated).
std::vector<double> CapabilityValues(const ChartData& data, const ChartResult& r) {
  std::vector<double> v;
  for (const ChartPoint& p : r.charts.front().points) {
    if (r.phase1_first > 0 && (p.phase != 1 || p.excluded)) continue;
    const auto& values = data.subgroups[p.index - 1].values;
    v.insert(v.end(), values.begin(), values.end());
  }
  return v;
}

std::string Opt(const std::optional<double>& v) { return v ? fmt::format("{:.4g}", *v) : "-"; }

void PrintCapability(const CapabilityResult& c, std::ostream& out) {
  out << fmt::format("capability (n {}, mean {:.6g}, sigma within {:.6g}, overall {:.6g}):\n", c.n, c.mean,
                     c.sigma_within, c.sigma_overall);
  out << fmt::format("  Cp {}  Cpk {}  Pp {}  Ppk {}  Cpm {}\n", Opt(c.cp), Opt(c.cpk), Opt(c.pp), Opt(c.ppk),
                     Opt(c.cpm));
  out << fmt::format("  expected ppm {:.1f} (within), {:.1f} (overall); observed ppm {:.1f}\n", c.expected_ppm_total,
                     c.expected_ppm_total_overall, c.observed_ppm_total);
  out << fmt::format("  Anderson-Darling A*² {:.4f}, p {:.4f}: {}\n", c.anderson_darling, c.ad_p_value,
                     c.normal ? "normality not rejected" : "normality rejected (see the percentile indices)");
  if (!c.normal)
    out << fmt::format("  percentile Pp {}  Ppk {}\n", Opt(c.percentile_pp), Opt(c.percentile_ppk));
  for (const auto& w : c.warnings) out << "  warning: " << w << "\n";
}

int Fail(std::ostream& err, const Status& s) {
  err << "spc: " << s.message() << "\n";
  bool bad_input = s.code() != StatusCode::kInternal && s.code() != StatusCode::kUnimplemented &&
                   s.code() != StatusCode::kUnavailable;
  return bad_input ? kExitBadInput : kExitFailed;
}

}  // namespace

int RunSpc(const SpcArgs& a, std::ostream& out, std::ostream& err) {
  auto type = ParseChartType(a.chart);
  if (!type)
    return Fail(err, InvalidArgument("--chart '{}': expected xbar_r, xbar_s, imr, p, np, c, u, ewma, cusum or t2", a.chart));
  if (a.inputs.empty()) return Fail(err, InvalidArgument("--input FILE.csv is required"));
  if (a.inputs.size() > 1 && *type != ChartType::kT2)
    return Fail(err, InvalidArgument("several --input files are for t2 only (one file per variable)"));
  if (a.subgroup_size < 0) return Fail(err, InvalidArgument("--subgroup-size {} must be 1 or more", a.subgroup_size));
  if (a.subgroup_size > 0 && !a.subgroup_column.empty() && *type != ChartType::kP && *type != ChartType::kNP &&
      *type != ChartType::kU)
    return Fail(err, InvalidArgument("--subgroup-size and --subgroup-column both given: choose one"));
  if (a.usl && a.lsl && !(*a.lsl < *a.usl))
    return Fail(err, InvalidArgument("--lsl {} must be below --usl {}", *a.lsl, *a.usl));

  std::vector<CsvTable> tables;
  for (const auto& path : a.inputs) {
    auto t = Load(path);
    if (!t.ok()) return Fail(err, t.status());
    tables.push_back(std::move(*t));
  }
  Result<Loaded> loaded = InvalidArgument("unreachable");
  switch (*type) {
    case ChartType::kP:
    case ChartType::kNP:
    case ChartType::kC:
    case ChartType::kU:
      loaded = LoadAttributes(tables[0], a, *type);
      break;
    case ChartType::kT2:
      loaded = LoadT2(tables, a);
      break;
    default:
      loaded = LoadVariables(tables[0], a, *type);
  }
  if (!loaded.ok()) return Fail(err, loaded.status());
  loaded->input.rows = static_cast<int>(tables[0].rows.size());
  loaded->input.file = a.inputs[0];
  for (size_t i = 1; i < a.inputs.size(); ++i) loaded->input.file += "," + a.inputs[i];

  auto options = Options(a, *type);
  if (!options.ok()) return Fail(err, options.status());
  std::map<std::string, double> extra;
  std::vector<std::string> notes;
  if (a.ar1_residuals) {
    Status st = ToAr1Residuals(a, *type, &loaded->data, &*options, &extra, &notes);
    if (!st.ok()) return Fail(err, st);
  }
  auto result = BuildChart(loaded->data, *options);
  if (!result.ok()) return Fail(err, result.status());
  ChartResult& r = *result;
  r.parameters.insert(extra.begin(), extra.end());
  r.warnings.insert(r.warnings.begin(), notes.begin(), notes.end());
  if (loaded->input.missing > 0)
    r.warnings.push_back(fmt::format("{} missing cells (empty or NA) skipped", loaded->input.missing));
  r.warnings.insert(r.warnings.end(), loaded->warnings.begin(), loaded->warnings.end());

  std::optional<CapabilityResult> capability;
  if (a.usl || a.lsl) {
    if (!IsVariables(*type) || a.ar1_residuals) {
      r.warnings.push_back("capability needs the values of a variables chart (xbar_r, xbar_s, imr, ewma, cusum) "
                           "without --ar1-residuals: \"capability\" is null");
    } else {
      // Phase I values in use against the specs, with the chart's within-subgroup sigma.
      CapabilityOptions co;
      co.lsl = a.lsl;
      co.usl = a.usl;
      co.target = a.target;
      auto cap = ComputeCapability(CapabilityValues(loaded->data, r), r.parameters.at("sigma"), co);
      if (!cap.ok()) return Fail(err, cap.status().WithContext("capability"));
      r.capability_json = CapabilityJson(*cap);
      capability = std::move(*cap);
    }
  } else if (a.target) {
    return Fail(err, InvalidArgument("--target needs --usl and/or --lsl (it only enters the capability indices)"));
  }
  if (!a.plot.empty()) {
#ifdef PF_SPC_HAS_PLOT
    Status st = WriteChartPlot(r, a.plot);
    if (!st.ok()) return Fail(err, st.WithContext("--plot"));
#else
    // The hook: spc/plot.h `Status WriteChartPlot(const ChartResult&, const std::string& path)`, compiled in when
    // pf_spc carries plot.cpp (src/cli/CMakeLists.txt defines PF_SPC_HAS_PLOT then).
    return Fail(err, Unimplemented("--plot {}: chart plots are not built into this binary (pf_spc has no plot.cpp)",
                                   a.plot));
#endif
  }
  if (a.json) {
    out << ChartResultJson(r, loaded->input).dump(2) << "\n";
  } else {
    PrintText(r, loaded->input, out);
    if (capability) PrintCapability(*capability, out);
  }
  return 0;
}

int RunSpcMain(const SpcArgs& a) { return RunSpc(a, std::cout, std::cerr); }

void AddSpcCommand(CLI::App& app) {
  auto args = std::make_shared<SpcArgs>();
  auto* spc = app.add_subcommand("spc", "control charts of a CSV file: Phase I limits, Phase II points, run rules");
  spc->add_option("--chart", args->chart, "xbar_r xbar_s imr p np c u ewma cusum t2")->required();
  spc->add_option("--input", args->inputs, "CSV file with a header row (t2: several, one per variable)")->required();
  spc->add_option("--column", args->column, "the column to chart (counts for p/np/c/u)");
  spc->add_option("--columns", args->columns, "t2: the variables (or, with several inputs, the observation columns)");
  spc->add_option("--subgroup-size", args->subgroup_size,
                  "subgroups of N consecutive rows; p/np/u: the constant sample size");
  spc->add_option("--subgroup-column", args->subgroup_column, "rows with the same id form a subgroup (labels points)");
  spc->add_option("--sizes-column", args->sizes_column, "p/np/u: the sample size of each row");
  spc->add_option("--phase1-rows", args->phase1_rows, "A:B Phase I points (subgroups), 1-based inclusive; default all");
  spc->add_option("--rules", args->rules, "we, nelson, none or a list: we1,nelson2,...")->capture_default_str();
  spc->add_option("--usl", args->usl, "upper specification limit (capability)");
  spc->add_option("--lsl", args->lsl, "lower specification limit (capability)");
  spc->add_option("--target", args->target, "target value (Cpm)");
  spc->add_option("--lambda", args->lambda, "EWMA weight")->capture_default_str();
  spc->add_option("--L", args->L, "limit width in sigmas (Shewhart, EWMA)")->capture_default_str();
  spc->add_option("--k", args->k, "CUSUM reference value in sigmas")->capture_default_str();
  spc->add_option("--h", args->h, "CUSUM decision interval in sigmas")->capture_default_str();
  spc->add_flag("--fir", args->fir, "CUSUM fast initial response (headstart H/2)");
  spc->add_flag("--asymptotic", args->asymptotic, "EWMA: asymptotic limits at every point");
  spc->add_option("--alpha", args->alpha, "T² false-alarm probability per point")->capture_default_str();
  spc->add_option("--mean", args->mean, "known process mean (p/np: p, c: c, u: u) instead of the Phase I estimate");
  spc->add_option("--sigma", args->sigma, "known process sigma of one value instead of the Phase I estimate");
  spc->add_flag("--exclude-ooc", args->exclude_ooc, "Phase I: exclude points beyond the limits and re-estimate until none");
  spc->add_option("--max-passes", args->max_passes, "with --exclude-ooc: at most N exclusion passes (0: until none)");
  spc->add_option("--exclude", args->exclude, "Phase I points to exclude up front (assignable causes), e.g. 15,23");
  spc->add_flag("--ar1-residuals", args->ar1_residuals,
                "chart the residuals of an AR(1) fit to the Phase I values (imr, ewma, cusum; for autocorrelated tags)");
  spc->add_flag("--allow-autocorrelation", args->allow_autocorrelation,
                "keep Shewhart limits although the Phase I lag-1 autocorrelation is above 0.5");
  spc->add_flag("--json", args->json, "print one JSON object");
  spc->add_option("--plot", args->plot, "write the chart as FILE.png or FILE.svg");
  spc->callback([args] { std::exit(RunSpcMain(*args)); });
}

}  // namespace pf
