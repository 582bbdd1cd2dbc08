"""AR(1): first-order autoregressive, M_ij = σ² ρ^|i−j|.

Parameters ``Variance`` (σ², printed as ``Residual`` on the R side) and
``AR(1)`` (ρ in (−1, 1)).  Positions are the ranks of the ``index=`` levels,
so a missing visit keeps its distance.  Working: σ² = w₀², ρ = tanh(w₁).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class AR1(Structure):
    name = "AR(1)"
    linear = False
    scale_index = 0

    def param_names(self):
        return ("Variance", "AR(1)")

    def variance_mask(self):
        return np.array([True, False])

    def lower_bounds(self):
        return np.array([0.0, -1.0])

    def upper_bounds(self):
        return np.array([np.inf, 1.0])

    def default_start(self):
        return np.array([1.0, 0.0])

    def to_natural(self, w):
        return jnp.stack([w[0] ** 2, jnp.tanh(w[1])])

    def to_working(self, theta):
        var, rho = (float(t) for t in theta)
        return np.array([np.sqrt(max(var, 0.0)), np.arctanh(np.clip(rho, -0.999, 0.999))])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        lag = jnp.abs(pos[:, None] - pos[None, :])
        # ρ^k by cumulative products: smooth in ρ to every order, also at ρ = 0.
        powers = jnp.concatenate([jnp.ones((1,), theta.dtype), jnp.cumprod(jnp.full((max(self.dim, 2) - 1,), theta[1]))])
        return theta[0] * powers[lag]
