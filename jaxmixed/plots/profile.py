"""Profile likelihood of one covariance parameter and its likelihood-based interval.

For each value v of the chosen parameter θⱼ, the profile is

    p(v) = min over the other covariance parameters of −2ℓ(θ)  with θⱼ = v,

minimised on the natural scale by L-BFGS-B with exact (autodiff) gradients,
variances bounded below by 0, each grid point warm-started from its
neighbour.  The (1 − α) interval is {v : p(v) − min −2ℓ ≤ χ²₁(1 − α)}, its ends
found by root-finding on p between the grid points that bracket them
(likelihood-ratio interval; lme4's ``confint(method = "profile")`` gives the same
for standard deviations, as the interval is invariant to a monotone
reparametrisation).  A variance whose profile stays below the cut-off down to 0
has lower end 0.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..blocks import Layout
from ..display._order import covparm_order
from ..likelihood import neg2ll_natural
from ._figure import new_figure


@partial(jax.jit, static_argnames="layout")
def _value_and_grad(theta, buckets, layout: Layout):
    return jax.value_and_grad(neg2ll_natural)(theta, buckets, layout)


def _row(fit, parm) -> int:
    cp = fit.covparms
    if isinstance(parm, (int, np.integer)):
        if not 0 <= parm < len(cp):
            raise IndexError(f"parm={parm}: the fit has {len(cp)} covariance parameters")
        return int(parm)
    labels = [f"{r.CovParm} {r.Subject}".strip() for r in cp.itertuples()]
    for i, (name, label) in enumerate(zip(cp["CovParm"], labels)):
        if parm in (name, label):
            return i
    from ..errors import SpecificationError

    raise SpecificationError(f"no covariance parameter {parm!r}; choose one of {', '.join(labels)}")


class _Profiler:
    def __init__(self, fit, row: int):
        inf = fit._inf
        self.layout, self.buckets = inf.layout, inf.buckets
        self.theta = np.asarray(inf.theta, float)
        self.j = int(covparm_order(self.layout)[row])
        self.free = np.flatnonzero(np.arange(self.theta.size) != self.j)
        var = self.layout.variance_mask()
        self.bounds = [(0.0, None) if var[i] else (None, None) for i in self.free]
        self.is_variance = bool(var[self.j])
        self.start = self.theta[self.free].copy()

    def __call__(self, v: float) -> float:
        theta = self.theta.copy()
        theta[self.j] = v

        def fun(x):
            theta[self.free] = x
            f, g = _value_and_grad(jnp.asarray(theta), self.buckets, self.layout)
            f, g = float(f), np.asarray(g)[self.free]
            if not np.isfinite(f) or not np.all(np.isfinite(g)):
                return 1e20, np.zeros_like(x)
            return f, g

        if self.free.size == 0:
            return fun(np.zeros(0))[0]
        res = optimize.minimize(fun, self.start, jac=True, method="L-BFGS-B", bounds=self.bounds,
                                options=dict(ftol=1e-13, gtol=1e-9, maxiter=500))
        if res.fun < 1e19:
            self.start = res.x
        return float(res.fun)


def profile_table(fit, parm, grid=None, n: int = 21, alpha: float = 0.05) -> pd.DataFrame:
    """The profile ``Value, Minus2LL, Delta`` on a grid (default: 21 points over the
    estimate ± 4 standard errors, on the standard-deviation scale for a variance);
    ``.attrs`` holds ``parameter``, ``estimate``, ``lower``, ``upper``, ``cutoff``."""
    row = _row(fit, parm)
    cp = fit.covparms.iloc[row]
    prof = _Profiler(fit, row)
    est, se = float(cp.Estimate), float(cp.StdErr)
    if grid is None:
        se = se if np.isfinite(se) and se > 0 else max(abs(est), 1.0) * 0.5
        if prof.is_variance:
            sd = np.sqrt(max(est, 0.0))
            sd_se = se / (2 * sd) if sd > 0 else np.sqrt(se)
            grid = np.linspace(max(sd - 4 * sd_se, 0.0), sd + 4 * sd_se, n) ** 2
        else:
            grid = np.linspace(est - 4 * se, est + 4 * se, n)
    grid = np.unique(np.append(np.asarray(grid, float), est))
    low = grid[grid <= est][::-1]  # walk out from the estimate, each point warm-starting the next
    high = grid[grid > est]
    values = {}
    for side in (low, high):
        prof.start = prof.theta[prof.free].copy()
        for v in side:
            values[v] = prof(v)
    m2ll = np.array([values[v] for v in grid])
    best = min(float(fit.minus2ll), float(np.min(m2ll)))
    cutoff = float(stats.chi2.ppf(1 - alpha, 1))
    delta = m2ll - best

    def end(side_values):
        prev = est
        for v in side_values:
            if values[v] - best > cutoff:
                prof.start = prof.theta[prof.free].copy()
                return optimize.brentq(lambda x: prof(x) - best - cutoff, prev, v, xtol=1e-10 * max(1, abs(v)))
            prev = v
        return 0.0 if (prof.is_variance and side_values is low and len(low) and low[-1] == 0.0) else np.nan

    table = pd.DataFrame({"Value": grid, "Minus2LL": m2ll, "Delta": delta})
    label = f"{cp.CovParm} {cp.Subject}".strip()
    table.attrs.update(parameter=label, estimate=est, lower=end(low), upper=end(high), cutoff=cutoff,
                       alpha=alpha)
    return table


def profile(fit, parm, grid=None, n: int = 21, alpha: float = 0.05):
    """Figure of the profile −2ℓ (relative to its minimum) with the likelihood-based interval."""
    t = profile_table(fit, parm, grid=grid, n=n, alpha=alpha)
    a = t.attrs
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(t["Value"], t["Delta"], "o-", ms=3)
    ax.axhline(a["cutoff"], color="grey", ls="--", lw=1,
               label=f"chi-square(1) {100 * (1 - alpha):.0f}% cut-off {a['cutoff']:.3f}")
    for x in (a["lower"], a["upper"]):
        if np.isfinite(x):
            ax.axvline(x, color="tab:red", lw=1)
    ax.axvline(a["estimate"], color="black", lw=0.8, ls=":")
    ax.set_xlabel(a["parameter"])
    ax.set_ylabel("profile -2 log-likelihood minus its minimum")
    ax.set_title(f"Profile of {a['parameter']}: {100 * (1 - alpha):.0f}% CI "
                 f"[{a['lower']:.4g}, {a['upper']:.4g}]")
    ax.legend(loc="upper center", fontsize=8)
    return fig
