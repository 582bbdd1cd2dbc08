# lme4's printed summary of the sleepstudy fit, kept as text so the lme4-style
# print of jaxmixed can be checked against it number by number.
# Run from the repository root: Rscript tests/reference/extra/make_lme4_print.R
suppressPackageStartupMessages(library(lme4))
ss <- read.csv("tests/reference/data/sleepstudy.csv")
ss$Subject <- factor(ss$Subject)
fit <- lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = TRUE)
out <- capture.output(print(summary(fit)))
writeLines(c(out, "", "# quantile(resid(fit, scaled = TRUE)) to 8 digits:",
             paste(format(quantile(resid(fit, scaled = TRUE)), digits = 8), collapse = " ")),
           "tests/reference/extra/sleepstudy_lme4_summary.txt")
