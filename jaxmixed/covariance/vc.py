"""VC: variance components, a separate variance for each effect and no covariances.

G = diag(σ²_1, ..., σ²_d).  On the R side with no GROUP=, R = σ² I (the
PROC MIXED default residual).  Working parameters: σ²_k = w_k².
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class VC(Structure):
    name = "VC"

    def param_names(self):
        return tuple(self.labels) if self.labels else tuple(f"VC({k + 1})" for k in range(self.dim))

    def variance_mask(self):
        return np.ones(self.dim, bool)

    @property
    def scale_index(self):
        # Only a single-variance VC (R = σ² I) is a pure scale.
        return 0 if self.dim == 1 else None

    def to_natural(self, w):
        return w**2

    def to_working(self, theta):
        return np.sqrt(np.maximum(np.asarray(theta, float), 0.0))

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        if self.dim == 1:
            return theta[0] * jnp.eye(pos.shape[0], dtype=theta.dtype)
        d = theta[pos]
        return jnp.diag(d) * (pos[:, None] == pos[None, :])
