"""Convergence criteria of PROC MIXED (documentation, "Convergence Problems"
and the CONVF/CONVG/CONVH options), as pure functions of one iterate.

With f = −2ℓ, g its gradient and H its Hessian in the working parameters:

    CONVH: g'H⁻¹g / |f|             (absolute: g'H⁻¹g)     default 1e-8
    CONVF: |f_k − f_{k−1}| / |f_{k−1}|  (absolute: |f_k − f_{k−1}|)
    CONVG: max_j |g_j| / |f|         (absolute: max_j |g_j|)

A criterion with a negative tolerance is switched off.  CONVH is only
defined where H is positive definite (elsewhere it is +inf), so a saddle
point or a flat direction never passes it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

#: the tolerance value that switches a criterion off
OFF = -1.0


class Tolerances(NamedTuple):
    """Tolerances (traced scalars, so that a vmapped fit can carry them)."""

    convh: float = 1e-8
    convf: float = OFF
    convg: float = OFF


def _denominator(f, absolute: bool):
    return 1.0 if absolute else jnp.maximum(jnp.abs(f), 1e-12)


def hessian_criterion(f, g, h, absolute: bool = False):
    if g.shape[0] == 0:
        return jnp.zeros((), f.dtype)
    vals, vecs = jnp.linalg.eigh(h)
    pd = jnp.all(vals > 1e-12 * jnp.maximum(1.0, jnp.max(jnp.abs(vals))))
    coef = vecs.T @ g
    quad = jnp.sum(coef**2 / jnp.where(pd, vals, 1.0))
    return jnp.where(pd, quad / _denominator(f, absolute), jnp.inf)


def function_criterion(f, f_prev, absolute: bool = False):
    """Change of −2ℓ over the last accepted step (+inf before the first step)."""
    change = jnp.abs(f - f_prev)
    value = change / (1.0 if absolute else jnp.maximum(jnp.abs(f_prev), 1e-12))
    return jnp.where(jnp.isfinite(f_prev), value, jnp.inf)


def gradient_criterion(f, g, absolute: bool = False):
    if g.shape[0] == 0:
        return jnp.zeros((), f.dtype)
    return jnp.max(jnp.abs(g)) / _denominator(f, absolute)


def evaluate(f, f_prev, g, h, tol: Tolerances, absolute: bool = False):
    """(converged, reported criterion).  Converged when any active criterion
    is below its tolerance; the reported value is the first active one, in
    the order CONVH, CONVF, CONVG (the column PROC MIXED prints)."""
    ch = hessian_criterion(f, g, h, absolute)
    cf = function_criterion(f, f_prev, absolute)
    cg = gradient_criterion(f, g, absolute)
    th, tf, tg = (jnp.asarray(t, f.dtype) for t in tol)
    done = ((th >= 0) & (ch <= th)) | ((tf >= 0) & (cf <= tf)) | ((tg >= 0) & (cg <= tg))
    # CONVH at exactly 0 tolerance still needs a positive definite H
    done = done & (jnp.isfinite(ch) | (th < 0))
    shown = jnp.where(th >= 0, ch, jnp.where(tf >= 0, cf, cg))
    return done, shown
