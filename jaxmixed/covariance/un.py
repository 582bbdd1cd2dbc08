"""UN: unstructured covariance, every variance and covariance free.

Parameters UN(i,j), i >= j, row by row as PROC MIXED lists them.  Working
parameters are the entries of a lower-triangular L with M = L L' (the
Cholesky-type transform lme4 uses), so every working point gives a positive
semi-definite matrix and a variance may reach 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure, nearest_pd_cholesky, tril_pairs


@dataclass(frozen=True)
class UN(Structure):
    name = "UN"

    def param_names(self):
        return tuple(f"UN({i + 1},{j + 1})" for i, j in tril_pairs(self.dim))

    def variance_mask(self):
        return np.array([i == j for i, j in tril_pairs(self.dim)])

    def scale_mask(self):
        return np.ones(self.n_params, bool)

    def _fill(self, v):
        rows, cols = np.tril_indices(self.dim)
        # np.tril_indices is row by row, the order of tril_pairs.
        return jnp.zeros((self.dim, self.dim), v.dtype).at[rows, cols].set(v)

    def _full(self, theta):
        low = self._fill(theta)
        return low + low.T - jnp.diag(jnp.diag(low))

    def to_natural(self, w):
        chol = self._fill(w)
        m = chol @ chol.T
        rows, cols = np.tril_indices(self.dim)
        return m[rows, cols]

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        m = np.zeros((self.dim, self.dim))
        rows, cols = np.tril_indices(self.dim)
        m[rows, cols] = theta
        m = m + m.T - np.diag(np.diag(m))
        return nearest_pd_cholesky(m)[rows, cols]

    @property
    def scale_index(self):
        return 0 if self.dim == 1 else None

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        return self._full(theta)[pos[:, None], pos[None, :]]
