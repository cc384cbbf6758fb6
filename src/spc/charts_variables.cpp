// X̄-R, X̄-S and I-MR charts (formulas in charts.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "spc/chart_build.h"
#include "spc/constants.h"

namespace pf::spc::internal {
namespace {

struct SubgroupStats {
  int n;
  double mean, range, sd;
};

SubgroupStats Summarize(const std::vector<double>& v) {
  SubgroupStats s{static_cast<int>(v.size()), 0, 0, 0};
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / s.n;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.range = *hi - *lo;
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.sd = s.n > 1 ? std::sqrt(ss / (s.n - 1)) : 0;
  return s;
}

ChartPoint Point(int i, const std::string& label, double value, double center, double sigma, double L,
                 std::optional<double> size, bool truncate_at_zero) {
  ChartPoint p;
  p.index = i + 1;
  p.label = label;
  p.value = value;
  p.center = center;
  p.sigma = sigma;
  p.ucl = center + L * sigma;
  p.lcl = center - L * sigma;
  if (truncate_at_zero) p.lcl = std::max(0.0, p.lcl);
  p.size = size;
  return p;
}

Status ZeroSpread(const std::vector<bool>& use, std::string_view what) {
  return InvalidArgument("Phase I ({}): {} is 0 (constant data): sigma would be 0 and the limits would collapse onto "
                         "the center line",
                         PhaseOneRange(use), what);
}

Result<Family> XbarFamily(const ChartData& data, const ChartOptions& o) {
  bool use_s = o.type == ChartType::kXbarS;
  const char* name = use_s ? "X̄-S" : "X̄-R";
  const auto& groups = data.subgroups;
  bool all_single = std::all_of(groups.begin(), groups.end(), [](const Subgroup& g) { return g.values.size() <= 1; });
  if (all_single)
    return InvalidArgument("every subgroup has 1 value: an {} chart needs subgroups of 2 or more (--subgroup-size N "
                           "or --subgroup-column C); for individual values use --chart imr",
                           name);
  std::vector<SubgroupStats> st;
  Family f;
  for (size_t i = 0; i < groups.size(); ++i) {
    const Subgroup& g = groups[i];
    if (g.values.size() < 2)
      return InvalidArgument("{} has {} value{}{}: an {} chart needs at least 2 per subgroup",
                             PointName("subgroup", static_cast<int>(i) + 1, g.label), g.values.size(),
                             g.values.size() == 1 ? "" : "s",
                             g.missing ? fmt::format(" after dropping {} missing", g.missing) : "", name);
    if (g.values.size() > static_cast<size_t>(kMaxSubgroupSize))
      return InvalidArgument("{} has {} values, more than {}", PointName("subgroup", static_cast<int>(i) + 1, g.label),
                             g.values.size(), kMaxSubgroupSize);
    st.push_back(Summarize(g.values));
    f.labels.push_back(g.label);
    f.series.push_back(st.back().mean);
  }
  f.points = static_cast<int>(groups.size());
  f.all_given = o.mean && o.sigma;
  bool constant_n = std::all_of(st.begin(), st.end(), [&](const SubgroupStats& s) { return s.n == st[0].n; });
  f.build = [st, o, use_s, constant_n, labels = f.labels](const std::vector<bool>& use,
                                                          const std::vector<bool>&) -> Result<Built> {
    double sum_nx = 0, sum_n = 0, sum_sigma = 0, sum_r = 0, sum_s = 0;
    int m = 0;
    for (size_t i = 0; i < st.size(); ++i) {
      if (!use[i]) continue;
      ++m;
      sum_nx += st[i].n * st[i].mean;
      sum_n += st[i].n;
      sum_r += st[i].range;
      sum_s += st[i].sd;
      sum_sigma += use_s ? st[i].sd / C4(st[i].n) : st[i].range / RangeMeanD2(st[i].n);
    }
    Built b;
    double mean = o.mean ? *o.mean : sum_nx / sum_n;
    double sigma = o.sigma ? *o.sigma : sum_sigma / m;
    if (!o.sigma && !(sigma > 0)) return ZeroSpread(use, use_s ? "every subgroup standard deviation" : "every range");
    if (o.sigma && !(sigma > 0)) return InvalidArgument("--sigma {} must be above 0", sigma);
    Chart xbar{"xbar", {}, {}, {}, {}};
    Chart disp{use_s ? "s" : "r", {}, {}, {}, {}};
    for (size_t i = 0; i < st.size(); ++i) {
      int n = st[i].n;
      double size = n;
      xbar.points.push_back(Point(i, labels[i], st[i].mean, mean, sigma / std::sqrt(size), o.L, size, false));
      if (use_s) {
        double c4 = C4(n);
        disp.points.push_back(Point(i, labels[i], st[i].sd, c4 * sigma, sigma * std::sqrt(1 - c4 * c4), o.L, size, true));
      } else {
        disp.points.push_back(
            Point(i, labels[i], st[i].range, RangeMeanD2(n) * sigma, RangeSdD3(n) * sigma, o.L, size, true));
      }
    }
    b.parameters["mean"] = mean;
    b.parameters["sigma"] = sigma;
    if (m > 0) {
      b.parameters[use_s ? "sbar" : "rbar"] = (use_s ? sum_s : sum_r) / m;
      b.parameters["m"] = m;
    }
    if (constant_n) b.parameters["n"] = st[0].n;
    PF_RETURN_IF_ERROR(CheckFinite(xbar.points[0].ucl, "the X̄ upper control limit"));
    b.charts = {std::move(xbar), std::move(disp)};
    return b;
  };
  return f;
}

Result<Family> ImrFamily(const ChartData& data, const ChartOptions& o) {
  std::vector<double> x;
  Family f;
  for (size_t i = 0; i < data.subgroups.size(); ++i) {
    const Subgroup& g = data.subgroups[i];
    if (g.values.size() != 1)
      return InvalidArgument("{} has {} values: an I-MR chart takes one value per point (for subgroups use --chart "
                             "xbar_r or xbar_s)",
                             PointName("point", static_cast<int>(i) + 1, g.label), g.values.size());
    x.push_back(g.values[0]);
    f.labels.push_back(g.label);
  }
  f.points = static_cast<int>(x.size());
  f.series = x;
  f.all_given = o.mean && o.sigma;
  f.build = [x, o, labels = f.labels](const std::vector<bool>& use, const std::vector<bool>&) -> Result<Built> {
    double sum = 0, sum_mr = 0;
    int m = 0, pairs = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!use[i]) continue;
      ++m;
      sum += x[i];
      if (i > 0 && use[i - 1]) {
        sum_mr += std::fabs(x[i] - x[i - 1]);
        ++pairs;
      }
    }
    if (!o.sigma && pairs == 0)
      return InvalidArgument("Phase I ({}) has no two neighbouring values in use: the moving range needs at least 2 "
                             "consecutive values",
                             PhaseOneRange(use));
    Built b;
    double mean = o.mean ? *o.mean : sum / m;
    double mr_bar = pairs ? sum_mr / pairs : 0;
    double sigma = o.sigma ? *o.sigma : mr_bar / RangeMeanD2(2);
    if (!o.sigma && !(sigma > 0)) return ZeroSpread(use, "every moving range");
    if (o.sigma && !(sigma > 0)) return InvalidArgument("--sigma {} must be above 0", sigma);
    Chart ind{"i", {}, {}, {}, {}};
    Chart mr{"mr", {}, {}, {}, {}};
    for (size_t i = 0; i < x.size(); ++i) {
      ind.points.push_back(Point(i, labels[i], x[i], mean, sigma, o.L, std::nullopt, false));
      if (i > 0)
        mr.points.push_back(Point(i, labels[i], std::fabs(x[i] - x[i - 1]), RangeMeanD2(2) * sigma,
                                  RangeSdD3(2) * sigma, o.L, std::nullopt, true));
    }
    b.parameters["mean"] = mean;
    b.parameters["sigma"] = sigma;
    b.parameters["n"] = 1;
    if (pairs) b.parameters["mrbar"] = mr_bar;
    if (m) b.parameters["m"] = m;
    b.charts = {std::move(ind), std::move(mr)};
    return b;
  };
  return f;
}

}  // namespace

Result<Family> VariablesFamily(const ChartData& data, const ChartOptions& o) {
  if (o.type == ChartType::kIMR) return ImrFamily(data, o);
  return XbarFamily(data, o);
}

}  // namespace pf::spc::internal
