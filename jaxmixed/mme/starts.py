"""MIVQUE0 on the general path, from the same cross-products.

With the prior weight V₀ = W⁻¹ (I without a WEIGHT statement, PROC MIXED's
MIVQUE0), in the W^½-transformed data and with Q = I − X(X'WX)⁻X'W,
A = Z'WQZ and r = Qy,

    φ(θ) = tr(Q V Q V) = tr(G A G A) + 2σ² tr(G A) + σ⁴ (N − rank X)
    ψ(θ) = y'Q V Q y  = r'WZ G Z'Wr + σ² r'Wr

for V = Z G(θ) Z' + σ² W⁻¹.  The MIVQUE0 system T θ = q has
T_kl = tr(Q V_k Q V_l) = ½ ∂²φ/∂θ_k∂θ_l and q_k = ∂ψ/∂θ_k, exact for
parameters in which G is linear (the variance-type ones solved for).
With A = C − B, C = Z'WZ, B = F M F', F = Z'WX, M = (X'WX)⁻¹ and Y = G F,

    tr(GAGA) = tr(GCGC) − 2 tr(M Y'CY) + tr(F'GF M F'GF M),

and tr(GCGC) splits over C's blocks: per eliminated level, over the pairs of
C12 entries, and the dense rest.  Nothing larger than q2×q2 is formed.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..likelihood import _g_stack
from .solve import g2_times


def _g_parts(theta, cp, layout):
    gst = _g_stack(theta, layout)
    d1 = cp.c11.shape[-1]
    g1 = gst[cp.g1_kind][:d1, :d1]
    g2w = gst[cp.col_kind[:, None], cp.col_eff[:, None], cp.partner_eff] * cp.partner_ok
    return g1, g2w


def _g2_dense(g2w, partner):
    q2 = partner.shape[0]
    rows = jnp.broadcast_to(jnp.arange(q2)[:, None], partner.shape)
    return jnp.zeros((q2, q2), g2w.dtype).at[rows, partner].add(g2w)


def _c_times(cp, y1, y2):
    """C Y for Y = (Y1 (g1, d1, m), Y2 (q2, m)) with C = Z'WZ."""
    o1 = jnp.einsum("lij,ljm->lim", cp.c11, y1)
    o2 = cp.c22 @ y2
    if cp.c22.shape[0]:
        v1 = cp.nz_val[:, :, None] * y2[cp.nz_col][:, None, :]
        o1 = o1 + jax.ops.segment_sum(v1, cp.nz_level, num_segments=cp.c11.shape[0])
        v2 = jnp.einsum("ni,nim->nm", cp.nz_val, y1[cp.nz_level])
        o2 = o2 + jax.ops.segment_sum(v2, cp.nz_col, num_segments=cp.c22.shape[0])
    return o1, o2


def _phi_psi(theta, cp, layout, n_minus_p):
    g1, g2w = _g_parts(theta, cp, layout)
    s2 = theta[-1]
    p = cp.uu.shape[0] - 1
    xx = cp.uu[:p, :p]
    m = jnp.linalg.pinv(xx)
    beta = m @ cp.uu[:p, p]
    f1, f2 = cp.f1[..., :p], cp.f2[:, :p]
    y1 = jnp.einsum("ij,ljm->lim", g1, f1)
    y2 = g2_times(g2w, cp.partner, f2)
    fgf = jnp.einsum("lim,lin->mn", f1, y1) + f2.T @ y2
    cy1, cy2 = _c_times(cp, y1, y2)
    ycy = jnp.einsum("lim,lin->mn", y1, cy1) + y2.T @ cy2

    gc1 = jnp.einsum("ij,ljk->lik", g1, cp.c11)
    tr_gcgc = jnp.einsum("lij,lji->", gc1, gc1)
    tr_gc = jnp.einsum("lii->", gc1)
    if cp.c22.shape[0]:
        g2 = _g2_dense(g2w, cp.partner)
        gc2 = g2 @ cp.c22
        tr_gcgc = tr_gcgc + jnp.sum(gc2 * gc2.T)
        tr_gc = tr_gc + jnp.trace(gc2)
        # pairs a <= b (diagonal ones halved) count each unordered pair once: 2 Σ over them is Σ over all
        g2ab = g2[cp.nz_col[cp.pair_a], cp.nz_col[cp.pair_b]] + g2[cp.nz_col[cp.pair_b], cp.nz_col[cp.pair_a]]
        tr_gcgc = tr_gcgc + 2.0 * jnp.sum(jnp.einsum("pij,ji->p", cp.pair_prod, g1) * g2ab)
    tr_gaga = tr_gcgc - 2.0 * jnp.trace(m @ ycy) + jnp.trace(fgf @ m @ fgf @ m)
    tr_ga = tr_gc - jnp.trace(m @ fgf)
    phi = tr_gaga + 2.0 * s2 * tr_ga + s2 * s2 * n_minus_p

    r1 = cp.f1[..., p] - jnp.einsum("lim,m->li", f1, beta)
    r2 = cp.f2[:, p] - f2 @ beta
    rr = cp.uu[p, p] - cp.uu[:p, p] @ beta
    psi = jnp.einsum("li,ij,lj->", r1, g1, r1) + r2 @ g2_times(g2w, cp.partner, r2) + s2 * rr
    return phi, psi


@partial(jax.jit, static_argnames="layout")
def mivque_system(theta0, cp, layout, n_minus_p):
    t = 0.5 * jax.hessian(lambda th: _phi_psi(th, cp, layout, n_minus_p)[0])(theta0)
    q = jax.grad(lambda th: _phi_psi(th, cp, layout, n_minus_p)[1])(theta0)
    return t, q


def mivque0(cp, layout) -> np.ndarray:
    """MIVQUE0 estimates of the natural parameters (non-linear ones at default)."""
    from ..optimize.starts import linear_mask

    theta0 = np.concatenate([s.default_start() for s in layout.structures])
    p = cp.uu.shape[0] - 1
    rank_x = np.linalg.matrix_rank(np.asarray(cp.uu)[:p, :p]) if p else 0
    t, q = mivque_system(jnp.asarray(theta0), cp, layout, float(cp.n_obs) - rank_x)
    t, q = np.asarray(t), np.asarray(q)
    lin = linear_mask(layout)
    sol = np.linalg.lstsq(t[np.ix_(lin, lin)], q[lin], rcond=1e-12)[0]
    theta = theta0.copy()
    theta[lin] = sol
    return theta
