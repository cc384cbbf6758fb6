// EWMA and tabular CUSUM charts over a finished series (formulas in charts.h and ewma_cusum.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "spc/chart_build.h"
#include "spc/constants.h"
#include "spc/ewma_cusum.h"

namespace pf::spc::internal {
namespace {

struct Series {
  std::vector<double> x;      // individual values or subgroup means
  std::vector<double> range;  // subgroup ranges (subgroups only)
  int n = 1;
};

Result<Series> Collect(const ChartData& data, std::string_view chart) {
  Series s;
  if (data.subgroups.empty()) return s;
  s.n = static_cast<int>(data.subgroups[0].values.size());
  for (size_t i = 0; i < data.subgroups.size(); ++i) {
    const Subgroup& g = data.subgroups[i];
    if (static_cast<int>(g.values.size()) != s.n)
      return InvalidArgument("{} has {} values, subgroup 1 has {}: an {} chart of subgroup means needs a constant "
                             "subgroup size",
                             PointName("subgroup", static_cast<int>(i) + 1, g.label), g.values.size(), s.n, chart);
    if (s.n > kMaxSubgroupSize) return InvalidArgument("subgroups of {} values: more than {}", s.n, kMaxSubgroupSize);
    s.x.push_back(std::accumulate(g.values.begin(), g.values.end(), 0.0) / s.n);
    auto [lo, hi] = std::minmax_element(g.values.begin(), g.values.end());
    s.range.push_back(*hi - *lo);
  }
  return s;
}

struct Estimate {
  double mean, sigma_one, sigma_plotted;  // sigma of one value, of one plotted point (σ/√n)
};

// μ0 = Phase I mean; σ = MR̄/d2(2) (individuals) or mean R_i / d2(n) (subgroups); either can be given.
Result<Estimate> EstimateParams(const Series& s, const std::vector<bool>& use, const ChartOptions& o) {
  double sum = 0, spread = 0;
  int m = 0, pairs = 0;
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!use[i]) continue;
    ++m;
    sum += s.x[i];
    if (s.n > 1) {
      spread += s.range[i];
      ++pairs;
    } else if (i > 0 && use[i - 1]) {
      spread += std::fabs(s.x[i] - s.x[i - 1]);
      ++pairs;
    }
  }
  Estimate e{};
  e.mean = o.mean ? *o.mean : sum / m;
  if (o.sigma) {
    if (!(*o.sigma > 0)) return InvalidArgument("--sigma {} must be above 0", *o.sigma);
    e.sigma_one = *o.sigma;
  } else {
    if (pairs == 0)
      return InvalidArgument("Phase I ({}) has no two neighbouring values in use: sigma = MR̄/1.128 needs at least 2 "
                             "consecutive values (or give --sigma)",
                             PhaseOneRange(use));
    e.sigma_one = spread / pairs / RangeMeanD2(s.n > 1 ? s.n : 2);
    if (!(e.sigma_one > 0))
      return InvalidArgument("Phase I ({}): every {} is 0 (constant data): sigma would be 0 (or give --sigma)",
                             PhaseOneRange(use), s.n > 1 ? "range" : "moving range");
  }
  e.sigma_plotted = e.sigma_one / std::sqrt(static_cast<double>(s.n));
  return e;
}

ChartPoint Base(size_t i, const std::string& label, int n) {
  ChartPoint p;
  p.index = static_cast<int>(i) + 1;
  p.label = label;
  if (n > 1) p.size = n;
  return p;
}

}  // namespace

Result<Family> EwmaCusumFamily(const ChartData& data, const ChartOptions& o) {
  bool ewma = o.type == ChartType::kEWMA;
  if (ewma && !(o.lambda > 0 && o.lambda <= 1)) return InvalidArgument("--lambda {} is outside (0, 1]", o.lambda);
  if (ewma && !(o.L > 0)) return InvalidArgument("--L {} must be above 0", o.L);
  if (!ewma && !(o.k >= 0)) return InvalidArgument("--k {} must be 0 or above", o.k);
  if (!ewma && !(o.h > 0)) return InvalidArgument("--h {} must be above 0", o.h);
  PF_ASSIGN_OR_RETURN(Series s, Collect(data, ewma ? "EWMA" : "CUSUM"));
  Family f;
  f.points = static_cast<int>(s.x.size());
  f.series = s.x;
  for (const Subgroup& g : data.subgroups) f.labels.push_back(g.label);
  f.all_given = o.mean && o.sigma;
  f.build = [s, o, ewma, labels = f.labels](const std::vector<bool>& use, const std::vector<bool>&) -> Result<Built> {
    PF_ASSIGN_OR_RETURN(Estimate e, EstimateParams(s, use, o));
    Built b;
    b.parameters["mean"] = e.mean;
    b.parameters["sigma"] = e.sigma_one;
    b.parameters["n"] = s.n;
    if (ewma) {
      EwmaMonitor mon({e.mean, e.sigma_plotted, o.lambda, o.L, o.asymptotic});
      Chart c{"ewma", {}, {}, {}, {}};
      for (size_t i = 0; i < s.x.size(); ++i) {
        EwmaMonitor::Step st = mon.Add(s.x[i]);
        ChartPoint p = Base(i, labels[i], s.n);
        p.value = st.z;
        p.center = st.center;
        p.ucl = st.ucl;
        p.lcl = st.lcl;
        p.sigma = st.sigma;
        c.points.push_back(std::move(p));
      }
      b.parameters["lambda"] = o.lambda;
      b.parameters["L"] = o.L;
      b.parameters["asymptotic"] = o.asymptotic ? 1 : 0;
      b.parameters["asymptotic_ucl"] = e.mean + o.L * mon.asymptotic_sigma();
      b.parameters["asymptotic_lcl"] = e.mean - o.L * mon.asymptotic_sigma();
      b.charts.push_back(std::move(c));
      return b;
    }
    CusumMonitor mon({e.mean, e.sigma_plotted, o.k, o.h, o.fir});
    Chart up{"cusum_upper", {}, {}, {}, {}}, down{"cusum_lower", {}, {}, {}, {}};
    for (size_t i = 0; i < s.x.size(); ++i) {
      CusumMonitor::Step st = mon.Add(s.x[i]);
      for (Chart* c : {&up, &down}) {
        ChartPoint p = Base(i, labels[i], s.n);
        p.value = c == &up ? st.upper : st.lower;
        p.center = 0;
        p.ucl = st.limit;
        p.lcl = 0;
        c->points.push_back(std::move(p));
      }
    }
    b.parameters["k"] = o.k;
    b.parameters["h"] = o.h;
    b.parameters["fir"] = o.fir ? 1 : 0;
    b.parameters["K"] = o.k * e.sigma_plotted;
    b.parameters["H"] = o.h * e.sigma_plotted;
    b.charts = {std::move(up), std::move(down)};
    return b;
  };
  return f;
}

}  // namespace pf::spc::internal
