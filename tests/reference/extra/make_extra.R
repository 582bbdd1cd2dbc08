# Extra reference fits for the covariance-structure library (nlme gls/lme).
#
#   Rscript tests/reference/extra/make_extra.R
#
# Writes tests/reference/extra/CASE.json in the format of tests/reference/cases/
# (see tests/reference/README.md) plus the simulated data sets it needs
# (spatial.csv, sleepstudy_w.csv).  The tests read only the JSON and CSV files;
# R is not needed to run them.
#
# minus2ll is the REML -2 log-likelihood in the PROC MIXED convention,
#   (n - p) log 2 pi + sum log|V_i| + log|X'V^-1 X| + r'V^-1 r,
# recomputed here from the fitted marginal V_i of every block (getVarCov), so
# it does not depend on nlme's own constant; minus2ll_nlme is -2 logLik(fit).
# proc_covparms are the fitted parameters under PROC MIXED's names, mapped from
# nlme's parameterisation as noted per case.

suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/extra"
data_dir <- normalizePath(file.path(here, "..", "data"))

ctrl_gls <- glsControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-12, msTol = 1e-12,
                       opt = "nlminb")
ctrl_lme <- lmeControl(maxIter = 1000, msMaxIter = 1000, tolerance = 1e-12, msTol = 1e-12,
                       niterEM = 200, opt = "nlminb", returnObject = TRUE)

# ---- REML -2LL from the blocks of V ------------------------------------------
proc_m2ll <- function(y, X, blocks) {
  n <- length(y); p <- ncol(X)
  ld <- 0; xvx <- matrix(0, p, p); xvy <- numeric(p); yvy <- 0
  for (b in blocks) {
    i <- b$rows; V <- b$V
    ld <- ld + as.numeric(determinant(V, logarithm = TRUE)$modulus)
    vix <- solve(V, X[i, , drop = FALSE]); viy <- solve(V, y[i])
    xvx <- xvx + crossprod(X[i, , drop = FALSE], vix)
    xvy <- xvy + as.numeric(crossprod(X[i, , drop = FALSE], viy))
    yvy <- yvy + sum(y[i] * viy)
  }
  beta <- solve(xvx, xvy)
  rss <- yvy - sum(xvy * beta)
  (n - p) * log(2 * pi) + ld + as.numeric(determinant(xvx, logarithm = TRUE)$modulus) + rss
}

as_plain <- function(V) unname(matrix(as.numeric(V), nrow(V)))

# V of every level of `g` (rows in data order within the level)
gls_blocks <- function(fit, g) {
  levs <- unique(as.character(g))
  lapply(levs, function(l) list(level = l, rows = which(as.character(g) == l),
                                V = as_plain(getVarCov(fit, individual = l))))
}

lme_blocks <- function(fit, g) {
  levs <- unique(as.character(g))
  vs <- getVarCov(fit, individuals = levs, type = "marginal")
  lapply(levs, function(l) list(level = l, rows = which(as.character(g) == l),
                                V = as_plain(vs[[l]])))
}

# independent rows (no correlation structure): one block per row
diag_blocks <- function(fit) {
  sd <- sigma(fit) / varWeights(fit$modelStruct$varStruct)
  lapply(seq_along(sd), function(i) list(level = as.character(i), rows = i, V = matrix(sd[i]^2, 1, 1)))
}

fixed_table <- function(fit) {
  tt <- summary(fit)$tTable
  lapply(seq_len(nrow(tt)), function(k)
    list(effect = rownames(tt)[k], estimate = unname(tt[k, "Value"]), se = unname(tt[k, "Std.Error"])))
}

write_case <- function(name, data_file, fit, model, blocks, y, X, proc_covparms, note,
                       data_dir_field = NULL, extra = list()) {
  m2 <- proc_m2ll(y, X, blocks)
  case <- c(list(
    name = name,
    data = data_file),
    if (!is.null(data_dir_field)) list(data_dir = data_dir_field),
    list(
    engine = "nlme",
    r_call = paste(deparse(fit$call, width.cutoff = 500), collapse = " "),
    model = model,
    note = note,
    method = "REML",
    minus2ll = m2,
    minus2ll_nlme = -2 * as.numeric(logLik(fit)),
    n_obs = length(y),
    n_fixed = ncol(X),
    fixed = fixed_table(fit),
    sigma2 = sigma(fit)^2,
    first_block = list(subject = blocks[[1]]$level, V = blocks[[1]]$V),
    # names "CovParm" or "CovParm|Group" as jaxmixed's covparms table shows them
    proc_covparms = lapply(names(proc_covparms), function(k) {
      parts <- strsplit(k, "|", fixed = TRUE)[[1]]
      c(list(CovParm = parts[1], Group = if (length(parts) > 1) parts[2] else ""),
        # a third part names the Subject (G and R sides can both have UN(1,1))
        if (length(parts) > 2) list(Subject = parts[3]),
        list(Estimate = unname(proc_covparms[[k]])))
    })
  ), extra)
  write_json(case, file.path(here, paste0(name, ".json")), auto_unbox = TRUE, digits = NA, pretty = TRUE)
  cat(sprintf("%-34s -2LL %.6f (nlme %.6f)\n", name, m2, -2 * as.numeric(logLik(fit))))
}

var_ident <- function(fit, levels) {
  # nlme varIdent: sd(level) = sigma * ratio(level), ratio of the reference level 1
  r <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
  s2 <- sigma(fit)^2 * r[levels]^2
  setNames(as.numeric(s2), paste0("Var(", seq_along(levels), ")"))
}

# ---- data ---------------------------------------------------------------------
orth <- read.csv(file.path(data_dir, "orthodont.csv"), stringsAsFactors = TRUE)
orth$Subject <- factor(orth$Subject, levels = unique(orth$Subject))
Xo <- model.matrix(~ age * Sex, orth); yo <- orth$distance
ages <- as.character(sort(unique(orth$age)))

sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"), stringsAsFactors = FALSE)
sleep$Subject <- factor(sleep$Subject, levels = unique(sleep$Subject))
sleep$w <- round(1 + sleep$Days / 3 + (as.integer(sleep$Subject) %% 3) / 2, 4)
sleep$invw <- 1 / sleep$w
write.csv(sleep[, c("Reaction", "Days", "Subject", "w")], file.path(here, "sleepstudy_w.csv"), row.names = FALSE)
Xs <- model.matrix(~ Days, sleep); ys <- sleep$Reaction

ovary <- read.csv(file.path(data_dir, "ovary.csv"), stringsAsFactors = FALSE)
ovary$Mare <- factor(ovary$Mare, levels = unique(ovary$Mare))
Xv <- model.matrix(~ sin2 + cos2, ovary); yv <- ovary$follicles

# spatial: 40 plots, 7 points each in [0, 4]^2, exponential correlation (range 1.2)
set.seed(20240611)
np <- 40; k <- 7
sp <- data.frame(plot = rep(sprintf("P%02d", 1:np), each = k),
                 cx = round(runif(np * k, 0, 4), 3), cy = round(runif(np * k, 0, 4), 3),
                 x1 = round(rnorm(np * k), 3))
e <- unlist(lapply(split(seq_len(np * k), sp$plot), function(i) {
  d <- as.matrix(dist(sp[i, c("cx", "cy")]))
  as.numeric(t(chol(4 * exp(-d / 1.2))) %*% rnorm(length(i)))
}))
sp$y <- round(10 + 2 * sp$x1 + e, 4)
write.csv(sp[, c("plot", "cx", "cy", "x1", "y")], file.path(here, "spatial.csv"), row.names = FALSE)
sp <- read.csv(file.path(here, "spatial.csv"), stringsAsFactors = FALSE)
sp$plot <- factor(sp$plot, levels = unique(sp$plot))
Xp <- model.matrix(~ x1, sp); yp <- sp$y

# ---- orthodont, REPEATED structures -------------------------------------------
rep_model <- function(type) list(fixed = "distance ~ age * Sex",
                                 repeated = list(subject = "Subject", type = type, index = "age"))

f <- gls(distance ~ age * Sex, orth, correlation = corAR1(form = ~ 1 | Subject), method = "REML", control = ctrl_gls)
phi <- coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]]
write_case("orthodont_gls_ar1_reml", "orthodont.csv", f, rep_model("AR(1)"), gls_blocks(f, orth$Subject), yo, Xo,
           c("AR(1)" = phi, Residual = sigma(f)^2), "gls corAR1 = REPEATED AR(1)")
f_ar1 <- f

f <- gls(distance ~ age * Sex, orth, correlation = corARMA(form = ~ 1 | Subject, p = 1, q = 1), method = "REML",
         control = ctrl_gls)
pq <- coef(f$modelStruct$corStruct, unconstrained = FALSE)  # Phi1, Theta1
ph <- pq[[1]]; th <- pq[[2]]
gam <- (1 + ph * th) * (ph + th) / (1 + 2 * ph * th + th^2)  # lag-1 autocorrelation of ARMA(1,1)
write_case("orthodont_gls_arma11_reml", "orthodont.csv", f, rep_model("ARMA(1,1)"), gls_blocks(f, orth$Subject), yo, Xo,
           c(Rho = ph, Gamma = gam, Residual = sigma(f)^2),
           "gls corARMA(p=1,q=1) = ARMA(1,1): Rho = phi, Gamma = lag-1 autocorrelation (1+phi theta)(phi+theta)/(1+2 phi theta+theta^2)")

f <- gls(distance ~ age * Sex, orth, correlation = corCompSymm(form = ~ 1 | Subject),
         weights = varIdent(form = ~ 1 | age), method = "REML", control = ctrl_gls)
write_case("orthodont_gls_csh_reml", "orthodont.csv", f, rep_model("CSH"), gls_blocks(f, orth$Subject), yo, Xo,
           c(var_ident(f, ages), CSH = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]]),
           "gls corCompSymm + varIdent(age) = CSH")

f <- gls(distance ~ age * Sex, orth, correlation = corAR1(form = ~ 1 | Subject),
         weights = varIdent(form = ~ 1 | age), method = "REML", control = ctrl_gls)
write_case("orthodont_gls_arh1_reml", "orthodont.csv", f, rep_model("ARH(1)"), gls_blocks(f, orth$Subject), yo, Xo,
           c(var_ident(f, ages), "ARH(1)" = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]]),
           "gls corAR1 + varIdent(age) = ARH(1)")

f <- gls(distance ~ age * Sex, orth, correlation = corSymm(form = ~ 1 | Subject),
         weights = varIdent(form = ~ 1 | age), method = "REML", control = ctrl_gls)
cm <- corMatrix(f$modelStruct$corStruct)[[1]]
low <- which(lower.tri(cm), arr.ind = TRUE)
low <- low[order(low[, 1], low[, 2]), , drop = FALSE]
corrs <- setNames(cm[low], sprintf("Corr(%d,%d)", low[, 1], low[, 2]))
write_case("orthodont_gls_unr_reml", "orthodont.csv", f, rep_model("UNR"), gls_blocks(f, orth$Subject), yo, Xo,
           c(var_ident(f, ages), corrs), "gls corSymm + varIdent(age) = UN, fitted as UNR (variances and correlations)")

# ---- REPEATED group= (VC by group) and weights ---------------------------------
f <- gls(distance ~ age * Sex, orth, weights = varIdent(form = ~ 1 | Sex), method = "REML", control = ctrl_gls)
r <- coef(f$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
write_case("orthodont_gls_vc_group_reml", "orthodont.csv", f,
           list(fixed = "distance ~ age * Sex", repeated = list(type = "VC", group = "Sex")),
           diag_blocks(f), yo, Xo,
           setNames(sigma(f)^2 * r^2, paste0("Residual|Sex ", names(r))),
           "gls varIdent(Sex) = REPEATED / group=Sex (a residual variance per sex, nothing profiled)")

f <- lme(distance ~ age * Sex, orth, random = list(Subject = pdDiag(~ 0 + Sex)), method = "REML", control = ctrl_lme)
vc <- as.numeric(VarCorr(f)[1:2, "Variance"])
write_case("orthodont_lme_random_group_reml", "orthodont.csv", f,
           list(fixed = "distance ~ age * Sex",
                random = list(list(effects = "1", subject = "Subject", type = "VC", group = "Sex"))),
           lme_blocks(f, orth$Subject), yo, Xo,
           c("Intercept|Sex Female" = vc[1], "Intercept|Sex Male" = vc[2], Residual = sigma(f)^2),
           "lme pdDiag(~0+Sex) per subject = RANDOM intercept / subject=Subject group=Sex")

f <- lme(Reaction ~ Days, sleep, random = ~ 1 | Subject, weights = varFixed(~ invw), method = "REML", control = ctrl_lme)
write_case("sleepstudy_lme_weights_reml", "sleepstudy_w.csv", f,
           list(fixed = "Reaction ~ Days", random = list(list(effects = "1", subject = "Subject", type = "VC")),
                weights = "w"),
           lme_blocks(f, sleep$Subject), ys, Xs,
           c(Intercept = as.numeric(VarCorr(f)[1, "Variance"]), Residual = sigma(f)^2),
           "lme varFixed(~1/w) = WEIGHT w: R = sigma^2 W^-1", data_dir_field = "extra")

f <- gls(distance ~ age * Sex, cbind(orth, w = 1 + (orth$age - 8) / 4, invw = 1 / (1 + (orth$age - 8) / 4)),
         correlation = corAR1(form = ~ 1 | Subject), weights = varFixed(~ invw), method = "REML", control = ctrl_gls)
orth_w <- orth; orth_w$w <- 1 + (orth$age - 8) / 4
write.csv(orth_w, file.path(here, "orthodont_w.csv"), row.names = FALSE)
write_case("orthodont_gls_ar1_weights_reml", "orthodont_w.csv", f,
           c(rep_model("AR(1)"), list(weights = "w")), gls_blocks(f, orth$Subject), yo, Xo,
           c("AR(1)" = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]], Residual = sigma(f)^2),
           "gls corAR1 + varFixed(~1/w) = REPEATED AR(1) with WEIGHT w", data_dir_field = "extra")

# ---- G side plus R-side correlation ------------------------------------------------
f <- lme(Reaction ~ Days, sleep, random = ~ 1 | Subject, correlation = corAR1(form = ~ 1 | Subject),
         method = "REML", control = ctrl_lme)
write_case("sleepstudy_lme_ar1_reml", "sleepstudy.csv", f,
           list(fixed = "Reaction ~ Days", random = list(list(effects = "1", subject = "Subject", type = "VC")),
                repeated = list(subject = "Subject", type = "AR(1)", index = "Days")),
           lme_blocks(f, sleep$Subject), ys, Xs,
           c(Intercept = as.numeric(VarCorr(f)[1, "Variance"]),
             "AR(1)" = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]], Residual = sigma(f)^2),
           "lme random intercept + corAR1 = RANDOM int + REPEATED AR(1)")

f <- lme(follicles ~ sin2 + cos2, ovary, random = ~ 1 | Mare, correlation = corARMA(form = ~ 1 | Mare, p = 1, q = 1),
         method = "REML", control = ctrl_lme)
pq <- coef(f$modelStruct$corStruct, unconstrained = FALSE); ph <- pq[[1]]; th <- pq[[2]]
write_case("ovary_lme_arma11_reml", "ovary.csv", f,
           list(fixed = "follicles ~ sin2 + cos2", random = list(list(effects = "1", subject = "Mare", type = "VC")),
                repeated = list(subject = "Mare", type = "ARMA(1,1)", index = "t_index")),
           lme_blocks(f, ovary$Mare), yv, Xv,
           c(Intercept = as.numeric(VarCorr(f)[1, "Variance"]), Rho = ph,
             Gamma = (1 + ph * th) * (ph + th) / (1 + 2 * ph * th + th^2), Residual = sigma(f)^2),
           "lme random intercept + corARMA(1,1) = RANDOM int + REPEATED ARMA(1,1)")

# ---- spatial -----------------------------------------------------------------------
sp_model <- function(type) list(fixed = "y ~ x1",
                                repeated = list(subject = "plot", type = type, coordinate = c("cx", "cy")))
f <- gls(y ~ x1, sp, correlation = corExp(form = ~ cx + cy | plot), method = "REML", control = ctrl_gls)
rng <- coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]]
write_case("spatial_gls_exp_reml", "spatial.csv", f, sp_model("SP(EXP)"), gls_blocks(f, sp$plot), yp, Xp,
           c("SP(EXP)" = rng, Residual = sigma(f)^2), "gls corExp(range) = SP(EXP) with theta = range",
           data_dir_field = "extra")
write_case("spatial_gls_pow_reml", "spatial.csv", f, sp_model("SP(POW)"), gls_blocks(f, sp$plot), yp, Xp,
           c("SP(POW)" = exp(-1 / rng), Residual = sigma(f)^2),
           "the corExp fit as SP(POW): rho^d = exp(-d/range), rho = exp(-1/range)", data_dir_field = "extra")

f <- gls(y ~ x1, sp, correlation = corGaus(form = ~ cx + cy | plot), method = "REML", control = ctrl_gls)
write_case("spatial_gls_gau_reml", "spatial.csv", f, sp_model("SP(GAU)"), gls_blocks(f, sp$plot), yp, Xp,
           c("SP(GAU)" = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]], Residual = sigma(f)^2),
           "gls corGaus(range) = SP(GAU) with theta = range", data_dir_field = "extra")

f <- gls(y ~ x1, sp, correlation = corSpher(value = 2, form = ~ cx + cy | plot), method = "REML", control = ctrl_gls)
write_case("spatial_gls_sph_reml", "spatial.csv", f, sp_model("SP(SPH)"), gls_blocks(f, sp$plot), yp, Xp,
           c("SP(SPH)" = coef(f$modelStruct$corStruct, unconstrained = FALSE)[[1]], Residual = sigma(f)^2),
           "gls corSpher(range) = SP(SPH) with theta = range", data_dir_field = "extra")

# ---- structures nlme does not have: REML by direct optimisation in R ---------------
# TOEP, TOEPH, ANTE(1) and HF have no nlme counterpart (corARMA(q=3) covers only part
# of the Toeplitz matrices).  These cases minimise the REML -2LL above with nlminb over
# the natural parameters (box bounds; a non-positive-definite V scores +Inf), V_i built
# from the closed form of the structure.  Orthodont is balanced (4 ages per subject).
custom_fit <- function(name, type, build, start, lower, upper, pnames, note) {
  levs <- unique(as.character(orth$Subject))
  rows <- lapply(levs, function(l) which(as.character(orth$Subject) == l))
  obj <- function(par) {
    M <- build(par)
    if (any(!is.finite(M)) || min(eigen(M, symmetric = TRUE, only.values = TRUE)$values) <= 1e-10) return(1e10)
    proc_m2ll(yo, Xo, lapply(rows, function(i) list(rows = i, V = M)))
  }
  opt <- nlminb(start, obj, lower = lower, upper = upper,
                control = list(rel.tol = 1e-15, x.tol = 1e-12, eval.max = 20000, iter.max = 10000))
  opt <- optim(opt$par, obj, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
  opt <- nlminb(opt$par, obj, lower = lower, upper = upper,
                control = list(rel.tol = 1e-10, eval.max = 20000, iter.max = 10000))
  M <- build(opt$par)
  vix <- solve(M, t(Xo[rows[[1]], ]))
  xvx <- Reduce(`+`, lapply(rows, function(i) crossprod(Xo[i, ], solve(M, Xo[i, ]))))
  xvy <- Reduce(`+`, lapply(rows, function(i) crossprod(Xo[i, ], solve(M, yo[i]))))
  cov_b <- solve(xvx); beta <- as.numeric(cov_b %*% xvy)
  fixed <- lapply(seq_along(beta), function(k)
    list(effect = colnames(Xo)[k], estimate = beta[k], se = sqrt(cov_b[k, k])))
  m2 <- opt$objective
  case <- list(
    name = name, data = "orthodont.csv", engine = "R nlminb",
    r_call = paste("nlminb/optim on the REML -2LL of", type, "(see make_extra.R)"),
    model = rep_model(type), note = note, method = "REML",
    minus2ll = m2, n_obs = length(yo), n_fixed = ncol(Xo), fixed = fixed,
    first_block = list(subject = levs[1], V = unname(M)),
    proc_covparms = lapply(seq_along(pnames), function(k)
      list(CovParm = pnames[k], Group = "", Estimate = opt$par[k])))
  write_json(case, file.path(here, paste0(name, ".json")), auto_unbox = TRUE, digits = NA, pretty = TRUE)
  cat(sprintf("%-34s -2LL %.6f (nlminb: %s)\n", name, m2, opt$message))
}

S <- cov(matrix(residuals(lm(distance ~ age * Sex, orth)), ncol = 4, byrow = TRUE))
v0 <- diag(S); r0 <- c(0.6, 0.6, 0.5)
lagm <- abs(outer(1:4, 1:4, "-"))

custom_fit("orthodont_toep_reml", "TOEP",
           function(p) { M <- p[lagm + 1]; dim(M) <- c(4, 4); M },
           c(mean(v0), mean(v0) * r0), c(1e-6, -Inf, -Inf, -Inf), c(Inf, Inf, Inf, Inf),
           c("Residual", "TOEP(2)", "TOEP(3)", "TOEP(4)"),
           "TOEP: M_ij = sigma_|i-j|; PROC MIXED prints sigma_0 as Residual")

custom_fit("orthodont_toeph_reml", "TOEPH",
           function(p) { s <- sqrt(p[1:4]); C <- c(1, p[5:7])[lagm + 1]; dim(C) <- c(4, 4); outer(s, s) * C },
           c(v0, r0), c(rep(1e-6, 4), rep(-0.9999, 3)), c(rep(Inf, 4), rep(0.9999, 3)),
           c(paste0("Var(", 1:4, ")"), paste0("TOEPH(", 1:3, ")")),
           "TOEPH: M_ij = sigma_i sigma_j rho_|i-j|")

custom_fit("orthodont_ante1_reml", "ANTE(1)",
           function(p) {
             s <- sqrt(p[1:4]); rho <- p[5:7]
             C <- outer(1:4, 1:4, Vectorize(function(i, j) if (i == j) 1 else prod(rho[min(i, j):(max(i, j) - 1)])))
             outer(s, s) * C
           },
           c(v0, r0), c(rep(1e-6, 4), rep(-0.9999, 3)), c(rep(Inf, 4), rep(0.9999, 3)),
           c(paste0("Var(", 1:4, ")"), paste0("Rho(", 1:3, ")")),
           "ANTE(1): M_ij = sigma_i sigma_j prod_{k=i}^{j-1} rho_k")

custom_fit("orthodont_hf_reml", "HF",
           function(p) { v <- p[1:4]; M <- outer(v, v, "+") / 2 - p[5]; diag(M) <- v; M },
           c(v0, 1.5), c(rep(1e-6, 4), -Inf), c(rep(Inf, 4), Inf),
           c(paste0("Var(", 1:4, ")"), "HF"),
           "HF: M_ij = (sigma_i^2 + sigma_j^2)/2 - lambda (i != j)")

# ---- multivariate repeated measures: UN G over traits by family, UN R within family x sample ----
# The genetic-correlation model: y_fst = mu_t + g_ft + e_fst with g_f ~ N(0, G) (3 traits,
# UN) and e_fs ~ N(0, R) (UN over the traits of one sample).  nlme writes UN R as
# corSymm + varIdent(trait): R_tu = sigma^2 delta_t delta_u C_tu.  25 of the 360 values are
# deleted at random, so some samples lack a trait (positions come from the trait index).
set.seed(20240612)
nf <- 40; ns <- 3
Gt <- matrix(c(4, 1.6, -0.8,  1.6, 2, 0.3,  -0.8, 0.3, 1.5), 3)
Rt <- matrix(c(3, 1.2, 0.6,  1.2, 2.5, -0.4,  0.6, -0.4, 2), 3)
mv <- do.call(rbind, lapply(1:nf, function(f) {
  g <- as.numeric(t(chol(Gt)) %*% rnorm(3))
  do.call(rbind, lapply(1:ns, function(s) {
    e <- as.numeric(t(chol(Rt)) %*% rnorm(3))
    data.frame(family = sprintf("F%02d", f), sample = paste0("S", s), trait = paste0("T", 1:3),
               tnum = 1:3, y = round(c(10, 20, 15) + g + e, 4))
  }))
}))
mv <- mv[-sample(nrow(mv), 25), ]
write.csv(mv, file.path(here, "multivariate.csv"), row.names = FALSE)
mv <- read.csv(file.path(here, "multivariate.csv"), stringsAsFactors = TRUE)
Xm <- model.matrix(~ trait, mv); ym <- mv$y

f <- lme(y ~ trait, mv, random = ~ 0 + trait | family, correlation = corSymm(form = ~ tnum | family/sample),
         weights = varIdent(form = ~ 1 | trait), method = "REML", control = ctrl_lme)
Gf <- matrix(as.numeric(getVarCov(f)), 3)
sdr <- sigma(f) * coef(f$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)[c("T1", "T2", "T3")]
Cf <- diag(3)  # corSymm's parameters are C(1,2), C(1,3), C(2,3)
Cf[lower.tri(Cf)] <- coef(f$modelStruct$corStruct, unconstrained = FALSE)
Cf <- Cf + t(Cf) - diag(3)
full <- Filter(function(m) nrow(m) == 3, corMatrix(f$modelStruct$corStruct))[[1]]
stopifnot(max(abs(full - Cf)) < 1e-12)
Rf <- unname(outer(sdr, sdr) * Cf)
# V of a family from the closed forms (rows in data order): Z G Z' + R within a sample
mv_blocks <- lapply(levels(mv$family), function(l) {
  i <- which(mv$family == l); t <- mv$tnum[i]
  same <- outer(as.character(mv$sample[i]), as.character(mv$sample[i]), "==")
  list(level = l, rows = i, V = Gf[t, t] + Rf[t, t] * same)
})
tril <- function(M, side) {
  k <- which(lower.tri(M, diag = TRUE), arr.ind = TRUE); k <- k[order(k[, 1], k[, 2]), , drop = FALSE]
  setNames(M[k], sprintf("UN(%d,%d)||%s", k[, 1], k[, 2], side))
}
write_case("multivariate_lme_un_un_reml", "multivariate.csv", f,
           list(fixed = "y ~ C(trait)",
                random = list(list(effects = "0 + C(trait)", subject = "family", type = "UN")),
                repeated = list(subject = "family:sample", type = "UN", index = "trait")),
           mv_blocks, ym, Xm, c(tril(Gf, "family"), tril(Rf, "family:sample")),
           paste("lme pdSymm(~0+trait|family) + corSymm(~tnum|family/sample) + varIdent(trait)",
                 "= RANDOM trait / subject=family type=UN + REPEATED trait / subject=family*sample type=UN"),
           data_dir_field = "extra",
           extra = list(gcorr = unname(cov2cor(Gf)), G = Gf, R = Rf))

# ---- UN@AR(1): Kronecker product, by direct REML optimisation -----------------------
# nlme has no Kronecker correlation structure, so, as for TOEP above, the REML -2LL is
# minimised over the natural parameters with nlminb/optim, V_i = (U %x% C(rho))[pos, pos],
# C_st = rho^|s-t|; pos = (var - 1) * 4 + time (the row-major order of index = [var, time]).
# Data: 50 subjects, 2 variables x 4 times, about 10 % of the values deleted.
set.seed(20240613)
Uk <- matrix(c(4, 1.5, 1.5, 2), 2); rho_k <- 0.6
Ck <- rho_k^abs(outer(0:3, 0:3, "-"))
kr <- do.call(rbind, lapply(1:50, function(s) {
  e <- as.numeric(t(chol(kronecker(Uk, Ck))) %*% rnorm(8))
  data.frame(subj = sprintf("s%02d", s), var = rep(c("v1", "v2"), each = 4), time = rep(0:3, 2),
             y = round(rep(c(0, 5), each = 4) + 0.5 * rep(0:3, 2) + e, 4))
}))
kr <- kr[-sample(nrow(kr), 40), ]
write.csv(kr, file.path(here, "kronecker.csv"), row.names = FALSE)
kr <- read.csv(file.path(here, "kronecker.csv"), stringsAsFactors = FALSE)
Xk <- model.matrix(~ var + time, kr); yk <- kr$y
posk <- (as.integer(factor(kr$var)) - 1) * 4 + kr$time + 1
levk <- unique(kr$subj); rowsk <- lapply(levk, function(l) which(kr$subj == l))
build_k <- function(p) { U <- matrix(c(p[1], p[2], p[2], p[3]), 2); kronecker(U, p[4]^abs(outer(0:3, 0:3, "-"))) }
obj_k <- function(p) {
  if (p[1] * p[3] - p[2]^2 <= 1e-10) return(1e10)
  M <- build_k(p)
  proc_m2ll(yk, Xk, lapply(rowsk, function(i) list(rows = i, V = M[posk[i], posk[i], drop = FALSE])))
}
low_k <- c(1e-6, -Inf, 1e-6, -0.9999); up_k <- c(Inf, Inf, Inf, 0.9999)
opt <- nlminb(c(1, 0, 1, 0), obj_k, lower = low_k, upper = up_k,
              control = list(rel.tol = 1e-15, x.tol = 1e-12, eval.max = 20000, iter.max = 10000))
opt <- optim(opt$par, obj_k, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
opt <- nlminb(opt$par, obj_k, lower = low_k, upper = up_k,
              control = list(rel.tol = 1e-10, eval.max = 20000, iter.max = 10000))
M <- build_k(opt$par)
vb <- lapply(rowsk, function(i) M[posk[i], posk[i], drop = FALSE])
xvx <- Reduce(`+`, Map(function(i, V) crossprod(Xk[i, ], solve(V, Xk[i, ])), rowsk, vb))
xvy <- Reduce(`+`, Map(function(i, V) crossprod(Xk[i, ], solve(V, yk[i])), rowsk, vb))
cov_b <- solve(xvx); beta <- as.numeric(cov_b %*% xvy)
pn <- c("var UN(1,1)", "var UN(2,1)", "var UN(2,2)", "time AR(1)")
case <- list(
  name = "kronecker_un_ar1_reml", data = "kronecker.csv", data_dir = "extra", engine = "R nlminb",
  r_call = "nlminb/optim on the REML -2LL of UN@AR(1) (see make_extra.R)",
  model = list(fixed = "y ~ C(var) + time",
               repeated = list(subject = "subj", type = "UN@AR(1)", index = c("var", "time"))),
  note = "UN@AR(1): V_i = (U %x% C)[pos, pos], C_st = rho^|s-t|, pos = (var - 1) * 4 + time",
  method = "REML", minus2ll = opt$objective, n_obs = length(yk), n_fixed = ncol(Xk),
  fixed = lapply(seq_along(beta), function(k) list(effect = colnames(Xk)[k],
                                                   estimate = beta[k], se = sqrt(cov_b[k, k]))),
  first_block = list(subject = levk[1], V = unname(vb[[1]])),
  proc_covparms = lapply(seq_along(pn), function(k) list(CovParm = pn[k], Group = "", Estimate = opt$par[k])))
write_json(case, file.path(here, "kronecker_un_ar1_reml.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat(sprintf("%-34s -2LL %.6f (nlminb: %s)\n", "kronecker_un_ar1_reml", opt$objective, opt$message))
