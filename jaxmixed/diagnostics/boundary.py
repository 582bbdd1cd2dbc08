"""Variances estimated on their bound 0, with the comparison against the model
without the effect: the likelihood-ratio statistic and its p-value from the
50:50 mixture of χ²₀ and χ²₁ (Self and Liang 1987), as one variance is tested
on its boundary.  Also the intraclass correlation of a random intercept."""

from __future__ import annotations

import numpy as np

from ..errors import JaxMixedError
from . import Diagnostic
from .run import IN_REFIT, refit_quietly


def _who(row) -> str:
    return f"{row.CovParm} ({row.Subject})" if row.Subject else str(row.CovParm)


def _statement_rows(ctx, k):
    """covparms rows that belong to RANDOM statement k."""
    kinds = [i for i, g in enumerate(ctx.layout.g_kinds) if g.statement == k]
    sl = ctx.layout.slices()
    internal = set()
    for i in kinds:
        internal.update(range(sl[i].start, sl[i].stop))
    return [row for row, i in enumerate(ctx.order) if i in internal]


def _residual(cp):
    hit = cp[cp.CovParm == "Residual"]
    return float(hit.Estimate.iloc[0]) if len(hit) else None


def check(ctx):
    cp = ctx.result.covparms
    out = []
    bound_rows = set(np.flatnonzero(cp["Bound"].to_numpy()))
    resid = _residual(cp)
    for k, rd in enumerate(ctx.design.randoms):
        rows = _statement_rows(ctx, k)
        on = [r for r in rows if r in bound_rows]
        subject = rd.statement.subject
        effect = rd.statement.effects
        between = f"between {subject} levels" if subject else f"for {effect}"
        if not on:
            if len(rows) == 1 and resid is not None and rd.names == ("(Intercept)",):
                var = float(cp.Estimate.iloc[rows[0]])
                icc = var / (var + resid) if var + resid > 0 else np.nan
                out.append(Diagnostic(
                    "intraclass-correlation", "info",
                    f"Intraclass correlation {between}: {icc:.4g} (the share of the variance that is {between}).",
                    (_who(cp.iloc[rows[0]]),), details={"icc": icc}))
            continue
        names = tuple(_who(cp.iloc[r]) for r in on)
        whole = len(on) == len(rows)
        if whole and len(rows) == 1:
            what = f"The variance {names[0]} is estimated as 0, on its lower bound"
        else:
            what = f"The variance(s) {', '.join(names)} are estimated as 0, on the lower bound"
        message = (f"{what}: the data show no variation {between} beyond the residual variation. "
                   "Its standard error is not reported.")
        details = {}
        suggestion = f"Drop the random effect {effect!r}"
        if subject:
            suggestion += f" (subject={subject})"
        if whole and not IN_REFIT.get():
            others = [r.statement for j, r in enumerate(ctx.design.randoms) if j != k]
            try:
                from ..inference.lrt import lrt

                reduced = refit_quietly(ctx, others)
                test = lrt(reduced, ctx.result)
                details = {"lrt_chisq": test.chisq, "lrt_df": test.df, "lrt_p": test.p_value,
                           "lrt_mixture": test.mixture, "minus2ll_without": reduced.minus2ll}
                mix = "0.5·χ²₀ + 0.5·χ²₁" if test.mixture and test.df == 1 else (
                    "50:50 χ² mixture" if test.mixture else "χ²")
                message += (f" Without it, -2 log-likelihood is {reduced.minus2ll:.4f} (with it "
                            f"{ctx.result.minus2ll:.4f}): likelihood ratio {test.chisq:.4g} on {test.df} df, "
                            f"p = {test.p_value:.4g} ({mix}).")
                if resid is not None and rd.names == ("(Intercept)",):
                    message += " Intraclass correlation: 0."
                    details["icc"] = 0.0
            except JaxMixedError as err:
                message += f" (The comparison fit without it failed: {err})"
        suggestion += " and compare the two fits with jm.lrt"
        suggestion += ("; with the variance at 0 the simpler model gives the same fixed-effect estimates." if whole
                       else "; or use a structure with fewer parameters (type='VC').")
        out.append(Diagnostic("variance-on-boundary", "warning", message, names, suggestion, details))
    return out
