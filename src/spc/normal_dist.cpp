#include "spc/normal_dist.h"

#include <math.h>  // lgamma_r: std::lgamma writes the global signgam, a data race between threads

#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

namespace pf::spc {
namespace {

constexpr double kEps = 1e-16;
constexpr double kTiny = 1e-300;
constexpr int kMaxTerms = 200000;  // series / continued fractions need O(sqrt(a)) terms for large a

double LogGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

// Stirling remainder: log Gamma(x) = (x - 1/2) log x - x + log(2 pi)/2 + delta(x); for x >= 30
// the four terms are exact to about 1e-17 (DLMF 5.11.1).
double StirlingDelta(double x) {
  double inv = 1 / x, inv2 = inv * inv;
  return inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 / 1680)));
}

// log B(a, b). For a large b, log Gamma(b) - log Gamma(a + b) is formed from the Stirling
// expansion instead of subtracting two large numbers (which loses about log10(b) digits).
double LogBeta(double a, double b) {
  if (a > b) std::swap(a, b);
  if (b < 30) return LogGamma(a) + LogGamma(b) - LogGamma(a + b);
  double c = a + b;
  return LogGamma(a) + (b - 0.5) * std::log1p(-a / c) - a * std::log(c) + a + StirlingDelta(b) - StirlingDelta(c);
}

bool ValidProbability(double p) { return p > 0 && p < 1; }

// Series for P(a, x), good for x < a + 1 (DLMF 8.11.4 rearranged: gamma*(a, x) series).
double GammaPSeries(double a, double x) {
  double term = 1 / a, sum = term;
  for (int n = 1; n < kMaxTerms; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEps) break;
  }
  return sum * std::exp(a * std::log(x) - x - LogGamma(a));
}

// Continued fraction for Q(a, x), good for x >= a + 1 (DLMF 8.9.2), evaluated by modified Lentz.
double GammaQFraction(double a, double x) {
  double b = x + 1 - a;
  double c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < kMaxTerms; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return std::exp(a * std::log(x) - x - LogGamma(a)) * h;
}

// Continued fraction of I_x(a, b) without its prefactor (DLMF 8.17.22), by modified Lentz;
// converges fast for x < (a + 1) / (a + b + 2).
double BetaFraction(double x, double a, double b) {
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m < kMaxTerms; ++m) {
    double m2 = 2.0 * m;
    double even = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + even * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + even / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    double odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + odd * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + odd / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return h;
}

// Lower and upper tail of Beta(a, b) at x, each computed where it is the direct (small) one.
struct Tails {
  double lower, upper;
};
Tails BetaTails(double x, double a, double b) {
  if (x <= 0) return {0, 1};
  if (x >= 1) return {1, 0};
  double log_front = a * std::log(x) + b * std::log1p(-x) - LogBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    double lower = std::exp(log_front) * BetaFraction(x, a, b) / a;
    return {lower, 1 - lower};
  }
  double upper = std::exp(log_front) * BetaFraction(1 - x, b, a) / b;
  return {1 - upper, upper};
}

// Value and derivative of an increasing function whose root is the quantile.
struct Slope {
  double g, dg;
};

// Solves g(x) = 0 for an increasing g on (lo, hi) by Newton steps, falling back to bisection
// (or doubling while hi is unbounded) whenever a step leaves the bracket or g is not finite.
// Callers pass g = log(tail(x)) - log(target tail): nearly linear in the power-law tails, so
// Newton converges quadratically there too. Stops at full precision, or once steps below 1e-12
// relative stop shrinking: they then only chase the rounding noise of g.
template <typename Fn>
double SolveIncreasing(Fn fn, double x, double lo, double hi) {
  constexpr double kUlp = std::numeric_limits<double>::epsilon();
  double previous_step = INFINITY;
  for (int i = 0; i < 2000; ++i) {  // enough for bisection down to the smallest doubles
    Slope s = fn(x);
    if (s.g == 0) return x;
    if (s.g > 0) hi = x; else lo = x;
    double next = (s.dg > 0 && std::isfinite(s.dg) && std::isfinite(s.g)) ? x - s.g / s.dg : NAN;
    if (!(next > lo && next < hi)) next = std::isfinite(hi) ? lo + (hi - lo) / 2 : 2 * x + 1;
    double step = std::fabs(next - x);
    if (step <= 4 * kUlp * std::fabs(x)) return next;
    if (step <= 1e-12 * std::fabs(x) && step >= 0.5 * previous_step) return next;
    if (std::isfinite(hi) && hi - lo <= 4 * kUlp * std::fabs(hi)) return next;
    previous_step = step;
    x = next;
  }
  return x;
}

// The x with P(a, x) = p (gamma with shape a, scale 1).
double GammaQuantile(double p, double a) {
  // Start: Wilson-Hilferty (on the chi-square scale, halved) or the small-x expansion
  // P(a, x) ~ x^a / Gamma(a + 1), whichever lands closer in log P.
  double nu = 2 * a;
  double z = NormalQuantile(p);
  double w = 1 - 2 / (9 * nu) + z * std::sqrt(2 / (9 * nu));
  double x = w > 0 ? nu * w * w * w / 2 : 0;
  double small = std::exp((std::log(p) + LogGamma(a + 1)) / a);
  auto miss = [&](double t) { return std::fabs(std::log(GammaP(a, t) / p)); };  // inf when P underflows
  if (!(x > 0) || (small > 0 && std::isfinite(small) && miss(small) < miss(x))) x = small;
  if (!(x > 0) || !std::isfinite(x)) x = a;
  double lgam = LogGamma(a);
  auto density = [&](double t) { return t > 0 ? std::exp((a - 1) * std::log(t) - t - lgam) : 0.0; };
  if (p <= 0.5) {
    double log_p = std::log(p);
    return SolveIncreasing([&](double t) {
      double lower = GammaP(a, t);
      return Slope{std::log(lower) - log_p, density(t) / lower};
    }, x, 0, INFINITY);
  }
  double log_q = std::log1p(-p);
  return SolveIncreasing([&](double t) {
    double upper = GammaQ(a, t);
    return Slope{log_q - std::log(upper), density(t) / upper};
  }, x, 0, INFINITY);
}

// The x with I_x(a, b) = p (upper = false) or 1 - I_x(a, b) = p (upper = true). Solving for
// the smaller tail directly keeps p's relative precision and x's, also when x is near 0 or 1.
double BetaSolve(double p, bool upper, double a, double b) {
  double lbeta = LogBeta(a, b);
  // Start from the leading term of the tail: I_x ~ x^a / (a B(a, b)), 1 - I_x ~ (1 - x)^b / (b B(a, b)).
  double x = upper ? -std::expm1((std::log(p) + std::log(b) + lbeta) / b)
                   : std::exp((std::log(p) + std::log(a) + lbeta) / a);
  if (!(x > 0 && x < 1)) x = a / (a + b);
  double log_p = std::log(p);
  return SolveIncreasing([&](double t) {
    Tails tails = BetaTails(t, a, b);
    double density = (t > 0 && t < 1) ? std::exp((a - 1) * std::log(t) + (b - 1) * std::log1p(-t) - lbeta) : 0.0;
    if (upper) return Slope{log_p - std::log(tails.upper), density / tails.upper};
    return Slope{std::log(tails.lower) - log_p, density / tails.lower};
  }, x, 0, 1);
}

}  // namespace

double NormalCdf(double x) {
  if (std::isnan(x)) return 0;
  return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}

double LogNormalCdf(double x) {
  if (std::isnan(x)) return 0;
  if (x > 0) return std::log1p(-0.5 * std::erfc(x / std::numbers::sqrt2));
  if (x > -35) return std::log(0.5 * std::erfc(-x / std::numbers::sqrt2));
  // Far lower tail, where erfc underflows: the asymptotic series (DLMF 7.12.1) of the Mills ratio,
  // log Phi(x) = -x^2/2 - log(-x) - log(2 pi)/2 + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + ...).
  double inv2 = 1 / (x * x), term = 1, series = 1;
  for (int k = 1; k <= 8; ++k) {
    term *= -(2 * k - 1) * inv2;
    series += term;
  }
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * std::numbers::pi) + std::log(series);
}

double NormalQuantile(double p) {
  if (!ValidProbability(p)) return 0;
  if (p == 0.5) return 0;
  double q = p < 0.5 ? p : 1 - p;  // exact for p >= 0.5
  // Start: Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4), then Halley steps on Phi(z) = q.
  double t = std::sqrt(-2 * std::log(q));
  double z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                   (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
  for (int i = 0; i < 6; ++i) {
    double e = NormalCdf(z) - q;
    double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(0.5 * z * z);
    double step = u / (1 + 0.5 * z * u);
    z -= step;
    if (std::fabs(step) <= 1e-16 * std::fabs(z)) break;
  }
  return p < 0.5 ? z : -z;
}

double GammaP(double a, double x) {
  if (!(a > 0) || !(x > 0)) return 0;
  if (std::isinf(x)) return 1;
  return x < a + 1 ? GammaPSeries(a, x) : 1 - GammaQFraction(a, x);
}

double GammaQ(double a, double x) {
  if (!(a > 0) || std::isnan(x)) return 0;
  if (x <= 0) return 1;
  if (std::isinf(x)) return 0;
  return x < a + 1 ? 1 - GammaPSeries(a, x) : GammaQFraction(a, x);
}

double ChiSquareCdf(double x, double df) { return GammaP(df / 2, x / 2); }

double ChiSquareQuantile(double p, double df) {
  if (!ValidProbability(p) || !(df > 0)) return 0;
  return 2 * GammaQuantile(p, df / 2);
}

double BetaCdf(double x, double a, double b) {
  if (!(a > 0) || !(b > 0) || std::isnan(x)) return 0;
  return BetaTails(x, a, b).lower;
}

double BetaQuantile(double p, double a, double b) {
  if (!ValidProbability(p) || !(a > 0) || !(b > 0)) return 0;
  return p <= 0.5 ? BetaSolve(p, false, a, b) : BetaSolve(1 - p, true, a, b);
}

double FQuantile(double p, double d1, double d2) {
  if (!ValidProbability(p) || !(d1 > 0) || !(d2 > 0)) return 0;
  // F = (d2 / d1) x / (1 - x) with x ~ Beta(d1/2, d2/2). 1 - x ~ Beta(d2/2, d1/2) is solved on
  // its own (its upper tail is p) rather than subtracted, so F keeps full precision everywhere.
  bool small = p <= 0.5;
  double tail = small ? p : 1 - p;
  double x = BetaSolve(tail, !small, d1 / 2, d2 / 2);
  double y = BetaSolve(tail, small, d2 / 2, d1 / 2);
  return (d2 / d1) * x / y;
}

}  // namespace pf::spc
