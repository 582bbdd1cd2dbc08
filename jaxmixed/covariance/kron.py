"""Shared base of the Kronecker-product structures UN@AR(1), UN@CS, UN@UN
(not a structure itself).

PROC MIXED REPEATED ``var time / TYPE=UN@·`` (multivariate repeated
measures, Galecki 1994): the repeated effect is two classification factors,
here ``index=["var", "time"]``, and the covariance of the observations at
(i₁, i₂) and (j₁, j₂) is

    M = U ⊗ C,   M[(i₁, i₂), (j₁, j₂)] = U_{i₁j₁} C_{i₂j₂},

with U an unstructured covariance over the levels of the first factor and C
a matrix over the second whose scale is fixed (a correlation matrix for
AR(1) and CS; unit (1,1) entry for UN), since U ⊗ C = (cU) ⊗ (C/c).
Positions are i₁ n₂ + i₂ (see ``design._index_positions``).

Parameters: U(i,j), i ≥ j, row by row, named ``<first column> UN(i,j)``, then
those of C, named after the second column.  (PROC MIXED prints the effect name
only on the first parameter of each factor; here every name carries it, so
that the names are unique.)  Working: U = L L' from the lower-triangular L as
for UN; C as each subclass says.  The matrix is linear in U while C is held
fixed, which is what MIVQUE0 uses.  Not a scale structure, so nothing is
profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..errors import SpecificationError
from .base import Structure, nearest_pd_cholesky, tril_pairs


@dataclass(frozen=True)
class Kronecker(Structure):
    #: levels of the two index columns (n₁, n₂), n₁ n₂ = dim
    shape: tuple[int, ...] = ()
    #: the two index columns, for the parameter names
    factors: tuple[str, ...] = ()

    linear = False
    #: the TYPE= name of the second factor, for messages
    second = "?"

    @classmethod
    def for_index(cls, dim, labels, shape=(), names=()):
        return cls(dim=dim, labels=tuple(labels), shape=tuple(shape), factors=tuple(names))

    def __post_init__(self):
        if len(self.shape) != 2 or self.shape[0] * self.shape[1] != self.dim:
            raise SpecificationError(
                f"type={self.name} needs a REPEATED index= of two columns, e.g. index=['var', 'time']: the first "
                f"indexes the UN factor, the second the {self.second} factor (got {len(self.shape) or 'no'} index column(s))"
            )

    # ---- the second factor: subclasses provide these -----------------------
    def c_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def c_matrix(self, p):
        """The n₂ × n₂ matrix C from its natural parameters (JAX)."""
        raise NotImplementedError

    def c_to_natural(self, w):
        raise NotImplementedError

    def c_to_working(self, p) -> np.ndarray:
        raise NotImplementedError

    def c_start(self) -> np.ndarray:
        raise NotImplementedError

    def c_variance_mask(self) -> np.ndarray:
        return np.zeros(len(self.c_names()), bool)

    def c_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        k = len(self.c_names())
        lb = np.where(self.c_variance_mask(), 0.0, -np.inf)
        return lb, np.full(k, np.inf)

    # ---- helpers -------------------------------------------------------------
    @property
    def n1(self) -> int:
        return self.shape[0]

    @property
    def n2(self) -> int:
        return self.shape[1]

    @property
    def _nu(self) -> int:
        return self.n1 * (self.n1 + 1) // 2

    def _names(self) -> tuple[str, str]:
        first, second = self.factors if len(self.factors) == 2 else ("", "")
        return (first + " " if first else ""), (second + " " if second else "")

    def _u_full(self, tril):
        rows, cols = np.tril_indices(self.n1)
        low = jnp.zeros((self.n1, self.n1), tril.dtype).at[rows, cols].set(tril)
        return low + low.T - jnp.diag(jnp.diag(low))

    # ---- Structure -----------------------------------------------------------
    def param_names(self):
        a, b = self._names()
        return tuple(f"{a}UN({i + 1},{j + 1})" for i, j in tril_pairs(self.n1)) + tuple(b + n for n in self.c_names())

    def variance_mask(self):
        return np.concatenate([[i == j for i, j in tril_pairs(self.n1)], self.c_variance_mask()]).astype(bool)

    def scale_mask(self):
        return np.arange(self.n_params) < self._nu

    def linear_mask(self):
        return np.arange(self.n_params) < self._nu

    def lower_bounds(self):
        lb = np.where(self.variance_mask(), 0.0, -np.inf)
        lb[self._nu :] = self.c_bounds()[0]
        return lb

    def upper_bounds(self):
        ub = np.full(self.n_params, np.inf)
        ub[self._nu :] = self.c_bounds()[1]
        return ub

    def default_start(self):
        return np.concatenate([[1.0 if i == j else 0.0 for i, j in tril_pairs(self.n1)], self.c_start()])

    def to_natural(self, w):
        nu = self._nu
        rows, cols = np.tril_indices(self.n1)
        chol = jnp.zeros((self.n1, self.n1), w.dtype).at[rows, cols].set(w[:nu])
        u = (chol @ chol.T)[rows, cols]
        return jnp.concatenate([u, self.c_to_natural(w[nu:])])

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        nu = self._nu
        rows, cols = np.tril_indices(self.n1)
        m = np.zeros((self.n1, self.n1))
        m[rows, cols] = theta[:nu]
        m = m + m.T - np.diag(np.diag(m))
        return np.concatenate([nearest_pd_cholesky(m)[rows, cols], self.c_to_working(theta[nu:])])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        a, b = pos // self.n2, pos % self.n2
        u = self._u_full(theta[: self._nu])
        c = self.c_matrix(theta[self._nu :])
        return u[a[:, None], a[None, :]] * c[b[:, None], b[None, :]]
