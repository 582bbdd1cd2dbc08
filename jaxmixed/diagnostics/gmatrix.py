"""A G block that is not positive definite at the estimates: a correlation at
±1 or a rank-deficient UN block.  Names the effects, a simpler structure, and
the population-averaged alternative (a REPEATED-only model, which needs no
positive definite G)."""

from __future__ import annotations

import numpy as np

from . import Diagnostic

#: relative eigenvalue below which G counts as singular
_TOL = 1e-6


def _g_block(ctx, i):
    kind = ctx.layout.g_kinds[i]
    theta = ctx.theta[ctx.layout.slices()[i]]
    return np.asarray(kind.structure.matrix(np.asarray(theta))), kind


def _population_averaged(ctx, subject, labels):
    frame = ctx.design.frame
    index = ""
    for lab in labels:
        if frame is not None and lab in getattr(frame, "columns", ()) and frame[lab].nunique() <= 12:
            index = lab
            break
    fixed = ctx.design.fixed_formula
    cs = f"jm.mixed({fixed!r}, data, repeated=jm.Repeated(subject={subject!r}, type='CS'))"
    if index:
        un = f"jm.Repeated(subject={subject!r}, type='UN', index={index!r})"
        return f"{cs}, or repeated={un}"
    return cs


def check(ctx):
    out = []
    for i, kind in enumerate(ctx.layout.g_kinds):
        if kind.structure.dim < 2:
            continue
        g, kind = _g_block(ctx, i)
        vals = np.linalg.eigvalsh(0.5 * (g + g.T))
        top = max(float(np.max(np.abs(vals))), 1e-300)
        if vals.min() > _TOL * top:
            continue
        labels = list(kind.structure.labels) or [f"effect {j + 1}" for j in range(kind.structure.dim)]
        sd = np.sqrt(np.clip(np.diag(g), 0, None))
        pairs = []
        for a in range(len(sd)):
            for b in range(a):
                if sd[a] > 0 and sd[b] > 0:
                    r = g[a, b] / (sd[a] * sd[b])
                    if abs(r) > 1 - 1e-4:
                        pairs.append(f"{labels[b]} and {labels[a]} (correlation {r:+.4f})")
        zero = [labels[j] for j in range(len(sd)) if sd[j] <= np.sqrt(_TOL * top)]
        what = []
        if pairs:
            what.append("perfectly correlated random effects: " + "; ".join(pairs))
        if zero:
            what.append("zero variance for " + ", ".join(zero))
        if not what:
            what.append(f"rank {int((vals > _TOL * top).sum())} of {len(vals)}")
        subject = kind.subject
        simpler = {"UN": "type='VC' (no covariances) or drop one of the effects",
                   "CS": "type='VC'"}.get(kind.structure.name, "type='VC' or fewer effects")
        suggestion = f"A simpler G: {simpler}."
        if subject:
            suggestion += " Or the population-averaged model, with no G at all: " + _population_averaged(
                ctx, subject, labels)
        out.append(Diagnostic(
            "g-not-positive-definite", "warning",
            f"The estimated G for {', '.join(labels)}" + (f" (subject={subject})" if subject else "")
            + f" is not positive definite: {'; '.join(what)}. The data do not support this many random-effect "
            "parameters; the estimates lie on the boundary of the parameter space.",
            tuple(labels), suggestion, {"eigenvalues": vals.tolist()}))
    return out
