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
from ..likelihood import block_v, n_columns


def trace_terms(theta, buckets, layout: Layout, *, identity_weight: bool = False, reml: bool = True):
    """(T, q) at θ; V_k are taken at θ, the weight V is V(θ) or I."""
    p = n_columns(buckets)
    k = theta.shape[0]
    dtype = theta.dtype
    parts = []
    xvx = jnp.zeros((p, p), dtype)
    xvy = jnp.zeros((p,), dtype)
    for b in buckets:
        dv = jax.jacfwd(lambda t: block_v(t, b, layout))(theta)  # (B, n, n, K)
        dv = jnp.moveaxis(dv, -1, 1)  # (B, K, n, n)
        if identity_weight:
            n = b["mask"].shape[1]
            winv = jnp.broadcast_to(jnp.eye(n, dtype=dtype), b["z"].shape[:1] + (n, n)) * b["mask"][:, None, :]
        else:
            winv = jnp.linalg.inv(block_v(theta, b, layout))
        xw = winv @ b["x"]  # V⁻¹X  (B, n, p)
        yw = jnp.einsum("bij,bj->bi", winv, b["y"])
        xvx = xvx + jnp.einsum("bni,bnj->ij", b["x"], xw)
        xvy = xvy + jnp.einsum("bni,bn->i", xw, b["y"])
        parts.append((dv, winv, xw, yw))
    c = jnp.linalg.pinv(xvx) if p else jnp.zeros((0, 0), dtype)
    beta = c @ xvy
    t = jnp.zeros((k, k), dtype)
    q = jnp.zeros((k,), dtype)
    a = jnp.zeros((k, p, p), dtype)
    bkl = jnp.zeros((k, k), dtype)
    for dv, winv, xw, yw in parts:
        mk = winv[:, None] @ dv  # V⁻¹V_k  (B, K, n, n)
        t = t + jnp.einsum("bkij,blji->kl", mk, mk)
        r = yw - jnp.einsum("bnp,p->bn", xw, beta)  # V⁻¹(y − Xβ̂)
        q = q + jnp.einsum("bi,bkij,bj->k", r, dv, r)
        if reml and p:
            vkx = dv @ xw[:, None]  # V_k V⁻¹X  (B, K, n, p)
            a = a + jnp.einsum("bnp,bknq->kpq", xw, vkx)
            bkl = bkl + jnp.einsum("pq,bknq,blnp->kl", c, vkx, winv[:, None] @ vkx)
    if reml and p:
        t = t - 2.0 * bkl + jnp.einsum("pq,kqr,rs,lsp->kl", c, a, c, a)
    return t, q
