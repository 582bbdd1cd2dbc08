"""FA0(q): factor-analytic without a diagonal, M = Λ Λ' with Λ a d × q
lower-triangular loading matrix (Λ_ij = 0 for j > i).

PROC MIXED TYPE=FA0(q).  Parameters ``FA(i,j)`` = Λ_ij for j ≤ min(i, q),
row by row: FA(1,1), FA(2,1), FA(2,2), FA(3,1), ...  M is positive
semi-definite for every Λ (of rank ≤ q, so with q < d it belongs on the G side
or next to another R-side term).  FA0(d) is UN through its Cholesky factor.
Working parameters are the loadings themselves.  The loadings scale with σ,
not σ², when the residual variance is profiled (``root_scale_mask``); each
column of Λ is determined only up to its sign.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class FA0(Structure):
    name = "FA0(q)"
    linear = False
    q = 1

    @classmethod
    def of(cls, q: int) -> type["FA0"]:
        """The FA0(q) class for one q (TYPE=FA0(q))."""
        return _fa0(int(q))

    def _entries(self):
        q = min(self.q, self.dim)
        return [(i, j) for i in range(self.dim) for j in range(min(i + 1, q))]

    def param_names(self):
        return tuple(f"FA({i + 1},{j + 1})" for i, j in self._entries())

    def variance_mask(self):
        return np.zeros(self.n_params, bool)

    def scale_mask(self):
        return np.zeros(self.n_params, bool)

    def root_scale_mask(self):
        """Parameters multiplied by √c when the matrix is multiplied by c."""
        return np.ones(self.n_params, bool)

    def default_start(self):
        return np.array([1.0 if i == j else 0.0 for i, j in self._entries()])

    def to_natural(self, w):
        return w

    def to_working(self, theta):
        return np.asarray(theta, float).copy()

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        ent = self._entries()
        q = min(self.q, self.dim)
        rows = np.array([i for i, _ in ent], int)
        cols = np.array([j for _, j in ent], int)
        lam = jnp.zeros((self.dim, q), theta.dtype).at[rows, cols].set(theta)
        return (lam @ lam.T)[pos[:, None], pos[None, :]]


@functools.lru_cache(maxsize=None)
def _fa0(q: int) -> type[FA0]:
    return type(f"FA0_{q}", (FA0,), {"q": q, "name": f"FA0({q})", "__module__": __name__})
