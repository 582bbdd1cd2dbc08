"""ARH(1): heterogeneous first-order autoregressive, M_ij = σ_i σ_j ρ^|i−j|.

PROC MIXED TYPE=ARH(1).  Parameters ``Var(1)`` ... ``Var(d)`` (σ_i²) and
``ARH(1)`` (ρ).  Working: σ_i² = w_i², ρ = tanh(w) ∈ (−1, 1), so M is
positive definite.  |i − j| is the distance between the ranks of the
``index=`` levels.  Not a scale structure, so nothing is profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import Hetero


@dataclass(frozen=True)
class ARH1(Hetero):
    name = "ARH(1)"

    def corr_names(self):
        return ("ARH(1)",)

    def corr_matrix(self, rho):
        d = self.dim
        lag = np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])
        # ρ^k by cumulative products: smooth in ρ, also at ρ = 0.
        powers = jnp.concatenate([jnp.ones((1,), rho.dtype), jnp.cumprod(jnp.full((max(d, 2) - 1,), rho[0]))])
        return powers[lag]
