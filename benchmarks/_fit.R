# Peer fits of the benchmarks, one model per run:
#   Rscript --vanilla _fit.R <model> <data.csv> <repeats>
# Times are proc.time() elapsed around each fit only (reading the CSV is timed
# apart).  Prints "RESULT {json}" last, with -2 log-likelihood, estimates in
# PROC MIXED order and the process's peak RSS (VmHWM).
suppressPackageStartupMessages({
  library(data.table)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
model <- args[1]
path <- args[2]
repeats <- max(1L, as.integer(args[3]))

t_import <- system.time(suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
}))[["elapsed"]]
t_load <- system.time(d <- as.data.frame(fread(path)))[["elapsed"]]

vmhwm <- function() {
  s <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  if (length(s) == 0) return(0)
  as.numeric(strsplit(trimws(sub("VmHWM:", "", s)), " +")[[1]][1]) * 1024
}

lmer_summary <- function(m) {
  vc <- as.data.frame(VarCorr(m), order = "lower.tri")
  msgs <- m@optinfo$conv$lme4$messages
  list(m2ll = -2 * as.numeric(logLik(m)), converged = length(msgs) == 0,
       beta = unname(fixef(m)), theta = vc$vcov, messages = if (is.null(msgs)) list() else as.list(msgs))
}

fits <- list(
  # y ~ time + x, random intercept and slope (unstructured) by subject, REML
  longitudinal = function(d) {
    lmer_summary(lmer(y ~ time + x + (time | subject), data = d, REML = TRUE))
  },
  # random intercept by subject plus AR(1) errors within subject in time order
  ar1 = function(d) {
    m <- lme(y ~ time + x, random = ~ 1 | subject, correlation = corAR1(form = ~ time | subject),
             data = d, method = "REML")
    rho <- coef(m$modelStruct$corStruct, unconstrained = FALSE)[[1]]
    list(m2ll = -2 * as.numeric(logLik(m)), converged = TRUE, beta = unname(fixef(m)),
         theta = c(as.numeric(getVarCov(m)[1, 1]), rho, m$sigma^2))
  },
  # one lmer per group, in a loop in this process
  by = function(d) {
    parts <- split(d, d$group)
    out <- lapply(parts, function(p) lmer_summary(lmer(y ~ x + (1 | subject), data = p, REML = TRUE)))
    list(groups = out)
  }
)
fit <- fits[[model]]
if (is.null(fit)) stop("unknown model ", model)

rss_data <- vmhwm()
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  times[i] <- system.time(res <- fit(d))[["elapsed"]]
}
out <- c(list(import = t_import, load = t_load, first = times[1],
              warm = if (repeats > 1) median(times[-1]) else NA, times = times,
              rows = nrow(d), rss_data = rss_data, vmhwm = vmhwm()), res)
cat("RESULT ", toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), "\n", sep = "")
