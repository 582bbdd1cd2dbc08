"""SP(GAU): spatial Gaussian, M_ij = σ² exp(−d_ij²/θ²) (d_ij Euclidean distance).

PROC MIXED REPEATED TYPE=SP(GAU)(c-list); the columns come from
``coordinate=``.  Parameters ``Variance`` (σ², ``Residual`` on the R side)
and ``SP(GAU)`` (the range θ > 0).  Working: σ² = w₀², θ = exp(w₁).
nlme: corGaus(range = θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from ._corr import sq_distances
from .spatial import Spatial


@dataclass(frozen=True)
class SPGAU(Spatial):
    name = "SP(GAU)"

    def correlation(self, rng, coords):
        return jnp.exp(-sq_distances(coords) / (rng * rng))
