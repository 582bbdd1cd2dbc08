"""MIVQUE0 starting values (Rao 1971; PROC MIXED's default start).

With V = Σ_k θ_k V_k linear in the variance-type parameters and the prior
weight V = I, MIVQUE0 solves T θ = q with T_kl = tr(Q V_k Q V_l),
q_k = y'Q V_k Q y and Q = I − X(X'X)⁻X' (see ``information.trace_terms``).  Non-linear parameters (correlations)
stay at their structure's default while the others are solved for.
Negative variances are lifted to a small positive value, as the optimizer
cannot start on a bound it is meant to be able to leave.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..blocks import Layout
from ..likelihood import to_working
from .information import trace_terms


def linear_mask(layout: Layout) -> np.ndarray:
    def one(s):
        if hasattr(s, "linear_mask"):  # NOBOUND wrapper: its variance mask is empty
            return s.linear_mask()
        return np.ones(s.n_params, bool) if s.linear else s.variance_mask()

    return np.concatenate([one(s) for s in layout.structures])


@partial(jax.jit, static_argnames="layout")
def _mivque_system(theta0, buckets, layout: Layout):
    return trace_terms(theta0, buckets, layout, identity_weight=True)


def mivque0(buckets, layout: Layout) -> np.ndarray:
    """MIVQUE0 estimates of the natural parameters (non-linear ones at default)."""
    theta0 = np.concatenate([s.default_start() for s in layout.structures])
    lin = linear_mask(layout)
    t, q = _mivque_system(jnp.asarray(theta0), buckets, layout)
    t, q = np.asarray(t), np.asarray(q)
    sol = np.linalg.lstsq(t[np.ix_(lin, lin)], q[lin], rcond=1e-12)[0]
    theta = theta0.copy()
    theta[lin] = sol
    return theta


def start_working(theta: np.ndarray, layout: Layout) -> np.ndarray:
    """Working start from natural θ: negative variances lifted, relative to σ²
    when the residual scale is profiled."""
    theta = np.array(theta, float)
    var = layout.variance_mask()
    scale = layout.scale_param
    ref = theta[scale] if scale is not None else np.max(np.abs(theta[var]), initial=0.0)
    if not np.isfinite(ref) or ref <= 0:
        ref = max(float(np.max(np.abs(theta[var]), initial=0.0)), 1.0)
    if scale is not None:
        theta[scale] = ref
    floor = 1e-2 * ref
    theta[var] = np.where(theta[var] > floor, theta[var], floor)
    if scale is not None:
        theta = np.where(layout.scale_mask(), theta / ref, theta)
    return to_working(theta, layout)
