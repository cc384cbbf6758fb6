# The reference side of bench/spc_live_bench.cpp: the same I-MR chart (Phase I = every point:
# mean and MR-bar/d2(2), limits at 3 sigma) with all eight Nelson rules on the I chart and rule 1
# on the MR chart, written with r-base vector operations only (no packages, no loop over points).
# Usage: Rscript spc_reference_bench.R SERIES.csv   (one column with a header, one value per row)
# Prints: "elapsed SECONDS" (system.time of the computation, not of reading the CSV), the limits,
# "count RULE CHART N" per rule, and R's own memory high-water mark from gc().
#
# Rule semantics (as plantfloor's rules.h, Nelson 1984): a rule fires at every point that completes
# its pattern; "beyond" is strict; a point on the center line breaks a same-side run; equal
# neighbours break a trend and an alternation.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript spc_reference_bench.R SERIES.csv")
x <- scan(args[1], what = double(), skip = 1, quiet = TRUE)

# Points that complete a run of at least `len` TRUEs: a run of L TRUEs completes L - len + 1.
completing_runs <- function(flag, len) {
  r <- rle(flag)
  l <- r$lengths[r$values]
  sum(pmax(0, l - len + 1))
}
# Points beyond a zone line (`beyond`) with at least k of the last m (itself included) beyond too.
k_of_m <- function(beyond, m, k) {
  cs <- cumsum(beyond)
  window <- cs - c(rep(0L, m), cs)[seq_along(cs)]
  sum(beyond & window >= k)
}

imr_nelson <- function(x) {
  d2 <- 2 / sqrt(pi)        # E[range of 2 standard normals]
  d3 <- sqrt(2 - 4 / pi)    # sd of that range
  center <- mean(x)
  mr <- abs(diff(x))
  sigma <- mean(mr) / d2
  ucl <- center + 3 * sigma
  lcl <- center - 3 * sigma
  z <- (x - center) / sigma
  step <- sign(diff(x))
  alternating <- step[-1] * step[-length(step)] < 0   # neighbouring steps of opposite sign
  mr_ucl <- (d2 + 3 * d3) * sigma
  mr_lcl <- max(0, (d2 - 3 * d3) * sigma)
  counts <- c(
    nelson1 = sum(x > ucl | x < lcl),
    nelson2 = completing_runs(z > 0, 9) + completing_runs(z < 0, 9),
    nelson3 = completing_runs(step > 0, 5) + completing_runs(step < 0, 5),  # 6 points, 5 steps
    nelson4 = completing_runs(alternating, 12),                              # 14 points, 13 steps
    nelson5 = k_of_m(z > 2, 3, 2) + k_of_m(z < -2, 3, 2),
    nelson6 = k_of_m(z > 1, 5, 4) + k_of_m(z < -1, 5, 4),
    nelson7 = completing_runs(abs(z) < 1, 15),
    nelson8 = completing_runs(abs(z) > 1, 8),
    mr_nelson1 = sum(mr > mr_ucl | mr < mr_lcl))
  list(center = center, sigma = sigma, counts = counts)
}

invisible(gc(reset = TRUE))
elapsed <- system.time(res <- imr_nelson(x))[["elapsed"]]
mem <- gc()
cat(sprintf("elapsed %.6f\n", elapsed))
cat(sprintf("points %d\n", length(x)))
cat(sprintf("center %.17g\nsigma %.17g\n", res$center, res$sigma))
for (name in names(res$counts)) {
  chart <- if (startsWith(name, "mr_")) "mr" else "i"
  cat(sprintf("count %s %s %d\n", sub("^mr_", "", name), chart, as.integer(res$counts[[name]])))
}
# gc(): "max used" in Mb for cons cells and the vector heap, since the reset above.
cat(sprintf("r_heap_max_mb %.1f\n", sum(mem[, 6])))
