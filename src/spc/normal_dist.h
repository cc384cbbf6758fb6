#pragma once
// Distribution functions the SPC code needs for limits, confidence intervals and p-values:
// the standard normal (cdf, log-cdf, quantile), the regularized incomplete gamma and beta
// functions, and the chi-square, beta and F quantiles built on them.
//
// Accuracy: relative error about 1e-13 for the normal, about 1e-12 for chi-square, beta and F
// quantiles with degrees of freedom / shapes up to 1e5, degrading to about 1e-10 near 1e6
// (checked against R's pnorm/qnorm/pchisq/qchisq/qbeta/qf in capability_test.cpp; in the far
// lower tail of F these are more accurate than R's qf). Quantiles are found by Newton steps on
// the log of the smaller tail, kept inside a bisection bracket, so they always converge.
// Cost: a few microseconds per quantile.
//
// Contract: arguments outside the documented domain (p outside (0, 1), df <= 0, NaN) are a
// caller bug; the functions then return 0 rather than NaN, so callers must validate first.
// All functions are pure and thread-safe.

namespace pf::spc {

// Standard normal cumulative distribution Phi(x) = P(Z <= x). Phi(-inf) = 0, Phi(inf) = 1.
double NormalCdf(double x);
// log(Phi(x)), accurate far into the lower tail (x = -1e3 gives about -5e5, not -inf).
double LogNormalCdf(double x);
// Standard normal quantile: the z with Phi(z) = p, p in (0, 1). NormalQuantile(0.975) = 1.959964.
double NormalQuantile(double p);

// Regularized lower incomplete gamma P(a, x) = gamma(a, x) / Gamma(a), a > 0, x >= 0, and its
// complement Q(a, x) = 1 - P(a, x) computed without cancellation.
double GammaP(double a, double x);
double GammaQ(double a, double x);
// Chi-square with df > 0 degrees of freedom: P(X <= x), and the x with P(X <= x) = p, p in (0, 1).
// ChiSquareQuantile(0.025, 19) = 8.906516.
double ChiSquareCdf(double x, double df);
double ChiSquareQuantile(double p, double df);

// Regularized incomplete beta I_x(a, b), a > 0, b > 0, x in [0, 1]: the Beta(a, b) cdf.
double BetaCdf(double x, double a, double b);
// The x with I_x(a, b) = p, p in (0, 1).
double BetaQuantile(double p, double a, double b);
// F distribution with (d1, d2) degrees of freedom: the f with P(F <= f) = p, p in (0, 1).
// FQuantile(0.95, 5, 10) = 3.325835. (Hotelling T^2 Phase II limits use this.)
double FQuantile(double p, double d1, double d2);

}  // namespace pf::spc
