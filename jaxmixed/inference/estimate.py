"""ESTIMATE, CONTRAST and LSMEANS.

A coefficient vector L is given over all fixed-effect columns (aliased ones
included), as a sequence, a matrix (one row per estimate), a dict or a
pandas Series keyed by the names of ``fit.fixed``.  Lβ must be estimable:
L in the row space of X.  With aliased columns X = [X₁, X₁B], so L = (l₁, l₂)
is estimable exactly when l₂ = B'l₁, and then Lβ̂ = l₁'β̂₁ (the aliased
coefficients are 0, as in PROC MIXED).

LS-means follow PROC MIXED (and emmeans): the model matrix is evaluated on
the grid of every combination of the levels of the classification variables
with each continuous variable at its mean; the LS-mean of a level of an
effect is the average of the grid rows at that level.

Degrees of freedom: Satterthwaite and Kenward–Roger compute them for each L;
the term-based methods take the df of the effect (LS-means) or, for a general
L, of the last effect in model order with a nonzero coefficient (PROC MIXED's
"final effect listed" rule for ESTIMATE and CONTRAST).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SpecificationError
from .ddf import estimate_row, term_df, test_rows

#: |l₂ − B'l₁| beyond this (relative to |L|) makes L non-estimable
ESTIMABLE_TOL = 1e-6


def alias_map(ctx) -> np.ndarray:
    """B with X_aliased = X_kept B (kept × aliased)."""
    design = ctx.design
    aliased = ~ctx.kept
    if not aliased.any():
        return np.zeros((int(ctx.kept.sum()), 0))
    full = np.asarray(design.model_spec.get_model_matrix(design.frame), float)
    b, *_ = np.linalg.lstsq(full[:, ctx.kept], full[:, aliased], rcond=None)
    return b


def as_matrix(ctx, L, what: str = "L") -> tuple[np.ndarray, np.ndarray]:
    """(L on all columns, L on the estimated columns), both 2-D."""
    names = list(ctx.design.fixed_names)
    p_all = len(names)
    if isinstance(L, pd.Series):
        L = L.to_dict()
    if isinstance(L, dict):
        row = np.zeros(p_all)
        for k, v in L.items():
            if k not in names:
                raise SpecificationError(f"{what}: {k!r} is not a fixed-effect column; columns are: {', '.join(names)}")
            row[names.index(k)] = float(v)
        full = row[None, :]
    else:
        full = np.atleast_2d(np.asarray(L, float))
        if full.shape[1] != p_all:
            raise SpecificationError(
                f"{what} has {full.shape[1]} coefficients but the model has {p_all} fixed-effect columns "
                f"({', '.join(names)})"
            )
    if not np.all(np.isfinite(full)):
        raise SpecificationError(f"{what} has a missing or infinite coefficient")
    return full, full[:, ctx.kept]


def estimable(ctx, full: np.ndarray) -> np.ndarray:
    """Per row of ``full``: whether it is estimable."""
    b = ctx.alias_map
    aliased = ~ctx.kept
    if not aliased.any():
        return np.ones(full.shape[0], bool)
    gap = full[:, aliased] - full[:, ctx.kept] @ b
    scale = np.maximum(np.abs(full).max(axis=1), 1e-300)
    return np.abs(gap).max(axis=1) <= ESTIMABLE_TOL * scale


def _labels(label, k):
    if label is None:
        return [f"Row {i + 1}" for i in range(k)] if k > 1 else ["Estimate"]
    if isinstance(label, str):
        return [label] if k == 1 else [f"{label} {i + 1}" for i in range(k)]
    label = list(label)
    if len(label) != k:
        raise SpecificationError(f"label= has {len(label)} entries for {k} rows of L")
    return [str(x) for x in label]


def _t_rows(ctx, full, kept_l, ddfm, alpha, den_df=None):
    ok = estimable(ctx, full)
    rows = []
    for i in range(full.shape[0]):
        if not ok[i]:
            rows.append((np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan))
            continue
        est, se, df = estimate_row(ctx, kept_l[i], full[i], ddfm, den_df=den_df)
        t = est / se if se > 0 else np.nan
        p = float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) and np.isfinite(df) and df > 0 else np.nan
        q = stats.t.ppf(1 - alpha / 2, df) if np.isfinite(df) and df > 0 else np.nan
        rows.append((est, se, df, t, p, est - q * se, est + q * se))
    return np.array(rows, float).reshape(-1, 7)


def estimate(ctx, L, label=None, ddfm: str = "residual", alpha: float = 0.05) -> pd.DataFrame:
    full, kept_l = as_matrix(ctx, L)
    vals = _t_rows(ctx, full, kept_l, ddfm, alpha)
    out = pd.DataFrame(vals, columns=["Estimate", "StdErr", "DF", "tValue", "Probt", "Lower", "Upper"])
    out.insert(0, "Label", _labels(label, full.shape[0]))
    out.insert(6, "Alpha", alpha)
    return out


def contrast(ctx, L, label=None, ddfm: str = "residual") -> pd.DataFrame:
    full, kept_l = as_matrix(ctx, L)
    if not estimable(ctx, full).all():
        f, q, df, p = np.nan, 0, np.nan, np.nan
    else:
        f, q, df = test_rows(ctx, kept_l, full, ddfm)
        p = float(stats.f.sf(f, q, df)) if q and np.isfinite(f) and np.isfinite(df) and df > 0 else np.nan
    lab = label if isinstance(label, str) else "Contrast"
    return pd.DataFrame([{"Label": lab, "NumDF": int(q), "DenDF": float(df), "FValue": float(f), "ProbF": p}])


# --------------------------------------------------------------------------- LS-means


@dataclass(frozen=True)
class LSMeans:
    """``means``: Least Squares Means; ``diffs``: Differences of Least Squares Means."""

    means: pd.DataFrame
    diffs: pd.DataFrame


def _find_term(ctx, effect: str):
    want = effect.replace("*", ":").replace(" ", "")
    for i, t in enumerate(ctx.fixed_terms):
        if t.label.replace(" ", "") == want or ":".join(t.factors).replace(" ", "") == want:
            return i, t
        if set(t.label.split(":")) == set(want.split(":")) and len(t.label.split(":")) == len(want.split(":")):
            return i, t
    labels = [t.label for t in ctx.fixed_terms if not t.is_intercept]
    raise SpecificationError(f"lsmeans: {effect!r} is not an effect of the model; effects are: {', '.join(labels)}")


def reference_grid(ctx) -> tuple[pd.DataFrame, np.ndarray]:
    """The grid of classification levels (continuous variables at their means)
    and its model matrix over all fixed columns."""
    design = ctx.design
    frame = design.frame
    class_vars, cont_vars = [], []
    for t in ctx.fixed_terms:
        for v in sorted(t.class_vars):
            if v not in class_vars:
                class_vars.append(v)
        for v in sorted(t.cont_vars):
            if v not in cont_vars:
                cont_vars.append(v)
    levels = {v: sorted(pd.unique(frame[v]), key=_sort_key) for v in class_vars}
    combos = list(product(*[levels[v] for v in class_vars])) if class_vars else [()]
    grid = pd.DataFrame(combos, columns=class_vars)
    for v in cont_vars:
        if v not in grid.columns:
            grid[v] = float(frame[v].mean())
    for c in frame.columns:  # anything else the spec may look up (never used by the RHS)
        if c not in grid.columns:
            grid[c] = frame[c].iloc[0]
    for v in class_vars:
        grid[v] = grid[v].astype(frame[v].dtype)
    xg = np.asarray(design.model_spec.get_model_matrix(grid), float)
    return grid[class_vars], xg


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, (int, float, np.integer, np.floating)) else (1, 0.0, str(v))


def lsmeans(ctx, effect: str, diff: bool = False, adjust: str | None = None, ddfm: str = "residual",
            alpha: float = 0.05):
    i, term = _find_term(ctx, effect)
    if not term.class_vars or term.cont_vars:
        raise SpecificationError(f"lsmeans: {effect!r} must be made of classification variables only")
    grid, xg = reference_grid(ctx)
    keys = [v for v in grid.columns if v in term.class_vars]
    groups = grid.groupby(keys, sort=False).indices
    level_rows = []
    lmat = []
    for lev, idx in groups.items():
        lev = lev if isinstance(lev, tuple) else (lev,)
        level_rows.append(dict(zip(keys, lev)))
        lmat.append(xg[idx].mean(axis=0))
    full = np.array(lmat)
    kept_l = full[:, ctx.kept]
    den = None if ddfm in ("satterthwaite", "kr") else float(term_df(ctx, ddfm)[i])
    vals = _t_rows(ctx, full, kept_l, ddfm, alpha, den_df=den)
    means = pd.DataFrame(level_rows)
    means.insert(0, "Effect", term.label)
    stats_cols = pd.DataFrame(vals[:, :5], columns=["Estimate", "StdErr", "DF", "tValue", "Probt"])
    means = pd.concat([means, stats_cols], axis=1)
    if not diff:
        return means
    adjust = None if adjust is None else str(adjust).lower()
    if adjust not in (None, "none", "tukey", "bonferroni"):
        raise SpecificationError(f"adjust={adjust!r}: use None, 'tukey' or 'bonferroni'")
    k = len(level_rows)
    pairs = list(combinations(range(k), 2))
    drow = []
    dmat = np.array([full[a] - full[b] for a, b in pairs]).reshape(len(pairs), -1)
    dvals = _t_rows(ctx, dmat, dmat[:, ctx.kept], ddfm, alpha, den_df=den)
    for (a, b), v in zip(pairs, dvals):
        row = {"Effect": term.label}
        for key in keys:
            row[key] = level_rows[a][key]
        for key in keys:
            row["_" + key] = level_rows[b][key]
        est, se, df, t, p = v[:5]
        row.update({"Estimate": est, "StdErr": se, "DF": df, "tValue": t, "Probt": p})
        if adjust in ("tukey", "bonferroni"):
            row["Adjustment"] = adjust.capitalize()
            if not np.isfinite(t):
                row["AdjP"] = np.nan
            elif adjust == "tukey":
                row["AdjP"] = float(stats.studentized_range.sf(abs(t) * np.sqrt(2.0), k, df))
            else:
                row["AdjP"] = float(min(1.0, p * len(pairs)))
        drow.append(row)
    return LSMeans(means, pd.DataFrame(drow))
