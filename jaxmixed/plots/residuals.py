"""Residual plots: conditional residuals against fitted values, and their normal Q–Q plot.

Conditional residuals r = y − Xβ̂ − Zb̂; "pearson" divides by the square root of
the diagonal of R (for R = σ²I: lme4's scaled residuals).  The Q–Q plot puts
the sorted residuals against normal quantiles at Blom's plotting positions
(i − 3/8)/(n + 1/4), with the line through the quartiles.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._figure import new_figure


def residuals_vs_fitted(fit, kind: str = "conditional", type: str = "pearson"):
    res = fit.residuals(kind=kind, type=type)
    pred = fit.predicted(kind)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(pred.to_numpy(), res.loc[pred.index].to_numpy(), s=12, alpha=0.7, edgecolor="none")
    ax.axhline(0.0, color="grey", lw=1)
    ax.set_xlabel(f"Fitted values ({kind})")
    ax.set_ylabel(f"{type.capitalize()} residuals")
    ax.set_title("Residuals vs fitted")
    return fig


def qq(fit, kind: str = "conditional", type: str = "pearson"):
    r = np.sort(fit.residuals(kind=kind, type=type).to_numpy(float))
    r = r[np.isfinite(r)]
    n = r.size
    q = stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25))
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(q, r, s=12, alpha=0.7, edgecolor="none")
    q1, q3 = np.quantile(r, [0.25, 0.75])
    z1, z3 = stats.norm.ppf([0.25, 0.75])
    slope = (q3 - q1) / (z3 - z1)
    xs = np.array([q[0], q[-1]])
    ax.plot(xs, q1 + slope * (xs - z1), color="grey", lw=1)
    ax.set_xlabel("Normal quantiles")
    ax.set_ylabel(f"{type.capitalize()} residuals ({kind})")
    ax.set_title("Normal Q-Q plot of residuals")
    return fig
