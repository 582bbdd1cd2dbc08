"""UNR: unstructured correlations, M_ij = σ_i σ_j ρ_ij (ρ_ii = 1).

PROC MIXED TYPE=UNR: the UN matrix parameterised by variances and
correlations.  Parameters ``Var(1)`` ... ``Var(d)`` and ``Corr(i,j)``,
i > j, row by row: Corr(2,1), Corr(3,1), Corr(3,2), ...  Working: σ_i² =
w_i²; the correlation matrix is C = L L' with L built from canonical partial
correlations z_ij = tanh(w_ij) (a Cholesky-of-correlation transform), so
every working point gives a positive-definite C.  Not a scale structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import Hetero, corr_to_cpc, cpc_to_chol


def _pairs(d):
    return [(i, j) for i in range(d) for j in range(i)]


@dataclass(frozen=True)
class UNR(Hetero):
    name = "UNR"

    def corr_names(self):
        return tuple(f"Corr({i + 1},{j + 1})" for i, j in _pairs(self.dim))

    def corr_to_natural(self, w):
        d = self.dim
        if d == 1:
            return w[:0]
        low = cpc_to_chol(jnp.tanh(w), d)
        c = low @ low.T
        rows, cols = np.tril_indices(d, -1)
        return c[rows, cols]

    def corr_to_working(self, rho):
        d = self.dim
        c = np.eye(d)
        rows, cols = np.tril_indices(d, -1)
        c[rows, cols] = rho
        c[cols, rows] = rho
        return np.arctanh(corr_to_cpc(c))

    def corr_matrix(self, rho):
        d = self.dim
        rows, cols = np.tril_indices(d, -1)
        c = jnp.eye(d, dtype=rho.dtype)
        return c.at[rows, cols].set(rho).at[cols, rows].set(rho)
