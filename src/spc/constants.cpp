#include "spc/constants.h"

#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <vector>

namespace pf::spc {
namespace {

// Composite 8-point Gauss-Legendre: the integrands below are smooth (analytic), so panels of
// width 1/4 give ~1e-12 without adaptivity.
constexpr std::array<double, 4> kGlNode = {0.1834346424956498, 0.5255324099163290, 0.7966664774136267,
                                           0.9602898564975363};
constexpr std::array<double, 4> kGlWeight = {0.3626837833783620, 0.3137066458778873, 0.2223810344533745,
                                             0.1012285362903763};
constexpr double kPanel = 0.25;
// Beyond ±10 a standard normal has tail mass 7.6e-24: even n = 1e5 values leave nothing there.
constexpr double kTail = 10.0;

std::vector<double> Nodes(double a, double b, std::vector<double>* weights) {
  int panels = static_cast<int>(std::ceil((b - a) / kPanel));
  double h = (b - a) / panels;
  std::vector<double> x;
  x.reserve(panels * 8);
  weights->clear();
  for (int p = 0; p < panels; ++p) {
    double mid = a + (p + 0.5) * h;
    for (int i = 0; i < 4; ++i) {
      for (double s : {-1.0, 1.0}) {
        x.push_back(mid + s * kGlNode[i] * h / 2);
        weights->push_back(kGlWeight[i] * h / 2);
      }
    }
  }
  return x;
}

double UpperTail(double x) { return 0.5 * std::erfc(x / std::numbers::sqrt2); }  // 1 - Φ(x), exact in the tail
double Pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }

// Φ(b) - Φ(a) for a <= b without cancellation on either tail.
double Mass(double a, double b) {
  if (a >= 0) return UpperTail(a) - UpperTail(b);
  if (b <= 0) return UpperTail(-b) - UpperTail(-a);
  return 1.0 - UpperTail(b) - UpperTail(-a);
}

// P(R > r) = 1 - Φ^n - (1-Φ)^n integrated over x: d2 = ∫ [1 - Φ(x)^n - (1 - Φ(x))^n] dx.
double ComputeD2(int n) {
  std::vector<double> w;
  std::vector<double> x = Nodes(-kTail, kTail, &w);
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double upper = UpperTail(x[i]);  // 1 - Φ(x)
    // 1 - Φ^n through expm1/log1p keeps precision where Φ is close to 1.
    double one_minus_phi_n = -std::expm1(n * std::log1p(-upper));
    sum += w[i] * (one_minus_phi_n - std::pow(upper, n));
  }
  return sum;
}

// E[R²] = 2 ∫_0^∞ r P(R > r) dr with the range distribution
// P(R <= r) = n ∫ φ(x) [Φ(x + r) - Φ(x)]^(n-1) dx  (x: the smallest of the n values).
double ComputeRangeSecondMoment(int n) {
  std::vector<double> wx, wr;
  std::vector<double> x = Nodes(-kTail, kTail, &wx);
  std::vector<double> r = Nodes(0, 2 * kTail, &wr);
  std::vector<double> density(x.size());
  for (size_t i = 0; i < x.size(); ++i) density[i] = n * Pdf(x[i]) * wx[i];
  double outer = 0;
  for (size_t j = 0; j < r.size(); ++j) {
    double cdf = 0;
    for (size_t i = 0; i < x.size(); ++i) cdf += density[i] * std::pow(Mass(x[i], x[i] + r[j]), n - 1);
    outer += wr[j] * r[j] * (1.0 - cdf);
  }
  return 2 * outer;
}

struct RangeMoments {
  double d2, d3;
};

const RangeMoments& Moments(int n) {
  static std::mutex mu;
  static std::map<int, RangeMoments> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  double d2 = ComputeD2(n);
  double var = ComputeRangeSecondMoment(n) - d2 * d2;
  return cache.emplace(n, RangeMoments{d2, std::sqrt(std::max(var, 0.0))}).first->second;
}

bool InRange(int n) { return n >= 2 && n <= kMaxSubgroupSize; }

}  // namespace

double RangeMeanD2(int n) { return InRange(n) ? Moments(n).d2 : 0; }
double RangeSdD3(int n) { return InRange(n) ? Moments(n).d3 : 0; }

double C4(int n) {
  if (!InRange(n)) return 0;
  return std::sqrt(2.0 / (n - 1)) * std::exp(std::lgamma(n / 2.0) - std::lgamma((n - 1) / 2.0));
}

Result<SubgroupConstants> ConstantsFor(int n) {
  if (!InRange(n))
    return InvalidArgument("subgroup size {} is outside 2..{} (control chart constants need at least 2 values)", n,
                           kMaxSubgroupSize);
  SubgroupConstants k;
  k.n = n;
  k.d2 = RangeMeanD2(n);
  k.d3 = RangeSdD3(n);
  k.c4 = C4(n);
  double root_n = std::sqrt(static_cast<double>(n));
  k.A2 = 3 / (k.d2 * root_n);
  k.A3 = 3 / (k.c4 * root_n);
  k.E2 = 3 / k.d2;
  double s_spread = 3 * std::sqrt(1 - k.c4 * k.c4) / k.c4;
  k.B3 = std::max(0.0, 1 - s_spread);
  k.B4 = 1 + s_spread;
  k.D3 = std::max(0.0, 1 - 3 * k.d3 / k.d2);
  k.D4 = 1 + 3 * k.d3 / k.d2;
  return k;
}

}  // namespace pf::spc
