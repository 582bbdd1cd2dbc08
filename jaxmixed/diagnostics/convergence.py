"""Non-convergence as a result: the reason in plain words and what to try;
steps rejected because −2ℓ was not finite (V not positive definite); the
PARMS/NOBOUND situations worth a note."""

from __future__ import annotations

import numpy as np

from . import Diagnostic


def _reasons(ctx):
    """Plain-language causes, most likely first."""
    cp = ctx.result.covparms
    reasons = []
    layout = ctx.layout
    theta = ctx.est.theta / ctx.est.scaling.factor  # compared on the scaled data
    var = layout.variance_mask()
    ref = max(float(np.max(np.abs(theta[var]), initial=0.0)), 1e-300)
    small = [ctx.labels[r] for r, i in enumerate(ctx.order) if var[i] and abs(theta[i]) < 1e-6 * ref]
    if small or cp["Bound"].any():
        names = small or [ctx.labels[r] for r in np.flatnonzero(cp["Bound"].to_numpy())]
        reasons.append(f"a variance component is heading to zero ({', '.join(names)}): the optimum is on the "
                       "boundary, where progress is slow")
    h = np.asarray(ctx.est.hessian)
    if h.size and np.all(np.isfinite(h)):
        vals = np.linalg.eigvalsh(0.5 * (h + h.T))
        if vals.min() <= 1e-10 * max(np.max(np.abs(vals)), 1e-300):
            reasons.append("the likelihood is flat (or has a saddle) in some direction: the data cannot pin "
                           "down every covariance parameter")
    s = ctx.est.scaling
    spread = max(s.s_x.max() / s.s_x.min(), 1.0) if len(s.s_x) else 1.0
    if spread > 1e6:
        reasons.append("the predictors are on very different scales")
    n_sub = max(ctx.result.n_subjects, 1)
    per_subject = ctx.result.n_used / n_sub
    g_params = sum(k.structure.n_params for k in layout.g_kinds)
    if g_params and per_subject <= max(k.structure.dim for k in layout.g_kinds):
        reasons.append(f"too few observations per subject ({per_subject:.3g} on average) for "
                       f"{max(k.structure.dim for k in layout.g_kinds)} random effects per subject")
    return reasons


def check(ctx):
    out = []
    opt = ctx.est.opt
    res = ctx.result
    nonfinite = int(opt.n_nonfinite)
    if not res.converged:
        reasons = _reasons(ctx)
        why = ("; ".join(reasons) + ".") if reasons else "no specific cause was found."
        tips = ["start from the last iterate with parms=fit (it is kept on the result)",
                f"raise maxiter (now {ctx.opts.maxiter}) or maxfunc (now {ctx.opts.maxfunc})"]
        if any("zero" in r for r in reasons):
            tips.insert(0, "drop the random effect whose variance goes to zero")
        if any("flat" in r for r in reasons):
            tips.insert(0, "simplify the covariance structure (fewer parameters, e.g. type='VC')")
        out.append(Diagnostic(
            "not-converged", "error",
            f"{res.status} The estimates shown are the last iterate, after {res.iterations} iterations. "
            f"Likely cause: {why}", (), "; ".join(tips) + ".", {"reasons": reasons}))
    if nonfinite:
        harmless = res.converged
        out.append(Diagnostic(
            "nonfinite-likelihood", "info" if harmless else "warning",
            f"At {nonfinite} trial point(s) -2 log-likelihood was not finite (V not positive definite); "
            "those steps were rejected and shorter ones taken. "
            + ("This is harmless: the fit converged to a point where V is positive definite." if harmless else
               "The fit did not converge, and the rejected steps may be why: the optimum may lie where V is "
               "not positive definite."),
            (), "" if harmless else "Try other starting values (parms=), or keep the default bounds (no nobound).",
            {"rejected_steps": nonfinite}))
    if ctx.opts.nobound:
        var = np.concatenate([getattr(s, "base", s).variance_mask() for s in ctx.layout.structures])
        neg = [ctx.labels[r] for r, i in enumerate(ctx.order) if var[i] and ctx.est.theta[i] < 0]
        if neg:
            out.append(Diagnostic(
                "negative-variance", "info",
                f"With nobound=True the variance(s) {', '.join(neg)} are estimated as negative. A negative "
                "variance component means the observations in a group are less alike than random ones "
                "(a negative within-group correlation); the model is then a marginal model only.", tuple(neg)))
    return out
