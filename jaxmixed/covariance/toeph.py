"""TOEPH: heterogeneous Toeplitz, M_ij = σ_i σ_j ρ_|i−j| (ρ_0 = 1).

PROC MIXED TYPE=TOEPH.  Parameters ``Var(1)`` ... ``Var(d)`` (σ_i²) and the
lag correlations ρ_1 ... ρ_{d−1}, printed here as ``TOEPH(1)`` ...
``TOEPH(d−1)``.  Working: σ_i² = w_i²; the correlations are reached through
their partial autocorrelations φ_k = tanh(w_k) (Durbin–Levinson), which
gives every positive-definite Toeplitz correlation matrix and nothing else.
Not a scale structure, so nothing is profiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from ._corr import Hetero, acf_to_pacf, atanh_clip, pacf_to_acf, toeplitz


@dataclass(frozen=True)
class TOEPH(Hetero):
    name = "TOEPH"

    def corr_names(self):
        return tuple(f"TOEPH({k})" for k in range(1, self.dim))

    def corr_to_natural(self, w):
        return pacf_to_acf(jnp.tanh(w))

    def corr_to_working(self, rho):
        return atanh_clip(acf_to_pacf(rho))

    def corr_matrix(self, rho):
        return toeplitz(jnp.concatenate([jnp.ones((1,), rho.dtype), rho]))
