"""The covariance of β̂ and how it moves with the covariance parameters.

With Φ(θ) = (X'V(θ)⁻¹X)⁻¹ (PROC MIXED's model-based covariance of β̂) and the
Kenward & Roger (1997) terms

    P_i  = X' ∂V⁻¹/∂θ_i X = −X'V⁻¹V_iV⁻¹X,
    Q_ij = X'V⁻¹V_iV⁻¹V_jV⁻¹X,
    R_ij = X'V⁻¹ (∂²V/∂θ_i∂θ_j) V⁻¹X,

the derivatives of Φ are ∂Φ/∂θ_i = −Φ P_i Φ and

    ∂²Φ/∂θ_i∂θ_j = Φ (P_iΦP_j + P_jΦP_i − Q_ij − Q_ji + R_ij) Φ.

Both come here from automatic differentiation of Φ(θ) itself (``jax.jacfwd``
of a function of the natural θ), so no structure needs hand-written
derivatives.  Kenward and Roger's adjusted covariance

    Φ_A = Φ + 2Φ {Σ_ij W_ij (Q_ij − P_iΦP_j − ¼ R_ij)} Φ

then follows, for a symmetric W, from the identity above as

    Φ_A = Φ − Σ_ij W_ij ∂²Φ/∂θ_i∂θ_j + ½ Φ (Σ_ij W_ij R_ij) Φ,

and R_ij is the Hessian of θ' ↦ X'V₀⁻¹V(θ')V₀⁻¹X with V₀ = V(θ̂) held fixed;
it vanishes for structures linear in θ (VC, UN, CS, UN(1)).

W is the asymptotic covariance of θ̂, 2H⁻¹ with H the Hessian of −2ℓ in the
natural parameters (the inverse observed information, what PROC MIXED uses
for DDFM=KR and DDFM=SATTERTHWAITE by default and what lmerTest uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..blocks import Layout
from ..likelihood import block_v, sums


def _phi(theta, buckets, layout: Layout):
    _, xvx, _, _ = sums(theta, buckets, layout)
    return jnp.linalg.inv(xvx)


@partial(jax.jit, static_argnames=("layout", "second"))
def _phi_derivatives(theta, buckets, layout: Layout, second: bool):
    phi = _phi(theta, buckets, layout)
    jac = jax.jacfwd(_phi)(theta, buckets, layout)  # (p, p, K)
    hess = jax.jacfwd(jax.jacfwd(_phi))(theta, buckets, layout) if second else None  # (p, p, K, K)
    return phi, jac, hess


def _xvdvx(theta_v, buckets, layout: Layout, theta0):
    """X'V₀⁻¹ V(θ_v) V₀⁻¹X summed over blocks, V₀ = V(θ0) held fixed."""
    total = 0.0
    for b in buckets:
        v0 = jax.lax.stop_gradient(block_v(theta0, b, layout))
        chol = jnp.linalg.cholesky(v0)
        vx = jax.scipy.linalg.cho_solve((chol, True), b["x"])  # (B, n, p)
        v = block_v(theta_v, b, layout)
        mask = b["mask"]
        v = v * (mask[:, :, None] * mask[:, None, :])
        total = total + jnp.einsum("bni,bnm,bmj->ij", vx, v, vx)
    return total


@partial(jax.jit, static_argnames=("layout",))
def _r_terms(theta, buckets, layout: Layout):
    return jax.jacfwd(jax.jacfwd(_xvdvx))(theta, buckets, layout, theta)  # (p, p, K, K)


@dataclass(frozen=True)
class Sensitivity:
    """Φ and its derivatives at θ̂ (non-aliased columns, layout order of θ)."""

    phi: np.ndarray  # (p, p)
    dphi: np.ndarray  # (K, p, p): ∂Φ/∂θ_k = −Φ P_k Φ
    d2phi: np.ndarray | None  # (K, K, p, p)
    r: np.ndarray | None  # (K, K, p, p) R_ij, None when every structure is linear

    @property
    def p_terms(self) -> np.ndarray:
        """P_k = −Φ⁻¹ (∂Φ/∂θ_k) Φ⁻¹."""
        inv = np.linalg.inv(self.phi)
        return -np.einsum("ij,kjl,lm->kim", inv, self.dphi, inv)


def _nonlinear(layout: Layout) -> bool:
    return any(not s.linear for s in layout.structures)


def sensitivity(ctx, second: bool = True) -> Sensitivity:
    theta = jnp.asarray(ctx.theta)
    if ctx.rank_x == 0:
        k = len(ctx.theta)
        z = np.zeros((0, 0))
        return Sensitivity(z, np.zeros((k, 0, 0)), np.zeros((k, k, 0, 0)), None)
    phi, jac, hess = _phi_derivatives(theta, ctx.buckets, ctx.layout, second)
    dphi = np.moveaxis(np.asarray(jac), -1, 0)
    d2phi = np.moveaxis(np.asarray(hess), (-2, -1), (0, 1)) if hess is not None else None
    r = None
    if second and _nonlinear(ctx.layout):
        r = np.moveaxis(np.asarray(_r_terms(theta, ctx.buckets, ctx.layout)), (-2, -1), (0, 1))
    return Sensitivity(np.asarray(phi), dphi, d2phi, r)


def kenward_roger_cov(ctx) -> np.ndarray:
    """Φ_A, the Kenward–Roger adjusted covariance of β̂ (non-aliased columns)."""
    s = ctx.sensitivity2
    w = ctx.w
    phi = ctx.cov_b
    if phi.size == 0:
        return phi
    if not np.all(np.isfinite(w)):
        return np.full_like(phi, np.nan)
    adj = phi - np.einsum("ij,ijab->ab", w, s.d2phi)
    if s.r is not None:
        adj = adj + 0.5 * phi @ np.einsum("ij,ijab->ab", w, s.r) @ phi
    return 0.5 * (adj + adj.T)
