"""Type III tests of fixed effects ("Type 3 Tests of Fixed Effects").

The hypotheses are built as lmerTest does (``get_contrasts_type3``), which
gives SAS's Type III hypotheses whatever coding X uses:

1. X̃ is the over-parameterized design: for each term every cell of its
   classification factors (times its continuous factors), plus the intercept.
2. A = X⁺X̃ expresses each estimated coefficient as a function of the
   over-parameterized ones, one row per column of X.
3. Terms are visited from the highest order down; the rows of a term that is
   contained in other terms (:func:`.terms.contains`) are replaced by their
   residuals after projection on the rows of the terms that contain it.  This
   makes each hypothesis orthogonal to the effects that contain it: the
   "marginal" hypothesis averaged with equal weights.
4. A row ã of A is a function of the over-parameterized coefficients in the
   row space of X̃, so ã'γ = ã'Eβ for any E with X̃E = X; the term's L is
   its rows of A times E = X̃⁺X, with null rows dropped.

For a full factorial with every cell filled this is the test of the term's
columns under sum-to-zero coding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .terms import contains, overparameterized


def type3_contrasts(ctx) -> dict[str, np.ndarray]:
    """Term label -> L on the estimated (non-aliased) columns."""
    design = ctx.design
    terms = ctx.fixed_terms
    kept = ctx.kept
    pos = np.cumsum(kept) - 1
    x = np.asarray(design.x, float)
    if x.shape[1] == 0:
        return {}
    rdx, _ = overparameterized(design)
    a = np.linalg.pinv(x) @ rdx  # (p, m)
    rows_of = {i: [int(pos[c]) for c in t.columns if kept[c]] for i, t in enumerate(terms)}
    order = sorted(range(len(terms)), key=lambda i: -terms[i].order)
    for i in order:
        if not rows_of[i] or terms[i].is_intercept:
            continue
        bigger = [j for j in range(len(terms)) if j != i and contains(terms[j], terms[i])]
        others = [r for j in bigger for r in rows_of[j]]
        if not others:
            continue
        basis = a[others].T  # (m, k)
        coef, *_ = np.linalg.lstsq(basis, a[rows_of[i]].T, rcond=None)
        a[rows_of[i]] = (a[rows_of[i]].T - basis @ coef).T
    e = np.linalg.pinv(rdx) @ x  # (m, p), X̃E = X
    out = {}
    for i, t in enumerate(terms):
        if t.is_intercept or not rows_of[i]:
            continue
        l = a[rows_of[i]] @ e
        scale = max(np.abs(l).max(initial=0.0), 1e-300)
        l = np.where(np.abs(l) < 1e-10 * scale, 0.0, l)
        l = l[np.abs(l).sum(axis=1) > 1e-8 * scale]
        out[t.label] = l
    return out


def type3_table(ctx, ddfm: str) -> pd.DataFrame:
    from .ddf import term_df, test_rows

    contrasts = ctx.type3_contrasts
    dfs = term_df(ctx, ddfm)
    rows = []
    for i, t in enumerate(ctx.fixed_terms):
        if t.label not in contrasts:
            continue
        l = contrasts[t.label]
        l_full = np.zeros((l.shape[0], len(ctx.kept)))
        l_full[:, ctx.kept] = l
        den = None if ddfm in ("satterthwaite", "kr") else float(dfs[i])
        f, q, df = test_rows(ctx, l, l_full, ddfm, den_df=den)
        p = float(stats.f.sf(f, q, df)) if q and np.isfinite(f) and np.isfinite(df) and df > 0 else np.nan
        rows.append({"Effect": t.label, "NumDF": int(q), "DenDF": float(df), "FValue": float(f), "ProbF": p})
    return pd.DataFrame(rows, columns=["Effect", "NumDF", "DenDF", "FValue", "ProbF"])
