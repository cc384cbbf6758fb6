# Control-chart constants computed from their definitions, not read from a table.
#   d2(n) = E[R] / sigma and d3(n) = sd(R) / sigma for the range R of n independent N(0, 1) values,
#   c4(n) = E[s] / sigma for the sample standard deviation s of n normal values.
# Definitions: Montgomery, Introduction to Statistical Quality Control, ch. 6 and appendix VI;
# the range distribution is the classic one (Tippett 1925; Harter 1960):
#   P(R <= r) = n * integral phi(x) (Phi(x + r) - Phi(x))^(n - 1) dx
#   E[R]      = integral (1 - Phi(x)^n - (1 - Phi(x))^n) dx            over the whole line
#   E[R^2]    = integral_0^inf 2 r P(R > r) dr
#   c4        = sqrt(2 / (n - 1)) * Gamma(n / 2) / Gamma((n - 1) / 2)   (computed with lgamma)
# Only r-base-core (stats::integrate, pnorm, dnorm).

.spc_tol <- 1e-11

spc_d2 <- function(n) {
  stopifnot(n >= 2)
  f <- function(x) 1 - pnorm(x)^n - pnorm(x, lower.tail = FALSE)^n
  integrate(f, -Inf, Inf, rel.tol = .spc_tol, subdivisions = 1000L)$value
}

# P(R <= r) for the range of n standard normals.
spc_range_cdf <- function(r, n) {
  if (r <= 0) return(0)
  g <- function(x) n * dnorm(x) * (pnorm(x + r) - pnorm(x))^(n - 1)
  min(1, integrate(g, -Inf, Inf, rel.tol = .spc_tol, subdivisions = 1000L)$value)
}

spc_d3 <- function(n) {
  stopifnot(n >= 2)
  surv <- function(rs) vapply(rs, function(r) 1 - spc_range_cdf(r, n), numeric(1))
  # The range of normals has a Gaussian tail: beyond 40 sigma the survival is far below double epsilon.
  m2 <- integrate(function(r) 2 * r * surv(r), 0, 40, rel.tol = 1e-10, subdivisions = 1000L)$value
  sqrt(m2 - spc_d2(n)^2)
}

spc_c4 <- function(n) {
  stopifnot(n >= 2)
  sqrt(2 / (n - 1)) * exp(lgamma(n / 2) - lgamma((n - 1) / 2))
}

# Derived constants (Montgomery, appendix VI): A2 = 3/(d2 sqrt n), A3 = 3/(c4 sqrt n),
# D3/D4 = 1 -/+ 3 d3/d2 (D3 truncated at 0), B3/B4 = 1 -/+ 3 sqrt(1 - c4^2)/c4 (B3 truncated at 0).
spc_constants <- function(n) {
  d2 <- spc_d2(n); d3 <- spc_d3(n); c4 <- spc_c4(n)
  list(n = n, d2 = d2, d3 = d3, c4 = c4,
       A2 = 3 / (d2 * sqrt(n)), A3 = 3 / (c4 * sqrt(n)),
       D3 = max(0, 1 - 3 * d3 / d2), D4 = 1 + 3 * d3 / d2,
       B3 = max(0, 1 - 3 * sqrt(1 - c4^2) / c4), B4 = 1 + 3 * sqrt(1 - c4^2) / c4)
}

# Self-check against closed forms and against the printed table (Montgomery appendix VI), which is
# rounded to the digits shown. Stops with a message naming the constant on any disagreement.
spc_check_constants <- function() {
  near <- function(got, want, tol, what) {
    if (!(abs(got - want) <= tol))
      stop(sprintf("constant %s = %.10f, expected %.10f (tolerance %g)", what, got, want, tol))
  }
  # Closed forms: for n = 2, R = sqrt(2)|Z|; for n = 3, E[R] = 3/sqrt(pi); c4(2) = sqrt(2/pi).
  near(spc_d2(2), 2 / sqrt(pi), 1e-9, "d2(2)")
  near(spc_d3(2), sqrt(2 - 4 / pi), 1e-8, "d3(2)")
  near(spc_d2(3), 3 / sqrt(pi), 1e-9, "d2(3)")
  near(spc_c4(2), sqrt(2 / pi), 1e-12, "c4(2)")
  # Table values (rounded as printed).
  tab <- list(
    list(n = 2, d2 = 1.128, d3 = 0.853, c4 = 0.7979, A2 = 1.880, D4 = 3.267, B4 = 3.267),
    list(n = 5, d2 = 2.326, d3 = 0.864, c4 = 0.9400, A2 = 0.577, D4 = 2.114, B4 = 2.089),
    list(n = 10, d2 = 3.078, d3 = 0.797, c4 = 0.9727, A2 = 0.308, D4 = 1.777, B4 = 1.716),
    list(n = 25, d2 = 3.931, d3 = 0.708, c4 = 0.9896, A2 = 0.153, D4 = 1.541, B4 = 1.435))
  for (t in tab) {
    k <- spc_constants(t$n)
    for (name in setdiff(names(t), "n")) {
      digits <- if (name == "c4") 4 else 3
      near(k[[name]], t[[name]], 0.5 * 10^-digits + 1e-12, sprintf("%s(%d)", name, t$n))
    }
  }
  invisible(TRUE)
}
