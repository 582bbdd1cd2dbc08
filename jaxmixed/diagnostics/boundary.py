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


def _reduced_statement(ctx, k, rows, on):
    """RANDOM statement k without the effects whose variance is on the bound,
    or None when that cannot be written as a formula (a factor's columns, the
    intercept, or a structure other than UN/VC)."""
    import dataclasses

    rd = ctx.design.randoms[k]
    kinds = [g for g in ctx.layout.g_kinds if g.statement == k]
    if len(kinds) != 1 or kinds[0].structure.name not in ("UN", "VC"):
        return None
    names = list(rd.names)
    cp = ctx.result.covparms
    zero = set()
    for r in on:
        label = str(cp.CovParm.iloc[r])
        if label.startswith("UN("):
            zero.add(int(label[3:].split(",")[0]) - 1)
        elif label in kinds[0].structure.param_names():
            zero.add(list(kinds[0].structure.param_names()).index(label))
    keep = [n for e, n in enumerate(names) if e not in zero]
    frame = ctx.design.frame
    if not keep or "(Intercept)" not in keep or "(Intercept)" in [names[e] for e in zero]:
        return None
    terms = ["1"] + [n for n in keep if n != "(Intercept)"]
    if any(n != "1" and (frame is None or n not in frame.columns) for n in terms):
        return None
    return dataclasses.replace(rd.statement, effects=" + ".join(terms))


def _compare(ctx, random):
    """(message, details) of the LRT against the fit with ``random``."""
    from ..inference.lrt import lrt

    reduced = refit_quietly(ctx, random)
    test = lrt(reduced, ctx.result)
    details = {"lrt_chisq": test.chisq, "lrt_df": test.df, "lrt_p": test.p_value,
               "lrt_mixture": test.mixture, "minus2ll_without": reduced.minus2ll}
    if test.mixture:
        mix = "0.5·χ²₀ + 0.5·χ²₁" if test.df == 1 else f"0.5·χ²{test.df - 1} + 0.5·χ²{test.df}"
    else:
        mix = f"χ²{test.df}"
    text = (f" Without it, -2 log-likelihood is {reduced.minus2ll:.4f} (with it {ctx.result.minus2ll:.4f}): "
            f"likelihood ratio {test.chisq:.4g} on {test.df} df, p = {test.p_value:.4g} ({mix}).")
    return text, details


def check(ctx):
    cp = ctx.result.covparms
    out = []
    var_cp = ctx.layout.variance_mask()[ctx.order]
    bound_rows = set(np.flatnonzero(cp["Bound"].to_numpy() & var_cp))
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
        whole = all(r in set(np.flatnonzero(cp["Bound"].to_numpy())) for r in rows)
        if len(on) == 1:
            what = f"The variance {names[0]} is estimated as 0, on its lower bound"
        else:
            what = f"The variances {', '.join(names)} are estimated as 0, on their lower bound"
        message = (f"{what}: the data show no variation {between} beyond the residual variation"
                   + ("" if whole else " and the other random effects") + ". No standard error is reported for it.")
        details = {}
        suggestion = f"Drop the random effect {effect!r}" if whole else "Drop the effect(s) with zero variance"
        if subject:
            suggestion += f" (subject={subject})"
        if not IN_REFIT.get():
            others = [r.statement for j, r in enumerate(ctx.design.randoms) if j != k]
            reduced = None if whole else _reduced_statement(ctx, k, rows, on)
            if reduced is not None:
                others.insert(k, reduced)
                suggestion += f": random={reduced!r}"
            if whole or reduced is not None:
                try:
                    text, details = _compare(ctx, others)
                    message += text
                    if whole and resid is not None and rd.names == ("(Intercept)",):
                        message += " Intraclass correlation: 0."
                        details["icc"] = 0.0
                except JaxMixedError as err:
                    message += f" (The comparison fit without it failed: {err})"
        suggestion += " and compare the two fits with jm.lrt"
        suggestion += ("; with the variance at 0 the simpler model gives the same fixed-effect estimates." if whole
                       else "; or use a structure with fewer parameters (type='VC').")
        out.append(Diagnostic("variance-on-boundary", "warning", message, names, suggestion, details))
    return out
