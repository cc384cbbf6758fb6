#include "detect/distributions.h"

#include <cmath>
#include <limits>

namespace pf::detect {
namespace {

constexpr double kEps = 1e-16;
constexpr double kTiny = 1e-300;
constexpr int kMaxIter = 10000;

double LogGamma(double x) {
  int sign = 0;
  return lgamma_r(x, &sign);  // lgamma() writes the global signgam; the _r form is thread-safe
}

// Series for P(a, x), good for x < a + 1.
double GammaSeries(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < kMaxIter; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEps) break;
  }
  return sum * std::exp(-x + a * std::log(x) - LogGamma(a));
}

// Continued fraction for Q(a, x) = 1 - P(a, x), good for x >= a + 1 (modified Lentz).
double GammaContinuedFraction(double a, double x) {
  double b = x + 1.0 - a, c = 1.0 / kTiny, d = 1.0 / b, h = d;
  for (int i = 1; i < kMaxIter; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEps) break;
  }
  return std::exp(-x + a * std::log(x) - LogGamma(a)) * h;
}

// Continued fraction of the incomplete beta (A&S 26.5.8), modified Lentz.
double BetaContinuedFraction(double x, double a, double b) {
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m < kMaxIter; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEps) break;
  }
  return h;
}

bool BadProbability(double p) { return !(p > 0.0 && p < 1.0); }

// Smallest x in [0, inf) with cdf(x) >= p, by bracketing then bisection.
template <typename Cdf>
double InvertCdf(double p, Cdf cdf) {
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 2000 && cdf(hi) < p; ++i) lo = hi, hi *= 2.0;
  for (int i = 0; i < 400; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (cdf(mid) < p) lo = mid; else hi = mid;
    if (hi - lo <= 1e-14 * hi) break;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

double GammaP(double a, double x) {
  if (!(a > 0.0) || !(x >= 0.0)) return 0.0;
  if (x == 0.0) return 0.0;
  if (std::isinf(x)) return 1.0;
  return x < a + 1.0 ? GammaSeries(a, x) : 1.0 - GammaContinuedFraction(a, x);
}

double BetaI(double x, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) return 0.0;
  if (x == 0.0 || x == 1.0) return x;
  const double front =
      std::exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * std::log(x) + b * std::log1p(-x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1.0) / (a + b + 2.0)) return front * BetaContinuedFraction(x, a, b) / a;
  return 1.0 - front * BetaContinuedFraction(1.0 - x, b, a) / b;
}

double ChiSquareCdf(double x, double df) {
  if (!(df > 0.0) || std::isnan(x)) return 0.0;
  return x <= 0.0 ? 0.0 : GammaP(0.5 * df, 0.5 * x);
}

double ChiSquareQuantile(double p, double df) {
  if (BadProbability(p) || !(df > 0.0)) return 0.0;
  return InvertCdf(p, [df](double x) { return ChiSquareCdf(x, df); });
}

double FCdf(double f, double d1, double d2) {
  if (!(d1 > 0.0) || !(d2 > 0.0) || std::isnan(f)) return 0.0;
  if (f <= 0.0) return 0.0;
  if (std::isinf(f)) return 1.0;
  return BetaI(d1 * f / (d1 * f + d2), 0.5 * d1, 0.5 * d2);
}

double FQuantile(double p, double d1, double d2) {
  if (BadProbability(p) || !(d1 > 0.0) || !(d2 > 0.0)) return 0.0;
  return InvertCdf(p, [d1, d2](double f) { return FCdf(f, d1, d2); });
}

}  // namespace pf::detect
