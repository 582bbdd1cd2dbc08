"""What every covariance structure provides.

A structure is a small frozen (hashable, hence static under ``jit``) object
that knows its PROC MIXED name, its parameters, the map between natural
parameters θ (the numbers PROC MIXED prints) and the unconstrained working
parameters w the optimizer moves, and how to build its matrix.

Working parameters are chosen so that a variance sits on its bound 0 at an
interior point of w-space (σ² = w²), where the gradient vanishes by symmetry:
Newton can reach the bound and leave it again without an active set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Structure:
    """Base class.  ``dim`` is the matrix size for one subject: the number of
    random effects (G side) or of positions given by ``index=`` (R side)."""

    dim: int
    labels: tuple[str, ...] = field(default=())

    name = "?"
    #: the matrix is linear in θ (MIVQUE0 solves for such θ directly)
    linear = True
    #: number of coordinate columns the structure needs (spatial ones)
    n_coords = 0

    @classmethod
    def for_index(cls, dim: int, labels, shape: tuple[int, ...] = (), names: tuple[str, ...] = ()) -> "Structure":
        """The structure for a REPEATED effect of ``dim`` positions; ``shape``
        and ``names`` are the levels per index column and the columns, which
        only the Kronecker-product structures need."""
        return cls(dim=dim, labels=tuple(labels))

    # ---- parameters -------------------------------------------------------
    @property
    def n_params(self) -> int:
        return len(self.param_names())

    def param_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def variance_mask(self) -> np.ndarray:
        """Parameters bounded below by 0 (variances)."""
        raise NotImplementedError

    def linear_mask(self) -> np.ndarray:
        """Parameters in which the matrix is linear while the others stay at
        their default start (MIVQUE0 solves for these)."""
        return np.ones(self.n_params, bool) if self.linear else self.variance_mask()

    def scale_mask(self) -> np.ndarray:
        """Parameters multiplied by c when the whole matrix is multiplied by c."""
        return self.variance_mask()

    #: index of the parameter that factors out as an overall scale σ² (so
    #: that M(θ) = σ² M(θ with it set to 1)), or None when there is none (UN)
    scale_index = None  # type: int | None

    def lower_bounds(self) -> np.ndarray:
        """Natural-scale lower bounds (PROC MIXED's default bounds)."""
        lb = np.full(self.n_params, -np.inf)
        lb[self.variance_mask()] = 0.0
        return lb

    def upper_bounds(self) -> np.ndarray:
        return np.full(self.n_params, np.inf)

    def default_start(self) -> np.ndarray:
        """Natural parameters used where MIVQUE0 gives no value."""
        return np.where(self.variance_mask(), 1.0, 0.0)

    # ---- transforms -------------------------------------------------------
    def to_natural(self, w):
        raise NotImplementedError

    def to_working(self, theta) -> np.ndarray:
        raise NotImplementedError

    #: working value of the scale parameter that gives natural value 1
    unit_working = 1.0

    # ---- matrix -----------------------------------------------------------
    def matrix(self, theta, pos=None, coords=None):
        """The covariance among observations at integer positions ``pos``
        (default: all ``dim`` positions) with optional ``coords`` (n, k)."""
        raise NotImplementedError

    def _pos(self, pos):
        return jnp.arange(self.dim) if pos is None else pos


def tril_pairs(d: int) -> list[tuple[int, int]]:
    """(i, j) with i >= j, row by row: PROC MIXED's order UN(1,1), UN(2,1), UN(2,2), ..."""
    return [(i, j) for i in range(d) for j in range(i + 1)]


def nearest_pd_cholesky(m: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """Cholesky factor of ``m`` after lifting its eigenvalues to a floor; used
    to turn an indefinite MIVQUE0 start into a valid working point."""
    m = 0.5 * (m + m.T)
    vals, vecs = np.linalg.eigh(m)
    top = max(float(np.max(np.abs(vals))), 1e-12)
    vals = np.maximum(vals, floor * top)
    return np.linalg.cholesky((vecs * vals) @ vecs.T)
