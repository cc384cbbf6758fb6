#pragma once
// The distribution functions detect/ needs to set thresholds from a false-alarm rate:
// chi-square (consistency factors of the robust covariance) and F (the Gaussian threshold law
// of a Mahalanobis distance with estimated mean and covariance).
//
// detect/ may use only core and Eigen (ARCHITECTURE.md), so it carries its own small set rather
// than reaching into spc/. Methods: the regularized incomplete gamma by its power series below
// a + 1 and its continued fraction above (Lentz's method); the regularized incomplete beta by its
// continued fraction (Abramowitz & Stegun 26.5.8); quantiles by bisection to a relative width of
// 1e-14, which is slow (about 200 cdf calls) but cannot fail to converge. They are used at fit
// time only. Accuracy about 1e-12 relative for degrees of freedom up to 1e5 (checked against R's
// pchisq/qchisq/pf/qf in distributions_test.cpp).
//
// Contract: arguments outside the domain (p outside (0, 1), df <= 0, NaN) are a caller bug; the
// functions then return 0 rather than NaN. Pure and thread-safe.

namespace pf::detect {

// Regularized lower incomplete gamma P(a, x), a > 0, x >= 0.
double GammaP(double a, double x);
// Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1].
double BetaI(double x, double a, double b);

// Chi-square with df degrees of freedom: P(X <= x) and its inverse.
double ChiSquareCdf(double x, double df);
double ChiSquareQuantile(double p, double df);

// F with (d1, d2) degrees of freedom: P(F <= f) and its inverse.
double FCdf(double f, double d1, double d2);
double FQuantile(double p, double d1, double d2);

}  // namespace pf::detect
