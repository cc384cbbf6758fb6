# Textbook control-chart formulas, written plainly so they can serve as an oracle for plantfloor.
# Each function returns list(parameters, charts, exclusions) where a chart is
#   list(name, center, ucl, lcl, points = data.frame(index, label, value, center, ucl, lcl, size, phase, excluded))
# center/ucl/lcl of the chart are NA when they vary per point (then the JSON says null).
# Formulas: Montgomery, Introduction to Statistical Quality Control (chapters 6, 7, 9, 11), see README.md.
# Needs spc_constants.R.

# ---- helpers ------------------------------------------------------------------------------------

# Phase of each of m points: 1 inside [first, last] (1-based, inclusive), else 2.
phase_of <- function(m, phase1) ifelse(seq_len(m) >= phase1[1] & seq_len(m) <= phase1[2], 1L, 2L)

make_points <- function(value, center, ucl, lcl, phase, size = NA_real_, excluded = FALSE,
                        label = NULL, index = seq_along(value)) {
  m <- length(value)
  rep_m <- function(v) if (length(v) == 1) rep(v, m) else v
  if (is.null(label)) label <- as.character(index)
  data.frame(index = index, label = label, value = value, center = rep_m(center),
             ucl = rep_m(ucl), lcl = rep_m(lcl), size = rep_m(size), phase = rep_m(phase),
             excluded = rep_m(excluded), stringsAsFactors = FALSE)
}

# A chart's constant line, or NA when it varies per point.
constant_or_na <- function(v) if (length(unique(signif(v, 14))) == 1) v[1] else NA_real_

make_chart <- function(name, points) {
  list(name = name, center = constant_or_na(points$center), ucl = constant_or_na(points$ucl),
       lcl = constant_or_na(points$lcl), points = points)
}

# Rule 1 (Western Electric 1 = Nelson 1): a point strictly beyond a control limit.
rule1_points <- function(chart) {
  p <- chart$points
  p$index[p$value > p$ucl | p$value < p$lcl]
}

# Splits x by the subgroup id g, keeping the order in which subgroups first appear.
split_subgroups <- function(x, g) {
  ids <- unique(g)
  list(ids = ids, groups = lapply(ids, function(id) x[g == id]))
}

# ---- variables charts ---------------------------------------------------------------------------

# X-bar and R (Montgomery 6.2.1): sigma = Rbar/d2(n), limits xbarbar +- A2 Rbar; R chart D3 Rbar, D4 Rbar.
chart_xbar_r <- function(x, g, phase1) {
  sg <- split_subgroups(x, g)
  n <- unique(lengths(sg$groups))
  if (length(n) != 1) stop("xbar_r reference: subgroups of unequal size")
  means <- vapply(sg$groups, mean, 0)
  ranges <- vapply(sg$groups, function(v) max(v) - min(v), 0)
  ph <- phase_of(length(means), phase1)
  k <- spc_constants(n)
  xbarbar <- mean(means[ph == 1]); rbar <- mean(ranges[ph == 1])
  sigma <- rbar / k$d2
  lab <- as.character(sg$ids)
  xbar <- make_chart("xbar", make_points(means, xbarbar, xbarbar + k$A2 * rbar, xbarbar - k$A2 * rbar,
                                         ph, n, label = lab))
  r <- make_chart("r", make_points(ranges, rbar, k$D4 * rbar, k$D3 * rbar, ph, n, label = lab))
  list(parameters = list(n = n, sigma = sigma, mean = xbarbar, rbar = rbar, d2 = k$d2, d3 = k$d3,
                         A2 = k$A2, D3 = k$D3, D4 = k$D4),
       charts = list(xbar, r), exclusions = list())
}

# X-bar and S with equal subgroup sizes (Montgomery 6.3.1): sigma = sbar/c4, limits xbarbar +- A3 sbar;
# S chart B3 sbar, B4 sbar.
chart_xbar_s <- function(x, g, phase1) {
  sg <- split_subgroups(x, g)
  n <- unique(lengths(sg$groups))
  if (length(n) != 1) stop("xbar_s reference: only equal subgroup sizes are implemented here")
  means <- vapply(sg$groups, mean, 0)
  sds <- vapply(sg$groups, sd, 0)
  ph <- phase_of(length(means), phase1)
  k <- spc_constants(n)
  xbarbar <- mean(means[ph == 1]); sbar <- mean(sds[ph == 1])
  lab <- as.character(sg$ids)
  xbar <- make_chart("xbar", make_points(means, xbarbar, xbarbar + k$A3 * sbar, xbarbar - k$A3 * sbar,
                                         ph, n, label = lab))
  s <- make_chart("s", make_points(sds, sbar, k$B4 * sbar, k$B3 * sbar, ph, n, label = lab))
  list(parameters = list(n = n, sigma = sbar / k$c4, mean = xbarbar, sbar = sbar, c4 = k$c4,
                         A3 = k$A3, B3 = k$B3, B4 = k$B4),
       charts = list(xbar, s), exclusions = list())
}

# Moving ranges |x_i - x_{i-1}| of the points i = 2..m; mean over those with both ends in `rows`.
mean_moving_range <- function(x, rows) {
  mr <- abs(diff(x))
  both <- (2:length(x)) %in% rows & (1:(length(x) - 1)) %in% rows
  mean(mr[both])
}

# Individuals and moving range (Montgomery 6.4): sigma = MRbar/d2(2), limits xbar +- 3 sigma;
# MR chart D3(2) MRbar = 0, D4(2) MRbar. The MR chart has no point 1.
chart_imr <- function(x, phase1) {
  m <- length(x)
  ph <- phase_of(m, phase1)
  rows <- which(ph == 1)
  k <- spc_constants(2)
  mrbar <- mean_moving_range(x, rows)
  sigma <- mrbar / k$d2
  center <- mean(x[rows])
  i <- make_chart("i", make_points(x, center, center + 3 * sigma, center - 3 * sigma, ph))
  mr <- make_chart("mr", make_points(abs(diff(x)), mrbar, k$D4 * mrbar, k$D3 * mrbar, ph[-1], index = 2:m))
  list(parameters = list(sigma = sigma, mean = center, mrbar = mrbar), charts = list(i, mr),
       exclusions = list())
}

# ---- attributes charts with optional iterative Phase I exclusion ---------------------------------

# limits_fn(keep) returns list(center, ucl, lcl) per point from the Phase I points in `keep`.
# With exclude = TRUE: every Phase I point (not yet excluded) beyond its limits is excluded at once,
# the limits are recomputed from the rest, and that repeats until no Phase I point is beyond
# (Montgomery 7.2.1, "revised control limits"). Each exclusion records its iteration.
# `up_front`: Phase I points excluded before any estimate (known assignable causes; iteration 0).
# `max_passes` > 0 stops after that many exclusion passes.
attribute_chart <- function(name, value, size, phase1, limits_fn, exclude, up_front = integer(0), max_passes = 0) {
  ph <- phase_of(length(value), phase1)
  keep <- ph == 1
  exclusions <- list()
  for (j in up_front) {
    exclusions[[length(exclusions) + 1]] <- list(index = j, chart = name, iteration = 0)
    keep[j] <- FALSE
  }
  iteration <- 0
  history <- list()
  repeat {
    lim <- limits_fn(keep)
    history[[length(history) + 1]] <- lim
    if (!exclude || (max_passes > 0 && iteration >= max_passes)) break
    out <- which(keep & (value > lim$ucl | value < lim$lcl))
    if (length(out) == 0) break
    iteration <- iteration + 1
    for (j in out) exclusions[[length(exclusions) + 1]] <- list(index = j, chart = name, iteration = iteration)
    keep[out] <- FALSE
  }
  pts <- make_points(value, lim$center, lim$ucl, lim$lcl, ph, size, excluded = ph == 1 & !keep)
  list(chart = make_chart(name, pts), exclusions = exclusions, history = history)
}

# p chart (Montgomery 7.2): pbar = sum D / sum n over Phase I, limits pbar +- 3 sqrt(pbar(1-pbar)/n_i),
# LCL truncated at 0.
chart_p <- function(d, n, phase1, exclude = FALSE, up_front = integer(0), max_passes = 0) {
  lf <- function(keep) {
    pbar <- sum(d[keep]) / sum(n[keep])
    w <- 3 * sqrt(pbar * (1 - pbar) / n)
    list(center = rep(pbar, length(n)), ucl = pbar + w, lcl = pmax(0, pbar - w), pbar = pbar)
  }
  a <- attribute_chart("p", d / n, n, phase1, lf, exclude, up_front, max_passes)
  list(parameters = list(mean = a$history[[length(a$history)]]$pbar), charts = list(a$chart),
       exclusions = a$exclusions, history = a$history)
}

# np chart (constant n): center n pbar, limits n pbar +- 3 sqrt(n pbar (1 - pbar)), LCL truncated at 0.
chart_np <- function(d, n, phase1, exclude = FALSE) {
  lf <- function(keep) {
    pbar <- sum(d[keep]) / sum(n[keep])
    w <- 3 * sqrt(n * pbar * (1 - pbar))
    list(center = n * pbar, ucl = n * pbar + w, lcl = pmax(0, n * pbar - w), pbar = pbar)
  }
  a <- attribute_chart("np", d, n, phase1, lf, exclude)
  list(parameters = list(), charts = list(a$chart), exclusions = a$exclusions, history = a$history)
}

# c chart (Montgomery 7.3.1): cbar = mean count over Phase I, limits cbar +- 3 sqrt(cbar), LCL >= 0.
chart_c <- function(x, phase1, exclude = FALSE) {
  lf <- function(keep) {
    cbar <- mean(x[keep])
    list(center = rep(cbar, length(x)), ucl = rep(cbar + 3 * sqrt(cbar), length(x)),
         lcl = rep(max(0, cbar - 3 * sqrt(cbar)), length(x)), cbar = cbar)
  }
  a <- attribute_chart("c", x, NA_real_, phase1, lf, exclude)
  list(parameters = list(mean = a$history[[length(a$history)]]$cbar), charts = list(a$chart),
       exclusions = a$exclusions, history = a$history)
}

# u chart (Montgomery 7.3.1, variable n: 7.3.2): ubar = sum x / sum n over Phase I,
# limits ubar +- 3 sqrt(ubar / n_i), LCL truncated at 0.
chart_u <- function(x, n, phase1, exclude = FALSE) {
  lf <- function(keep) {
    ubar <- sum(x[keep]) / sum(n[keep])
    w <- 3 * sqrt(ubar / n)
    list(center = rep(ubar, length(n)), ucl = ubar + w, lcl = pmax(0, ubar - w), ubar = ubar)
  }
  a <- attribute_chart("u", x / n, n, phase1, lf, exclude)
  list(parameters = list(mean = a$history[[length(a$history)]]$ubar), charts = list(a$chart),
       exclusions = a$exclusions, history = a$history)
}

# ---- time-weighted charts -----------------------------------------------------------------------

# EWMA (Montgomery 9.2): z_0 = mu, z_i = lambda x_i + (1 - lambda) z_{i-1};
# limits mu +- L sigma sqrt(lambda/(2 - lambda) (1 - (1 - lambda)^(2i))), asymptotically without the
# last factor. mu = Phase I mean, sigma = MRbar/d2(2) of the Phase I points.
# With asymptotic = TRUE every point gets the asymptotic limits.
chart_ewma <- function(x, phase1, lambda, L, asymptotic = FALSE) {
  m <- length(x)
  ph <- phase_of(m, phase1)
  rows <- which(ph == 1)
  mu <- mean(x[rows])
  sigma <- mean_moving_range(x, rows) / spc_d2(2)
  z <- numeric(m); prev <- mu
  for (i in seq_len(m)) { z[i] <- lambda * x[i] + (1 - lambda) * prev; prev <- z[i] }
  w <- L * sigma * sqrt(lambda / (2 - lambda) * (1 - (1 - lambda)^(2 * seq_len(m))))
  wa <- L * sigma * sqrt(lambda / (2 - lambda))
  if (asymptotic) w <- rep(wa, m)
  ch <- make_chart("ewma", make_points(z, mu, mu + w, mu - w, ph))
  list(parameters = list(mean = mu, sigma = sigma, lambda = lambda, L = L,
                         asymptotic_ucl = mu + wa, asymptotic_lcl = mu - wa),
       charts = list(ch), exclusions = list())
}

# Tabular CUSUM (Montgomery 9.1.2): K = k sigma, H = h sigma,
#   C+_i = max(0, x_i - (mu + K) + C+_{i-1}),  C-_i = max(0, (mu - K) - x_i + C-_{i-1}),  C+_0 = C-_0 = 0,
# signal when C+ > H or C- > H. mu = mean and sigma = MRbar/d2(2) of the Phase I points.
# The center line is not defined by the textbook (NA: not compared); the lower limit of each point is 0.
# fir = TRUE: fast initial response (Lucas & Crosier 1982), C+_0 = C-_0 = H/2.
chart_cusum <- function(x, phase1, k, h, fir = FALSE) {
  m <- length(x)
  ph <- phase_of(m, phase1)
  rows <- which(ph == 1)
  mu <- mean(x[rows])
  sigma <- mean_moving_range(x, rows) / spc_d2(2)
  K <- k * sigma; H <- h * sigma
  cp <- numeric(m); cm <- numeric(m); up <- if (fir) H / 2 else 0; lo <- up
  for (i in seq_len(m)) {
    up <- max(0, x[i] - (mu + K) + up); lo <- max(0, (mu - K) - x[i] + lo)
    cp[i] <- up; cm[i] <- lo
  }
  # Chart-level LCL null (the contract: "lcl null -> use 0"); every point has LCL 0.
  upper <- make_chart("cusum_upper", make_points(cp, NA_real_, H, 0, ph))
  lower <- make_chart("cusum_lower", make_points(cm, NA_real_, H, 0, ph))
  upper$lcl <- NA_real_; lower$lcl <- NA_real_
  list(parameters = list(mean = mu, sigma = sigma, k = k, h = h, fir = fir),
       charts = list(upper, lower), exclusions = list())
}

# ---- Hotelling T^2 (Montgomery 11.3) ------------------------------------------------------------

# Individual observations (rows, p columns); xbar and S from the m Phase I rows:
#   T2_i = (x_i - xbar)' S^-1 (x_i - xbar), S the sample covariance (divisor m - 1);
#   Phase I points:  UCL = ((m - 1)^2 / m) * Beta_{1-alpha}(p/2, (m - p - 1)/2) (Tracy, Young & Mason 1992),
#   Phase II points: UCL = p (m + 1)(m - 1) / (m^2 - m p) * F_{1-alpha}(p, m - p); LCL 0.
chart_t2_individuals <- function(X, alpha, phase1 = c(1, nrow(X))) {
  X <- as.matrix(X); p <- ncol(X)
  ph <- phase_of(nrow(X), phase1)
  P1 <- X[ph == 1, , drop = FALSE]; m <- nrow(P1)
  xbar <- colMeans(P1)
  S <- crossprod(sweep(P1, 2, xbar)) / (m - 1)
  Sinv <- solve(S)
  t2 <- vapply(seq_len(nrow(X)), function(i) { d <- X[i, ] - xbar; drop(t(d) %*% Sinv %*% d) }, 0)
  ucl1 <- ((m - 1)^2 / m) * qbeta(1 - alpha, p / 2, (m - p - 1) / 2)
  ucl2 <- p * (m + 1) * (m - 1) / (m^2 - m * p) * qf(1 - alpha, p, m - p)
  ch <- make_chart("t2", make_points(t2, NA_real_, ifelse(ph == 1, ucl1, ucl2), 0, ph))
  list(parameters = list(alpha = alpha, p = p, m = m, phase1_ucl = ucl1, phase2_ucl = ucl2),
       charts = list(ch), exclusions = list())
}

# Subgroups: array of m subgroups x n observations for each of p variables (list of m x n matrices).
#   xbar_j = subgroup mean vector, xbarbar = grand mean, S = mean of the m subgroup covariance matrices;
#   T2_j = n (xbar_j - xbarbar)' S^-1 (xbar_j - xbarbar);
#   Phase I UCL = p (m - 1)(n - 1) / (m n - m - p + 1) * F_{1-alpha}(p, m n - m - p + 1)   (Montgomery eq. 11.19)
#   Phase II UCL = p (m + 1)(n - 1) / (m n - m - p + 1) * F_{1-alpha}(p, m n - m - p + 1) (Montgomery eq. 11.18)
# `formula` picks which one is the chart's UCL; LCL 0.
chart_t2_subgroups <- function(vars, alpha, formula = c("phase1", "phase2")) {
  formula <- match.arg(formula)
  p <- length(vars); m <- nrow(vars[[1]]); n <- ncol(vars[[1]])
  means <- sapply(vars, rowMeans)                       # m x p
  if (p == 1) means <- matrix(means, ncol = 1)
  xbarbar <- colMeans(means)
  S <- matrix(0, p, p)
  for (j in seq_len(m)) {
    obs <- sapply(vars, function(v) v[j, ])              # n x p
    S <- S + cov(obs)
  }
  S <- S / m
  Sinv <- solve(S)
  t2 <- vapply(seq_len(m), function(j) { d <- means[j, ] - xbarbar; n * drop(t(d) %*% Sinv %*% d) }, 0)
  df2 <- m * n - m - p + 1
  ucl1 <- p * (m - 1) * (n - 1) / df2 * qf(1 - alpha, p, df2)
  ucl2 <- p * (m + 1) * (n - 1) / df2 * qf(1 - alpha, p, df2)
  ucl <- if (formula == "phase1") ucl1 else ucl2
  ch <- make_chart("t2", make_points(t2, NA_real_, ucl, 0, 1L, n))
  list(parameters = list(alpha = alpha, p = p, m = m, n = n, phase1_ucl = ucl1, phase2_ucl = ucl2),
       charts = list(ch), exclusions = list())
}
