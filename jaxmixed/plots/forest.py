"""Forest plot: one fixed effect's estimate with its t-based confidence interval
Estimate ± t₁₋α/₂(DF) · StdErr in every BY group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._figure import new_figure

_TABLE = ["Effect", "Estimate", "StdErr", "DF", "tValue", "Probt"]


def forest(by_result, effect: str, alpha: float = 0.05):
    """``by_result``: a BY job's result (its ``.fixed`` table) or that table itself:
    the BY column(s), then Effect, Estimate, StdErr, DF, ..."""
    table = getattr(by_result, "fixed", by_result)
    if not isinstance(table, pd.DataFrame):
        raise TypeError("forest() needs a BY result or its fixed-effects table")
    table = table.reset_index() if "Effect" not in table.columns else table
    by_cols = [c for c in table.columns if c not in _TABLE]
    rows = table[table["Effect"] == effect]
    if not len(rows):
        from ..errors import SpecificationError

        raise SpecificationError(f"no fixed effect {effect!r}; the table has {', '.join(dict.fromkeys(table['Effect']))}")
    labels = rows[by_cols].astype(str).agg(" ".join, axis=1) if by_cols else pd.Series(["all"] * len(rows))
    est = rows["Estimate"].to_numpy(float)
    half = stats.t.ppf(1 - alpha / 2, rows["DF"].to_numpy(float)) * rows["StdErr"].to_numpy(float)
    y = np.arange(len(rows))[::-1]
    fig = new_figure(6.4, max(2.5, 0.3 * len(rows) + 1.2))
    ax = fig.add_subplot()
    ax.errorbar(est, y, xerr=half, fmt="s", ms=4, lw=1.2, capsize=2)
    ok = np.isfinite(est) & np.isfinite(half) & (half > 0)
    if ok.any():
        w = 1 / half[ok] ** 2
        pooled = float(np.sum(w * est[ok]) / np.sum(w))
        ax.axvline(pooled, color="grey", ls="--", lw=1, label=f"inverse-variance mean {pooled:.4g}")
        ax.legend(loc="best", fontsize=8)
    ax.set_yticks(y, list(labels))
    ax.set_ylabel(" ".join(by_cols) or "group")
    ax.set_xlabel(f"{effect}: estimate and {100 * (1 - alpha):.0f}% confidence interval")
    ax.set_title(f"{effect} by {' '.join(by_cols) or 'group'}")
    return fig
