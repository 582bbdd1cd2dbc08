"""UN@AR(1): unstructured ⊗ first-order autoregressive, M = U ⊗ C with
C_{st} = ρ^|s−t| (see :mod:`.kron`).

PROC MIXED REPEATED ``var time / TYPE=UN@AR(1)``: n₁(n₁+1)/2 + 1
parameters, U(i,j) then ``AR(1)`` (ρ ∈ (−1, 1)).  Positions of the second
factor are the ranks of its levels.  Working: ρ = tanh(w).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import atanh_clip
from .kron import Kronecker


@dataclass(frozen=True)
class UNAR1(Kronecker):
    name = "UN@AR(1)"
    second = "AR(1)"

    def c_names(self):
        return ("AR(1)",)

    def c_bounds(self):
        return np.array([-1.0]), np.array([1.0])

    def c_start(self):
        return np.array([0.0])

    def c_to_natural(self, w):
        return jnp.tanh(w)

    def c_to_working(self, p):
        return atanh_clip(p)

    def c_matrix(self, p):
        lag = np.abs(np.arange(self.n2)[:, None] - np.arange(self.n2)[None, :])
        # ρ^k by cumulative products: smooth in ρ also at ρ = 0.
        powers = jnp.concatenate([jnp.ones((1,), p.dtype), jnp.cumprod(jnp.full((max(self.n2, 2) - 1,), p[0]))])
        return powers[lag]
