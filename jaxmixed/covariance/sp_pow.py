"""SP(POW): spatial power, M_ij = σ² ρ^d_ij (d_ij Euclidean distance).

PROC MIXED REPEATED TYPE=SP(POW)(c-list); here the columns come from
``coordinate=``.  Parameters ``Variance`` (σ², ``Residual`` on the R side)
and ``SP(POW)`` (ρ ∈ (0, 1), as non-integer distances need ρ > 0).  With the
index ranks as the one coordinate it is AR(1) with ρ > 0.  Working: σ² = w₀²,
ρ = (1 + tanh w₁)/2, and ρ^d = exp(−d softplus(−2w₁)) without a logarithm of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import atanh_clip, distances
from .spatial import Spatial


@dataclass(frozen=True)
class SPPOW(Spatial):
    name = "SP(POW)"

    def upper_bounds(self):
        return np.array([np.inf, 1.0])

    def default_start(self):
        return np.array([1.0, 0.5])

    def to_natural(self, w):
        return jnp.stack([w[0] ** 2, 0.5 * (1.0 + jnp.tanh(w[1]))])

    def to_working(self, theta):
        var, rho = (float(t) for t in theta)
        return np.array([np.sqrt(max(var, 0.0)), float(atanh_clip(2.0 * rho - 1.0))])

    def correlation(self, rho, coords):
        d = distances(coords)
        # ρ^d with ρ^0 = 1 exactly, smooth in ρ wherever ρ > 0.
        logr = jnp.log(jnp.maximum(rho, jnp.finfo(rho.dtype).tiny))
        return jnp.where(d > 0, jnp.exp(d * logr), 1.0)
