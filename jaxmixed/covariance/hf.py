"""HF: Huynh–Feldt, M_ij = (σ_i² + σ_j²)/2 − λ 1(i≠j).

PROC MIXED TYPE=HF.  Parameters ``Var(1)`` ... ``Var(d)`` (σ_i², the
diagonal) and ``HF`` (λ); every difference y_i − y_j then has variance 2λ
(the sphericity condition).  Writing b = (σ² − λ)/2, M = λ I + b1' + 1b',
which is positive definite exactly when λ > 0 and λ + 1'b > √(d b'b).
Working parameters reach exactly that region: λ = exp(w₀); b = (t/d) 1 + H c
with H an orthonormal basis of the contrasts (1'H = 0), c = (w₁ … w_{d−1}),
and t = (d|c|² − λ²)/(2λ) + exp(w_d).  (PROC MIXED leaves HF unconstrained
but for the variances.)  Linear in θ (MIVQUE0 solves for all of it); not a
scale structure, so nothing is profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


def _contrasts(d: int) -> np.ndarray:
    """d × (d−1) orthonormal basis orthogonal to the ones vector (Helmert)."""
    h = np.zeros((d, max(d - 1, 0)))
    for k in range(1, d):
        h[:k, k - 1] = 1.0
        h[k, k - 1] = -k
        h[:, k - 1] /= np.sqrt(k * (k + 1))
    return h


@dataclass(frozen=True)
class HF(Structure):
    name = "HF"
    linear = True

    def param_names(self):
        return tuple(f"Var({k + 1})" for k in range(self.dim)) + ("HF",)

    def variance_mask(self):
        return np.arange(self.dim + 1) < self.dim

    def scale_mask(self):
        return np.ones(self.dim + 1, bool)

    def default_start(self):
        return np.concatenate([np.ones(self.dim), [1.0]])  # M = I

    def to_natural(self, w):
        d = self.dim
        lam = jnp.exp(w[0])
        c = jnp.asarray(_contrasts(d), w.dtype) @ w[1:d]
        t = (d * jnp.sum(c * c) - lam * lam) / (2.0 * lam) + jnp.exp(w[d])
        b = t / d + c
        return jnp.concatenate([2.0 * b + lam, lam[None]])

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        d = self.dim
        var, lam = theta[:d], theta[d]
        if not lam > 0:  # λ ≤ 0 (an indefinite start): lift it
            lam = 1e-3 * max(float(np.mean(np.abs(var))), 1e-12)
        b = (var - lam) / 2.0
        h = _contrasts(d)
        coef = h.T @ b
        c = h @ coef
        slack = b.sum() - (d * float(c @ c) - lam**2) / (2.0 * lam)
        if not slack > 0:  # not positive definite: move inside
            slack = 1e-3 * lam
        return np.concatenate([[np.log(lam)], coef, [np.log(slack)]])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        d = self.dim
        var, lam = theta[:d], theta[d]
        full = 0.5 * (var[:, None] + var[None, :]) - lam * (1.0 - jnp.eye(d, dtype=theta.dtype))
        return full[pos[:, None], pos[None, :]]
