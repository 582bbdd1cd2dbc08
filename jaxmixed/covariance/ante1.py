"""ANTE(1): first-order antedependence, M_ij = σ_i σ_j ∏_{k=i}^{j−1} ρ_k (i ≤ j).

PROC MIXED TYPE=ANTE(1).  Parameters ``Var(1)`` ... ``Var(d)`` (σ_i²) and
``Rho(1)`` ... ``Rho(d−1)`` (ρ_k, the correlation between positions k and
k+1).  Working: σ_i² = w_i², ρ_k = tanh(w_k); any such ρ gives a positive
definite M.  Not a scale structure, so nothing is profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import Hetero


@dataclass(frozen=True)
class ANTE1(Hetero):
    name = "ANTE(1)"

    def corr_names(self):
        return tuple(f"Rho({k})" for k in range(1, self.dim))

    def corr_matrix(self, rho):
        d = self.dim
        if d == 1:
            return jnp.ones((1, 1), rho.dtype)
        i = np.arange(d)[:, None, None]
        j = np.arange(d)[None, :, None]
        k = np.arange(d - 1)[None, None, :]
        between = (k >= np.minimum(i, j)) & (k < np.maximum(i, j))  # (d, d, d−1)
        return jnp.prod(jnp.where(between, rho[None, None, :], 1.0), axis=-1)
