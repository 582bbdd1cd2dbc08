"""TOEP: Toeplitz, M_ij = σ_|i−j| (a separate covariance for each lag).

PROC MIXED TYPE=TOEP.  Parameters ``TOEP(1)`` (σ_0, the common variance)
... ``TOEP(d)`` (σ_{d−1}, the covariance at lag d−1).  On the REPEATED side
PROC MIXED prints σ_0 as ``Residual`` after TOEP(2) ... TOEP(d); σ_0 is the
profiled scale (scale_index 0) and every parameter scales with it.
Working: σ_0 = w_0², and the lag correlations σ_k/σ_0 come from partial
autocorrelations φ_k = tanh(w_k) (Durbin–Levinson), so every working point
gives a positive-definite M and every positive-definite Toeplitz matrix is
reached.  (PROC MIXED itself does not constrain TOEP to be positive definite.)
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import acf_to_pacf, atanh_clip, pacf_to_acf, toeplitz
from .base import Structure


@dataclass(frozen=True)
class TOEP(Structure):
    name = "TOEP"
    linear = True
    scale_index = 0

    def param_names(self):
        return tuple(f"TOEP({k + 1})" for k in range(self.dim))

    def variance_mask(self):
        return np.arange(self.dim) == 0

    def scale_mask(self):
        return np.ones(self.dim, bool)

    def default_start(self):
        return np.where(self.variance_mask(), 1.0, 0.0)

    def to_natural(self, w):
        var = w[0] ** 2
        return jnp.concatenate([var[None], var * pacf_to_acf(jnp.tanh(w[1:]))])

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        var = max(theta[0], 1e-12)
        return np.concatenate([[np.sqrt(var)], atanh_clip(acf_to_pacf(theta[1:] / var))])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        return toeplitz(theta)[pos[:, None], pos[None, :]]
