// Hotelling T² for individual observations or subgroups (formulas and limits in charts.h).
#include <algorithm>
#include <cmath>

#include "spc/chart_build.h"

namespace pf::spc {
namespace {

// Continued fraction of the regularized incomplete beta (modified Lentz), valid for
// x < (a+1)/(a+b+2); the caller uses I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
double BetaFraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300, kEps = 1e-16;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double f = d;
  for (int m = 1; m <= 1000; ++m) {
    for (int half = 0; half < 2; ++half) {
      double num = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                             : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      if (std::fabs(d) < kTiny) d = kTiny;
      c = 1 + num / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      d = 1 / d;
      f *= c * d;
      if (half == 1 && std::fabs(c * d - 1) < kEps) return f;
    }
  }
  return f;
}

double RegularizedBeta(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * BetaFraction(x, a, b) / a;
  return 1 - std::exp(log_front) * BetaFraction(1 - x, b, a) / b;
}

// Solves S y = v for symmetric positive definite S by Cholesky; false when S is not.
bool CholeskySolve(std::vector<std::vector<double>> s, std::vector<double> v, std::vector<double>* y) {
  size_t p = s.size();
  for (size_t j = 0; j < p; ++j) {
    double diag = s[j][j];
    for (size_t k = 0; k < j; ++k) diag -= s[j][k] * s[j][k];
    // Relative test: a covariance with a (nearly) constant or collinear column is singular.
    if (!(diag > 1e-12 * std::max(std::fabs(s[j][j]), 1e-300))) return false;
    s[j][j] = std::sqrt(diag);
    for (size_t i = j + 1; i < p; ++i) {
      double t = s[i][j];
      for (size_t k = 0; k < j; ++k) t -= s[i][k] * s[j][k];
      s[i][j] = t / s[j][j];
    }
  }
  for (size_t i = 0; i < p; ++i) {  // L z = v
    for (size_t k = 0; k < i; ++k) v[i] -= s[i][k] * v[k];
    v[i] /= s[i][i];
  }
  for (size_t i = p; i-- > 0;) {  // L' y = z
    for (size_t k = i + 1; k < p; ++k) v[i] -= s[k][i] * v[k];
    v[i] /= s[i][i];
  }
  *y = std::move(v);
  return true;
}

}  // namespace

double BetaQuantileT2(double q, double a, double b) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 200 && hi - lo > 1e-16; ++i) {
    double mid = (lo + hi) / 2;
    (RegularizedBeta(mid, a, b) < q ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double FQuantileT2(double q, double d1, double d2) {
  double x = BetaQuantileT2(q, d1 / 2, d2 / 2);
  return d2 / d1 * x / (1 - x);
}

double T2IndividualsPhase1Quantile(int m, int p, double q) {
  return (m - 1.0) * (m - 1.0) / m * BetaQuantileT2(q, p / 2.0, (m - p - 1) / 2.0);
}
double T2IndividualsPhase2Quantile(int m, int p, double q) {
  return p * (m + 1.0) * (m - 1.0) / (static_cast<double>(m) * m - static_cast<double>(m) * p) * FQuantileT2(q, p, m - p);
}
double T2SubgroupsPhase1Quantile(int m, int n, int p, double q) {
  double df2 = static_cast<double>(m) * n - m - p + 1;
  return p * (m - 1.0) * (n - 1.0) / df2 * FQuantileT2(q, p, df2);
}
double T2SubgroupsPhase2Quantile(int m, int n, int p, double q) {
  double df2 = static_cast<double>(m) * n - m - p + 1;
  return p * (m + 1.0) * (n - 1.0) / df2 * FQuantileT2(q, p, df2);
}

namespace internal {

Result<Family> T2Family(const ChartData& data, const ChartOptions& o) {
  if (o.mean || o.sigma) return InvalidArgument("--mean/--sigma do not apply to a T² chart (its parameters are a mean vector and a covariance matrix)");
  if (!(o.alpha > 0 && o.alpha < 1)) return InvalidArgument("alpha {} is outside (0, 1)", o.alpha);
  const auto& groups = data.vectors;
  if (groups.empty() || groups[0].rows.empty()) return InvalidArgument("no observations for the T² chart");
  size_t p = groups[0].rows[0].size();
  size_t n = groups[0].rows.size();
  if (p < 1) return InvalidArgument("a T² chart needs at least one variable");
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].rows.size() != n)
      return InvalidArgument("{} has {} observations, subgroup 1 has {}: a T² chart needs a constant subgroup size",
                             PointName("subgroup", static_cast<int>(i) + 1, groups[i].label), groups[i].rows.size(), n);
    for (const auto& r : groups[i].rows)
      if (r.size() != p)
        return InvalidArgument("{}: an observation has {} variables, expected {}",
                               PointName("point", static_cast<int>(i) + 1, groups[i].label), r.size(), p);
  }
  Family f;
  f.points = static_cast<int>(groups.size());
  for (const auto& g : groups) f.labels.push_back(g.label);
  // Subgroup means and (n > 1) within-subgroup covariances.
  std::vector<std::vector<double>> means(groups.size(), std::vector<double>(p, 0));
  std::vector<std::vector<std::vector<double>>> covs;
  for (size_t i = 0; i < groups.size(); ++i) {
    for (const auto& r : groups[i].rows)
      for (size_t j = 0; j < p; ++j) means[i][j] += r[j] / n;
    if (n > 1) {
      std::vector<std::vector<double>> c(p, std::vector<double>(p, 0));
      for (const auto& r : groups[i].rows)
        for (size_t a = 0; a < p; ++a)
          for (size_t b = 0; b < p; ++b) c[a][b] += (r[a] - means[i][a]) * (r[b] - means[i][b]) / (n - 1.0);
      covs.push_back(std::move(c));
    }
  }
  f.build = [means, covs, n, p, o, labels = f.labels, names = data.variables](
                const std::vector<bool>& use, const std::vector<bool>& phase1) -> Result<Built> {
    int m = static_cast<int>(std::count(use.begin(), use.end(), true));
    int need = n == 1 ? static_cast<int>(p) + 2 : 2;
    if (m < need || (n > 1 && static_cast<double>(m) * n - m - p + 1 <= 0))
      return InvalidArgument("Phase I ({}) has {} {} in use; T² with {} variable{} needs at least {}", PhaseOneRange(use),
                             m, n == 1 ? "observations" : "subgroups", p, p == 1 ? "" : "s", need);
    std::vector<double> center(p, 0);
    std::vector<std::vector<double>> s(p, std::vector<double>(p, 0));
    for (size_t i = 0; i < means.size(); ++i)
      if (use[i])
        for (size_t j = 0; j < p; ++j) center[j] += means[i][j] / m;
    for (size_t i = 0; i < means.size(); ++i) {
      if (!use[i]) continue;
      for (size_t a = 0; a < p; ++a)
        for (size_t b = 0; b < p; ++b)
          s[a][b] += n == 1 ? (means[i][a] - center[a]) * (means[i][b] - center[b]) / (m - 1.0) : covs[i][a][b] / m;
    }
    Built b;
    double q_hi = 1 - o.alpha;
    double ucl1 = n == 1 ? T2IndividualsPhase1Quantile(m, p, q_hi) : T2SubgroupsPhase1Quantile(m, n, p, q_hi);
    double ucl2 = n == 1 ? T2IndividualsPhase2Quantile(m, p, q_hi) : T2SubgroupsPhase2Quantile(m, n, p, q_hi);
    double mid1 = n == 1 ? T2IndividualsPhase1Quantile(m, p, 0.5) : T2SubgroupsPhase1Quantile(m, n, p, 0.5);
    double mid2 = n == 1 ? T2IndividualsPhase2Quantile(m, p, 0.5) : T2SubgroupsPhase2Quantile(m, n, p, 0.5);
    Chart c{"t2", {}, {}, {}, {}};
    for (size_t i = 0; i < means.size(); ++i) {
      std::vector<double> d(p), y;
      for (size_t j = 0; j < p; ++j) d[j] = means[i][j] - center[j];
      if (!CholeskySolve(s, d, &y)) {
        std::string cols;
        for (const auto& v : names) cols += (cols.empty() ? "" : ", ") + v;
        return InvalidArgument("Phase I ({}): the {} covariance matrix of {} is singular (a constant column, or "
                               "columns that are linear combinations of each other)",
                               PhaseOneRange(use), n == 1 ? "sample" : "pooled within-subgroup",
                               cols.empty() ? "the variables" : cols);
      }
      double t2 = 0;
      for (size_t j = 0; j < p; ++j) t2 += d[j] * y[j];
      ChartPoint pt;
      pt.index = static_cast<int>(i) + 1;
      pt.label = labels[i];
      pt.value = t2 * n;
      pt.center = phase1[i] ? mid1 : mid2;
      pt.ucl = phase1[i] ? ucl1 : ucl2;
      pt.lcl = 0;
      if (n > 1) pt.size = static_cast<double>(n);
      c.points.push_back(std::move(pt));
    }
    b.parameters["p"] = static_cast<double>(p);
    b.parameters["n"] = static_cast<double>(n);
    b.parameters["m"] = m;
    b.parameters["alpha"] = o.alpha;
    b.parameters["phase1_ucl"] = ucl1;
    b.parameters["phase2_ucl"] = ucl2;
    for (size_t j = 0; j < p; ++j)
      b.parameters[fmt::format("mean_{}", j < names.size() ? names[j] : std::to_string(j + 1))] = center[j];
    b.charts.push_back(std::move(c));
    return b;
  };
  return f;
}

}  // namespace internal
}  // namespace pf::spc
