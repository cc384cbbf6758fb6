# A tiny JSON writer (r-base-core has none and jsonlite must not be needed).
# Mapping: named list -> object, unnamed list -> array, length-1 atomic -> scalar,
# longer atomic vector -> array, NULL / NA / NaN / Inf -> null (the reference never emits NaN).
# Wrap an atomic vector in as.list() or I() to force an array even when it has one element.
# Numbers are printed with 17 significant digits so that the value read back is the same double.

json_string <- function(s) {
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  paste0("\"", s, "\"")
}

json_scalar <- function(v) {
  if (is.null(v) || length(v) == 0) return("null")
  if (is.na(v)) return("null")
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.numeric(v)) {
    if (!is.finite(v)) return("null")
    if (is.integer(v) || (abs(v) < 2^53 && v == round(v))) return(sprintf("%.0f", v))
    return(sprintf("%.17g", v))
  }
  json_string(as.character(v))
}

to_json <- function(x, indent = 0) {
  pad <- strrep(" ", indent + 2)
  end <- strrep(" ", indent)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, character(1), indent = indent + 2)
    if (!is.null(names(x))) {
      items <- paste0(json_string(names(x)), ": ", items)
      return(paste0("{\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "}"))
    }
    return(paste0("[\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  if (inherits(x, "AsIs") || length(x) != 1) {
    return(paste0("[", paste(vapply(unclass(x), json_scalar, character(1)), collapse = ", "), "]"))
  }
  json_scalar(x)
}

write_json_file <- function(x, path) {
  con <- file(path, "w")
  on.exit(close(con))
  writeLines(to_json(x), con)
}
