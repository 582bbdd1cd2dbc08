"""Findings about the data and the design: aliased fixed effects, subjects
with a single observation, random slopes for a variable that does not vary
within subjects, and predictors or covariance parameters on very different
scales (with what the internal scaling did)."""

from __future__ import annotations

import numpy as np

from . import Diagnostic


def _aliased(ctx):
    d = ctx.design
    if not d.aliased.any():
        return []
    names = tuple(np.array(d.fixed_names)[d.aliased])
    return [Diagnostic("aliased-fixed-effects", "info",
                       "These fixed-effect columns are linear combinations of earlier ones and are set to 0 "
                       f"with DF '.' (as PROC MIXED does): {', '.join(names)}.", names,
                       "Nothing to do unless you expected them to be estimable; then check the design "
                       "(empty cells, a covariate that is constant within a classification).")]


def _subjects(ctx):
    out = []
    for rd in ctx.design.randoms:
        subject = rd.statement.subject
        if not subject:
            continue
        counts = np.bincount(rd.subject, minlength=len(rd.subject_levels))
        counts = counts[counts > 0]
        single = int((counts == 1).sum())
        if single:
            allone = single == len(counts)
            out.append(Diagnostic(
                "single-observation-subjects", "warning" if allone else "info",
                (f"Every {subject} level has a single observation: its random effect cannot be told apart "
                 "from the residual error, so the split between the two variances is arbitrary."
                 if allone else
                 f"{single} of {len(counts)} {subject} levels have a single observation; they inform the "
                 "total variance but not the split between the random effect and the residual."),
                (subject,),
                "Drop the random effect (it is the residual)." if allone else ""))
        for e, name in enumerate(rd.names):
            if name == "(Intercept)":
                continue
            z = rd.z[:, e]
            varies = False
            for s in np.unique(rd.subject):
                zs = z[rd.subject == s]
                if zs.size > 1 and np.ptp(zs) > 1e-12 * max(np.max(np.abs(z)), 1e-300):
                    varies = True
                    break
            if not varies:
                out.append(Diagnostic(
                    "slope-constant-within-subject", "warning",
                    f"The random slope for {name} varies only between {subject} levels, never within one: "
                    "its variance cannot be separated from that of the random intercept.",
                    (name, subject), f"Drop {name} from the RANDOM statement for subject={subject}."))
    return out


def _scales(ctx):
    s = ctx.est.scaling
    out = []
    xs = s.s_x[s.s_x > 0]
    spread = float(xs.max() / xs.min()) if xs.size else 1.0
    cp = ctx.result.covparms
    var = ctx.layout.variance_mask()[ctx.order] & ~cp["Bound"].to_numpy()
    theta = np.abs(cp["Estimate"].to_numpy()[var])
    theta = theta[theta > 0]
    tspread = float(theta.max() / theta.min()) if theta.size else 1.0
    if spread >= 1e3 or not 1e-3 <= s.s_y <= 1e3 or tspread >= 1e8:
        parts = []
        if spread >= 1e3:
            parts.append(f"the fixed-effect columns differ in scale by a factor of about {spread:.3g}")
        if not 1e-3 <= s.s_y <= 1e3:
            parts.append(f"the response has a scale of about {s.s_y:.3g}")
        if tspread >= 1e8:
            parts.append(f"the variance estimates differ by a factor of {tspread:.3g}")
        scaled = s.describe() if ctx.opts.scale else "nothing (scale=False)"
        out.append(Diagnostic(
            "different-scales", "info",
            "The data are on very different scales: " + "; ".join(parts) + ". The optimisation ran on rescaled "
            f"data ({scaled}), and every result was mapped back exactly to the original units.", (),
            "Nothing needs to be done; rescaling the variables yourself would make the estimates easier to read.",
            {"s_y": s.s_y, "s_x": s.s_x.tolist()}))
    return out


def check(ctx):
    return _aliased(ctx) + _subjects(ctx) + _scales(ctx)
