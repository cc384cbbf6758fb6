// The Phase I / Phase II machinery shared by every chart family: the Phase I range, exclusions
// (given and iterative), the autocorrelation gate, rules, and the final checks (no NaN out).
#include "spc/charts.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "spc/autocorr.h"
#include "spc/chart_build.h"

namespace pf::spc {
namespace {

constexpr std::array<std::string_view, 10> kTypeNames = {"xbar_r", "xbar_s", "imr", "p",     "np",
                                                         "c",      "u",      "ewma", "cusum", "t2"};

using internal::Built;
using internal::Family;

Result<Family> MakeFamily(const ChartData& data, const ChartOptions& o) {
  switch (o.type) {
    case ChartType::kXbarR:
    case ChartType::kXbarS:
    case ChartType::kIMR:
      if (data.subgroups.empty()) return InvalidArgument("no data: the {} chart has no values", ChartTypeName(o.type));
      return internal::VariablesFamily(data, o);
    case ChartType::kP:
    case ChartType::kNP:
    case ChartType::kC:
    case ChartType::kU:
      if (data.samples.empty()) return InvalidArgument("no data: the {} chart has no samples", ChartTypeName(o.type));
      return internal::AttributesFamily(data, o);
    case ChartType::kEWMA:
    case ChartType::kCUSUM:
      if (data.subgroups.empty()) return InvalidArgument("no data: the {} chart has no values", ChartTypeName(o.type));
      return internal::EwmaCusumFamily(data, o);
    case ChartType::kT2:
      return internal::T2Family(data, o);
  }
  return Internal("unknown chart type");
}

std::string Num(double v) { return fmt::format("{:.6g}", v); }

// Phase I points beyond a limit on any chart (each point once, the first chart that shows it).
std::vector<Exclusion> Beyond(const std::vector<Chart>& charts, const std::vector<bool>& use, int pass) {
  std::vector<Exclusion> out;
  std::vector<bool> taken(use.size(), false);
  for (const Chart& c : charts) {
    for (const ChartPoint& p : c.points) {
      size_t i = p.index - 1;
      if (!use[i] || taken[i]) continue;
      bool above = p.value > p.ucl, below = p.value < p.lcl;
      if (!above && !below) continue;
      taken[i] = true;
      out.push_back({p.index, c.name, pass,
                     fmt::format("beyond {} {} (value {})", above ? "UCL" : "LCL", Num(above ? p.ucl : p.lcl),
                                 Num(p.value))});
    }
  }
  std::sort(out.begin(), out.end(), [](const Exclusion& a, const Exclusion& b) { return a.index < b.index; });
  return out;
}

Status CheckResult(const ChartResult& r) {
  for (const Chart& c : r.charts)
    for (const ChartPoint& p : c.points)
      for (double v : {p.value, p.center, p.ucl, p.lcl, p.sigma})
        if (!std::isfinite(v))
          // The inputs are finite (the readers refuse anything else), so this is an overflow of
          // the data's magnitude: bad input, not a bug.
          return InvalidArgument(
              "{} chart, point {}: the data overflow double precision (value {}, center {}, limits {} / {}); "
              "rescale the values (e.g. other units) or check the sizes",
              c.name, p.index, p.value, p.center, p.lcl, p.ucl);
  for (const auto& [k, v] : r.parameters)
    if (!std::isfinite(v))
      return InvalidArgument("parameter {}: the data overflow double precision; rescale the values (e.g. other units)", k);
  return Status::Ok();
}

}  // namespace

ChartOptions::ChartOptions() : rules(*ParseRuleSet("we")) {}

std::string_view ChartTypeName(ChartType t) { return kTypeNames[static_cast<int>(t)]; }

std::optional<ChartType> ParseChartType(std::string_view name) {
  for (size_t i = 0; i < kTypeNames.size(); ++i)
    if (kTypeNames[i] == name) return static_cast<ChartType>(i);
  return std::nullopt;
}

bool IsShewhart(ChartType t) { return t != ChartType::kEWMA && t != ChartType::kCUSUM && t != ChartType::kT2; }

std::optional<double> Lag1(const std::vector<double>& x) {
  if (x.size() < 3) return std::nullopt;
  if (std::all_of(x.begin(), x.end(), [&](double v) { return v == x[0]; })) return std::nullopt;
  return Lag1Autocorrelation(x);
}

Result<ChartResult> BuildChart(const ChartData& data, const ChartOptions& o) {
  if (!(o.L > 0) || !std::isfinite(o.L)) return InvalidArgument("limit width L {} must be above 0", o.L);
  PF_ASSIGN_OR_RETURN(Family f, MakeFamily(data, o));
  if (f.points == 0) return InvalidArgument("no data: the {} chart has no points", ChartTypeName(o.type));
  ChartResult r;
  r.type = o.type;

  // Phase I range.
  bool range_given = o.phase1_first || o.phase1_last;
  int first = o.phase1_first.value_or(1), last = o.phase1_last.value_or(f.points);
  if (first < 1 || last < first || last > f.points)
    return InvalidArgument("Phase I points {}:{} are outside 1:{} (or reversed)", first, last, f.points);
  if (f.all_given && !range_given) first = 1, last = 0;  // nothing to estimate: every point is Phase II
  if (f.all_given && range_given)
    r.warnings.push_back("the parameters are given: the Phase I points only carry the label, they estimate nothing");
  std::vector<bool> phase1(f.points, false), use(f.points, false);
  for (int i = first; i <= last; ++i) phase1[i - 1] = use[i - 1] = true;
  if (last >= first) r.phase1_first = first, r.phase1_last = last;

  for (int i : o.exclude) {
    if (i < 1 || i > f.points) return InvalidArgument("excluded point {} is outside 1:{}", i, f.points);
    if (!phase1[i - 1])
      return InvalidArgument("excluded point {} is not in Phase I ({}:{}): only Phase I points estimate the limits", i,
                             first, last);
    if (!use[i - 1]) continue;
    use[i - 1] = false;
    r.exclusions.push_back({i, "", 0, "excluded by the user (assignable cause)"});  // chart named below
  }
  if (!f.all_given && std::none_of(use.begin(), use.end(), [](bool u) { return u; }))
    return InvalidArgument("Phase I ({}:{}) has no point left after the exclusions", first, last);

  // Autocorrelation of the Phase I series (points in use).
  if (!f.series.empty()) {
    std::vector<double> s;
    for (int i = 0; i < f.points; ++i)
      if (phase1[i]) s.push_back(f.series[i]);
    r.lag1_autocorrelation = Lag1(s);
  }
  if (IsShewhart(o.type) && r.lag1_autocorrelation && *r.lag1_autocorrelation > o.max_autocorrelation &&
      !f.all_given) {
    if (!o.allow_autocorrelation)
      return FailedPrecondition(
          "Phase I lag-1 autocorrelation is {:.3f} (above {}): Shewhart limits assume independent points and would "
          "alarm all day on this series; chart AR(1) residuals with an EWMA (--chart ewma --ar1-residuals), subgroup "
          "by time (--subgroup-size N), or override with --allow-autocorrelation",
          *r.lag1_autocorrelation, o.max_autocorrelation);
    r.warnings.push_back(fmt::format("Phase I lag-1 autocorrelation {:.3f} is above {}: limits kept by override",
                                     *r.lag1_autocorrelation, o.max_autocorrelation));
  }

  // Estimate, then exclude and re-estimate until no Phase I point is beyond a limit.
  Built b;
  for (int pass = 1;; ++pass) {
    PF_ASSIGN_OR_RETURN(b, f.build(use, phase1));
    if (!o.exclude_ooc || f.all_given) break;
    if (o.max_exclusion_passes > 0 && pass > o.max_exclusion_passes) break;
    std::vector<Exclusion> out = Beyond(b.charts, use, pass);
    if (out.empty()) break;
    for (const Exclusion& e : out) use[e.index - 1] = false;
    if (std::none_of(use.begin(), use.end(), [](bool u) { return u; }))
      return InvalidArgument("Phase I ({}:{}): pass {} excluded the last points in use; no limits are left", first,
                             last, pass);
    r.exclusions.insert(r.exclusions.end(), out.begin(), out.end());
  }
  if (o.exclude_ooc && f.all_given) r.warnings.push_back("exclusions skipped: the parameters are given, nothing is estimated");

  r.charts = std::move(b.charts);
  for (Exclusion& e : r.exclusions)
    if (e.chart.empty()) e.chart = r.charts.front().name;
  r.parameters = std::move(b.parameters);
  r.warnings.insert(r.warnings.end(), b.warnings.begin(), b.warnings.end());
  if (o.type != ChartType::kCUSUM && o.type != ChartType::kT2) r.parameters["L"] = o.L;
  for (Chart& c : r.charts) {
    for (ChartPoint& p : c.points) {
      p.phase = phase1[p.index - 1] ? 1 : 2;
      p.excluded = phase1[p.index - 1] && !use[p.index - 1];
    }
    internal::SetConstantLimits(&c);
    if (o.type == ChartType::kCUSUM) c.lcl.reset();
  }

  // Rules: the full selection on a Shewhart main chart, the limit rule elsewhere.
  bool any_nelson = std::any_of(o.rules.rules.begin(), o.rules.rules.end(),
                                [](Rule x) { return static_cast<int>(x) >= static_cast<int>(Rule::kNelson1); });
  Rule limit = o.rules.LimitRule().value_or(any_nelson ? Rule::kNelson1 : Rule::kWe1);
  bool shewhart = IsShewhart(o.type);
  RuleSet skipped;
  for (Rule x : o.rules.rules)
    if (!IsLimitRule(x)) skipped.rules.push_back(x);
  if (!shewhart && !skipped.empty())
    r.warnings.push_back(fmt::format("{} charts are judged by the limit rule only ({}); run rules {} skipped",
                                     ChartTypeName(o.type), RuleName(limit), skipped.ToString()));
  for (size_t ci = 0; ci < r.charts.size(); ++ci) {
    const Chart& c = r.charts[ci];
    RuleSet set;
    if (shewhart && ci == 0) set = o.rules;
    else if (!o.rules.empty()) set.rules = {limit};
    std::vector<RulePoint> pts;
    pts.reserve(c.points.size());
    for (const ChartPoint& p : c.points) pts.push_back({p.index, p.value, p.center, p.ucl, p.lcl, p.sigma});
    std::vector<Violation> v = EvaluateRules(pts, set, c.name, shewhart ? (o.L == 3 ? "beyond 3 sigma" : "beyond limits") : "beyond limits");
    r.violations.insert(r.violations.end(), v.begin(), v.end());
  }
  PF_RETURN_IF_ERROR(CheckResult(r));
  return r;
}

namespace internal {

void SetConstantLimits(Chart* chart) {
  auto same = [](double a, double b) { return a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b)); };
  chart->center = chart->ucl = chart->lcl = std::nullopt;
  if (chart->points.empty()) return;
  const ChartPoint& f = chart->points.front();
  bool c = true, u = true, l = true;
  for (const ChartPoint& p : chart->points) {
    c = c && same(p.center, f.center);
    u = u && same(p.ucl, f.ucl);
    l = l && same(p.lcl, f.lcl);
  }
  if (c) chart->center = f.center;
  if (u) chart->ucl = f.ucl;
  if (l) chart->lcl = f.lcl;
}

std::string PhaseOneRange(const std::vector<bool>& use) {
  int first = -1, last = -1, count = 0;
  for (size_t i = 0; i < use.size(); ++i) {
    if (!use[i]) continue;
    if (first < 0) first = static_cast<int>(i) + 1;
    last = static_cast<int>(i) + 1;
    ++count;
  }
  if (count == 0) return "no points in use";
  if (first == last) return fmt::format("point {}", first);
  return fmt::format("points {}-{}, {} in use", first, last, count);
}

std::string PointName(std::string_view noun, int index, const std::string& label) {
  if (label.empty() || label == std::to_string(index)) return fmt::format("{} {}", noun, index);
  return fmt::format("{} {} ('{}')", noun, index, label);
}

Status CheckFinite(double v, std::string_view what) {
  if (std::isfinite(v)) return Status::Ok();
  return InvalidArgument("{} is not a finite number ({})", what, v);
}

}  // namespace internal
}  // namespace pf::spc
