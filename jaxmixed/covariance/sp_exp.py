"""SP(EXP): spatial exponential, M_ij = σ² exp(−d_ij/θ) (d_ij Euclidean distance).

PROC MIXED REPEATED TYPE=SP(EXP)(c-list); the columns come from
``coordinate=``.  Parameters ``Variance`` (σ², ``Residual`` on the R side)
and ``SP(EXP)`` (the range θ > 0; the practical range is 3θ).  Working:
σ² = w₀², θ = exp(w₁).  nlme: corExp(range = θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from ._corr import distances
from .spatial import Spatial


@dataclass(frozen=True)
class SPEXP(Spatial):
    name = "SP(EXP)"

    def correlation(self, rng, coords):
        return jnp.exp(-distances(coords) / rng)
