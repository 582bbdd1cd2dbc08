"""UN@UN: unstructured ⊗ unstructured, M = U ⊗ C (see :mod:`.kron`).

PROC MIXED REPEATED ``var time / TYPE=UN@UN``: n₁(n₁+1)/2 + n₂(n₂+1)/2 − 1
parameters: U(i,j), then C(i,j) without C(1,1), which is fixed at 1 (the
Kronecker product leaves one scale undetermined).  Working: C = K K' with K
lower triangular and K₁₁ = 1, so every working point gives a positive
semi-definite C with unit (1,1) entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import nearest_pd_cholesky, tril_pairs
from .kron import Kronecker


@dataclass(frozen=True)
class UNUN(Kronecker):
    name = "UN@UN"
    second = "UN"

    def _pairs(self):
        return tril_pairs(self.n2)[1:]  # C(1,1) = 1 is not a parameter

    def c_names(self):
        return tuple(f"UN({i + 1},{j + 1})" for i, j in self._pairs())

    def c_variance_mask(self):
        return np.array([i == j for i, j in self._pairs()], bool)

    def c_start(self):
        return np.array([1.0 if i == j else 0.0 for i, j in self._pairs()])

    def _fill(self, v):
        rows, cols = np.tril_indices(self.n2)
        return jnp.zeros((self.n2, self.n2), v.dtype).at[rows, cols].set(jnp.concatenate([jnp.ones((1,), v.dtype), v]))

    def c_to_natural(self, w):
        k = self._fill(w)
        rows, cols = np.tril_indices(self.n2)
        return (k @ k.T)[rows, cols][1:]

    def c_to_working(self, p):
        rows, cols = np.tril_indices(self.n2)
        m = np.zeros((self.n2, self.n2))
        m[rows, cols] = np.concatenate([[1.0], np.asarray(p, float)])
        m = m + m.T - np.diag(np.diag(m))
        k = nearest_pd_cholesky(m)
        return (k / k[0, 0])[rows, cols][1:]

    def c_matrix(self, p):
        low = self._fill(p)
        return low + low.T - jnp.diag(jnp.diag(low))
