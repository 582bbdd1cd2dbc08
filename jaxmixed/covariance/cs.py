"""CS: compound symmetry, M = σ₁ J + σ² I.

Parameters as PROC MIXED names them: ``CS`` (the common covariance σ₁) and
``Variance`` (σ², printed as ``Residual`` on the R side).  σ₁ may be
negative down to the positive-definite limit σ₁ > −σ²/d, as PROC MIXED
allows.  Working parameters: σ² = w₁², σ₁ = σ² (exp(w₀) − 1/d).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class CS(Structure):
    name = "CS"
    linear = True
    scale_index = 1

    def param_names(self):
        return ("CS", "Variance")

    def variance_mask(self):
        return np.array([False, True])

    def scale_mask(self):
        return np.array([True, True])

    def lower_bounds(self):
        return np.array([-np.inf, 0.0])

    def default_start(self):
        return np.array([0.0, 1.0])

    def to_natural(self, w):
        var = w[1] ** 2
        return jnp.stack([var * (jnp.exp(w[0]) - 1.0 / self.dim), var])

    def to_working(self, theta):
        cov, var = (float(t) for t in theta)
        var = max(var, 1e-8)
        ratio = max(cov / var + 1.0 / self.dim, 1e-3 / self.dim)
        return np.array([np.log(ratio), np.sqrt(var)])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        same = pos[:, None] == pos[None, :]
        return theta[0] + theta[1] * same
