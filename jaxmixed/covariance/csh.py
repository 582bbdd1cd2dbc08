"""CSH: heterogeneous compound symmetry, M_ij = σ_i σ_j [ρ 1(i≠j) + 1(i=j)].

PROC MIXED TYPE=CSH (REPEATED/RANDOM statement, "Covariance Structure
Examples" table).  Parameters as PROC MIXED prints them: ``Var(1)`` ...
``Var(d)`` (σ_i²) and ``CSH`` (ρ).  Positive definite by construction:
ρ = l + (1 − l)(1 + tanh w)/2 lies in (l, 1) with l = −1/(d−1), the
positive-definite range of an equicorrelation matrix (l = −1 when d ≤ 2).
Not a scale structure, so nothing is profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._corr import Hetero, atanh_clip


@dataclass(frozen=True)
class CSH(Hetero):
    name = "CSH"

    @property
    def _low(self) -> float:
        return -1.0 / (self.dim - 1) if self.dim > 2 else -1.0

    def corr_names(self):
        return ("CSH",)

    def lower_bounds(self):
        lb = super().lower_bounds()
        lb[-1] = self._low
        return lb

    def corr_to_natural(self, w):
        lo = self._low
        return lo + (1.0 - lo) * 0.5 * (1.0 + jnp.tanh(w))

    def corr_to_working(self, rho):
        lo = self._low
        return atanh_clip(2.0 * (np.asarray(rho, float) - lo) / (1.0 - lo) - 1.0)

    def corr_matrix(self, rho):
        d = self.dim
        eye = jnp.eye(d, dtype=rho.dtype)
        return rho[0] * (1.0 - eye) + eye
