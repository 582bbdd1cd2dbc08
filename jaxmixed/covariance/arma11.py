"""ARMA(1,1): M_ij = σ² [γ ρ^(|i−j|−1) 1(i≠j) + 1(i=j)].

PROC MIXED TYPE=ARMA(1,1).  Parameters ``Variance`` (σ², printed as
``Residual`` on the R side, and profiled), ``Rho`` (ρ) and ``Gamma`` (γ).
Working: σ² = w₀², ρ = tanh(w₁), γ = (ρ + tanh(w₂))/2.  The last map covers
exactly −(1−ρ)/2 < γ < (1+ρ)/2, where the spectral density
1 + 2γ (cos ω − ρ)/(1 − 2ρ cos ω + ρ²) is positive for every ω: the
correlation sequence 1, γ, γρ, γρ², ... is then positive definite for any
number of positions (the autocorrelations of a stationary ARMA(1,1) process,
as nlme's corARMA(p=1, q=1) uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import atanh_clip
from .base import Structure


@dataclass(frozen=True)
class ARMA11(Structure):
    name = "ARMA(1,1)"
    linear = False
    scale_index = 0

    def param_names(self):
        return ("Variance", "Rho", "Gamma")

    def variance_mask(self):
        return np.array([True, False, False])

    def lower_bounds(self):
        return np.array([0.0, -1.0, -1.0])

    def upper_bounds(self):
        return np.array([np.inf, 1.0, 1.0])

    def default_start(self):
        return np.array([1.0, 0.0, 0.0])

    def to_natural(self, w):
        rho = jnp.tanh(w[1])
        return jnp.stack([w[0] ** 2, rho, 0.5 * (rho + jnp.tanh(w[2]))])

    def to_working(self, theta):
        var, rho, gamma = (float(t) for t in theta)
        rho = float(np.clip(rho, -0.999, 0.999))
        return np.array([np.sqrt(max(var, 0.0)), np.arctanh(rho), float(atanh_clip(2.0 * gamma - rho))])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        lag = jnp.abs(pos[:, None] - pos[None, :])
        n = max(self.dim, 2)
        # γ ρ^(k−1) for k ≥ 1 by cumulative products (smooth at ρ = 0); 1 at k = 0.
        tail = theta[2] * jnp.concatenate([jnp.ones((1,), theta.dtype), jnp.cumprod(jnp.full((n - 2,), theta[1]))])
        corr = jnp.concatenate([jnp.ones((1,), theta.dtype), tail])
        return theta[0] * corr[lag]
