# Likelihood-based 95% intervals of the standard deviations of two lme4 fits
# (confint(method = "profile"); lme4 interpolates the profile with splines),
# for the profile plot's interval.  Rscript tests/reference/extra/make_profile_ci.R
suppressPackageStartupMessages(library(lme4))
d <- read.csv("tests/reference/data/dyestuff.csv"); d$Batch <- factor(d$Batch)
f <- lmer(Yield ~ 1 + (1 | Batch), data = d, REML = FALSE)  # lme4 profiles the ML deviance
ci <- confint(f, parm = 1:2, method = "profile", oldNames = FALSE)
out <- data.frame(case = "dyestuff_ml", parm = rownames(ci), lower = ci[, 1], upper = ci[, 2])
write.csv(out, "tests/reference/extra/profile_ci.csv", row.names = FALSE)
print(out, digits = 10)
