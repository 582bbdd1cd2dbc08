"""SP(SPH): spherical, M_ij = σ² [1 − 3d/(2θ) + d³/(2θ³)] 1(d ≤ θ) (d = d_ij Euclidean).

PROC MIXED REPEATED TYPE=SP(SPH)(c-list); the columns come from
``coordinate=``.  Parameters ``Variance`` (σ², ``Residual`` on the R side)
and ``SP(SPH)`` (the range θ > 0, beyond which observations are
uncorrelated).  Working: σ² = w₀², θ = exp(w₁).  The correlation is once,
not twice, differentiable in θ where some d_ij = θ.  nlme: corSpher(range = θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from ._corr import distances
from .spatial import Spatial


@dataclass(frozen=True)
class SPSPH(Spatial):
    name = "SP(SPH)"

    def correlation(self, rng, coords):
        u = distances(coords) / rng
        return jnp.where(u < 1.0, 1.0 - 1.5 * u + 0.5 * u**3, 0.0)
