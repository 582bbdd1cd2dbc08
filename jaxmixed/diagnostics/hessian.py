"""A Hessian of −2ℓ (in the natural covariance parameters not on a bound and
not held) that is not positive definite at the end: its eigenvectors with
small or negative eigenvalues, named by parameter (flat or saddle
directions), and the parameters left without a standard error and why."""

from __future__ import annotations

import numpy as np

from . import Diagnostic

_TOL = 1e-10


def _direction(vec, names):
    idx = np.argsort(-np.abs(vec))
    terms = [f"{vec[j]:+.2f}·{names[j]}" for j in idx if abs(vec[j]) >= 0.2][:4]
    return " ".join(terms) if terms else names[int(idx[0])]


def check(ctx):
    out = []
    cp = ctx.result.covparms
    bound = cp["Bound"].to_numpy()
    held = ctx.est.held[ctx.order]
    free = ~bound & ~held
    names = list(ctx.labels)
    h = np.asarray(ctx.est.hessian)[np.ix_(ctx.order, ctx.order)][np.ix_(free, free)]
    flat = []
    if free.any() and np.all(np.isfinite(h)):
        vals, vecs = np.linalg.eigh(0.5 * (h + h.T))
        top = max(float(np.max(np.abs(vals))), 1e-300)
        fnames = [n for n, f in zip(names, free) if f]
        for v, vec in zip(vals, vecs.T):
            if v <= _TOL * top:
                kind = "saddle" if v < -_TOL * top else "flat"
                flat.append(f"a {kind} direction (eigenvalue {v:.3g}) along {_direction(vec, fnames)}")
        if flat:
            out.append(Diagnostic(
                "hessian-not-pd", "warning",
                "The Hessian of -2 log-likelihood in the covariance parameters is not positive definite at the "
                "estimates: " + "; ".join(flat) + ". Along such a direction the data do not determine the "
                "parameters, so their standard errors are not reported.",
                tuple(fnames), "Remove one of the parameters named in the direction (a simpler structure), or "
                "fix one with parms= and hold=.", {"eigenvalues": vals.tolist()}))
    elif free.any():
        out.append(Diagnostic("hessian-not-finite", "warning",
                              "The Hessian of -2 log-likelihood is not finite at the estimates; no standard "
                              "errors for the covariance parameters.", tuple(names)))
    missing = [i for i in range(len(names)) if not np.isfinite(cp.StdErr.iloc[i])]
    if missing:
        why = []
        for i in missing:
            reason = ("on its bound" if bound[i] else "held fixed (hold=/noiter)" if held[i]
                      else "Hessian not positive definite" if flat else "not estimable")
            why.append(f"{names[i]}: {reason}")
        out.append(Diagnostic("no-standard-error", "info",
                              "No standard error for " + "; ".join(why) + ".", tuple(names[i] for i in missing)))
    return out
