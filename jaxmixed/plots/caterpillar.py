"""Caterpillar plot: each subject's EBLUP b̂ with the prediction interval
b̂ ± z₁₋α/₂ · StdErrPred (StdErrPred = √Var(b̂ − b), PROC MIXED's Solution for
Random Effects), sorted by b̂, one panel per random effect."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._figure import new_figure


def caterpillar(fit, statement: int = 1, alpha: float = 0.05):
    table = fit.random_effects
    if not len(table):
        from ..errors import SpecificationError

        raise SpecificationError("the model has no RANDOM statement, so there are no EBLUPs to plot")
    table = table[table["Statement"] == statement]
    if not len(table):
        from ..errors import SpecificationError

        raise SpecificationError(f"statement={statement} is not a RANDOM statement of the model")
    effects = list(dict.fromkeys(table["Effect"]))
    z = stats.norm.ppf(1 - alpha / 2)
    n_levels = table["Level"].nunique()
    fig = new_figure(3.2 * len(effects) + 1.0, max(3.0, 0.18 * n_levels + 1.2))
    axes = fig.subplots(1, len(effects), sharey=False, squeeze=False)[0]
    for ax, eff in zip(axes, effects):
        t = table[table["Effect"] == eff].sort_values("Estimate")
        y = np.arange(len(t))
        ax.errorbar(t["Estimate"], y, xerr=z * t["StdErrPred"], fmt="o", ms=3, lw=1, capsize=0)
        ax.axvline(0.0, color="grey", lw=1)
        ax.set_yticks(y, [str(v) for v in t["Level"]], fontsize=7)
        ax.set_title(str(eff))
        ax.set_xlabel("EBLUP")
    axes[0].set_ylabel(str(table["Subject"].iloc[0]))
    fig.suptitle(f"Random effects with {100 * (1 - alpha):.0f}% prediction intervals")
    return fig
