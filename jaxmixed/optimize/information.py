"""Trace terms shared by MIVQUE0 and Fisher scoring.

For V = V(θ) with derivatives V_k = ∂V/∂θ_k and P = V⁻¹ − V⁻¹X(X'V⁻¹X)⁻¹X'V⁻¹,

    T_kl = tr(P V_k P V_l)        (REML; tr(V⁻¹V_k V⁻¹V_l) for ML)
    q_k  = y'P V_k P y

T is the expected information of −2ℓ in θ (Fisher scoring), and with the
weight V = I the pair (T, q) is the MIVQUE0 system T θ = q (Rao 1971).
Writing C = (X'V⁻¹X)⁻¹, A_k = X'V⁻¹V_kV⁻¹X and B_kl = X'V⁻¹V_kV⁻¹V_lV⁻¹X,

    tr(P V_k P V_l) = tr(V⁻¹V_kV⁻¹V_l) − 2 tr(C B_kl) + tr(C A_k C A_l),

and every piece is a sum over blocks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..blocks import Layout
from ..likelihood import block_v, fold_blocks, n_columns


def _weight_inverse(theta, b, layout: Layout, identity_weight: bool):
    if identity_weight:
        n = b["mask"].shape[1]
        return jnp.broadcast_to(jnp.eye(n, dtype=theta.dtype), b["mask"].shape[:1] + (n, n)) * b["mask"][:, None, :]
    return jnp.linalg.inv(block_v(theta, b, layout))


def trace_terms(theta, buckets, layout: Layout, *, identity_weight: bool = False, reml: bool = True):
    """(T, q) at θ; V_k are taken at θ, the weight V is V(θ) or I.

    Two passes over the blocks, each chunked (:func:`likelihood.fold_blocks`):
    the first sums X'V⁻¹X and X'V⁻¹y for C and β̂, the second the terms
    that need them, so memory stays at one chunk of blocks."""
    p = n_columns(buckets)
    k = theta.shape[0]
    dtype = theta.dtype

    def first(b):
        winv = _weight_inverse(theta, b, layout, identity_weight)
        xw = winv @ b["x"]
        return jnp.einsum("bni,bnj->ij", b["x"], xw), jnp.einsum("bni,bn->i", xw, b["y"])

    xvx, xvy = fold_blocks(first, buckets, (jnp.zeros((p, p), dtype), jnp.zeros((p,), dtype)))
    c = jnp.linalg.pinv(xvx) if p else jnp.zeros((0, 0), dtype)
    beta = c @ xvy

    def second(b):
        dv = jax.jacfwd(lambda t: block_v(t, b, layout))(theta)  # (B, n, n, K)
        dv = jnp.moveaxis(dv, -1, 1)  # (B, K, n, n)
        winv = _weight_inverse(theta, b, layout, identity_weight)
        xw = winv @ b["x"]  # V⁻¹X  (B, n, p)
        yw = jnp.einsum("bij,bj->bi", winv, b["y"])
        mk = winv[:, None] @ dv  # V⁻¹V_k  (B, K, n, n)
        t = jnp.einsum("bkij,blji->kl", mk, mk)
        r = yw - jnp.einsum("bnp,p->bn", xw, beta)  # V⁻¹(y − Xβ̂)
        q = jnp.einsum("bi,bkij,bj->k", r, dv, r)
        if reml and p:
            vkx = dv @ xw[:, None]  # V_k V⁻¹X  (B, K, n, p)
            a = jnp.einsum("bnp,bknq->kpq", xw, vkx)
            bkl = jnp.einsum("pq,bknq,blnp->kl", c, vkx, winv[:, None] @ vkx)
        else:
            a, bkl = jnp.zeros((k, p, p), dtype), jnp.zeros((k, k), dtype)
        return t, q, a, bkl

    zero = (jnp.zeros((k, k), dtype), jnp.zeros((k,), dtype), jnp.zeros((k, p, p), dtype), jnp.zeros((k, k), dtype))
    t, q, a, bkl = fold_blocks(second, buckets, zero)
    if reml and p:
        t = t - 2.0 * bkl + jnp.einsum("pq,kqr,rs,lsp->kl", c, a, c, a)
    return t, q
