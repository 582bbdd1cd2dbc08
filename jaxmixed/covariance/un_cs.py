"""UN@CS: unstructured ⊗ compound symmetry, M = U ⊗ C with C the
equicorrelation matrix (1 on the diagonal, ρ off it; see :mod:`.kron`).

PROC MIXED REPEATED ``var time / TYPE=UN@CS``: n₁(n₁+1)/2 + 1 parameters,
U(i,j) then the correlation ρ (``Corr``).  Positive definite by
construction: ρ = l + (1 − l)(1 + tanh w)/2 ∈ (l, 1), l = −1/(n₂−1) (−1 when
n₂ ≤ 2), as for CSH.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import atanh_clip
from .kron import Kronecker


@dataclass(frozen=True)
class UNCS(Kronecker):
    name = "UN@CS"
    second = "CS"

    @property
    def _low(self) -> float:
        return -1.0 / (self.n2 - 1) if self.n2 > 2 else -1.0

    def c_names(self):
        return ("Corr",)

    def c_bounds(self):
        return np.array([self._low]), np.array([1.0])

    def c_start(self):
        return np.array([0.0])

    def c_to_natural(self, w):
        lo = self._low
        return lo + (1.0 - lo) * 0.5 * (1.0 + jnp.tanh(w))

    def c_to_working(self, p):
        lo = self._low
        return atanh_clip(2.0 * (np.asarray(p, float) - lo) / (1.0 - lo) - 1.0)

    def c_matrix(self, p):
        eye = jnp.eye(self.n2, dtype=p.dtype)
        return p[0] * (1.0 - eye) + eye
