"""The four likelihood sums from the mixed model equations (Henderson 1950;
Searle, Casella and McCulloch 1992, ch. 7), as pure JAX.

With V = Z G Z' + σ² W⁻¹ and C = Z'WZ/σ², Sylvester's identity gives

    log|V| = N log σ² − log|W| + log|M|,   M = I + G C,

and for U = [X y], F = Z'WU/σ²,

    U'V⁻¹U = U'WU/σ² − F' M⁻¹G F.

M is not symmetric, but M⁻¹G = (G⁻¹ + C)⁻¹ is; writing M through G (and not
G^½ or G⁻¹) keeps V, log|V| and every derivative smooth in the natural θ,
also where a variance is 0.  M is eliminated in two steps: the eliminated
factor's block-diagonal part M11 = I + G1 C11 (one d1×d1 block per level,
H_l = M11_l⁻¹ G1), then the dense Schur complement over the rest columns

    S = I + G2 K,   K = C22 − C21 H C12,

so log|M| = Σ_l log|M11_l| + log|S| and, with F̃2 = F2 − C21 H F1,

    F' M⁻¹G F = F1'H F1 + F̃2' S⁻¹G2 F̃2.

C21 H C12 is accumulated over the pairs of C12 entries on one eliminated
level, never as a dense g1×q2 product.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..likelihood import _g_stack as g_stack


def _pieces(theta, cp, layout):
    """The eliminated blocks and the Schur complement at natural θ."""
    gst = g_stack(theta, layout)
    s2 = theta[-1]  # R = σ² W⁻¹: the residual variance is the last parameter
    d1 = cp.c11.shape[-1]
    g1 = gst[cp.g1_kind][:d1, :d1]
    c11 = cp.c11 / s2
    eye1 = jnp.eye(d1, dtype=theta.dtype)
    m11 = eye1 + jnp.einsum("ij,ljk->lik", g1, c11)
    h = jnp.linalg.solve(m11, jnp.broadcast_to(g1, m11.shape))
    h = 0.5 * (h + jnp.swapaxes(h, 1, 2))  # (G1⁻¹ + C11)⁻¹ is symmetric
    logdet1 = jnp.sum(jnp.linalg.slogdet(m11)[1])

    # G2 as gather weights: (G2 A)[j] = Σ_e G2[j, partner[j, e]] A[partner[j, e]].
    g2w = gst[cp.col_kind[:, None], cp.col_eff[:, None], cp.partner_eff] * cp.partner_ok
    return gst, s2, g1, h, logdet1, g2w


def g2_times(g2w, partner, a):
    if partner.shape[1] == 1:  # every rest factor has one effect: G2 is diagonal
        return g2w[:, 0].reshape((-1,) + (1,) * (a.ndim - 1)) * a
    return jnp.einsum("je,je...->j...", g2w, a[partner])


def _schur(cp, h, s2):
    """K = C22 − C21 H C12 from the pairs a <= b (all over σ²): with
    T = Σ_pairs (c_a' H_l c_b) e_a e_b', C21 H C12 = T + T'."""
    q2 = cp.c22.shape[0]
    k = cp.c22 / s2
    if not q2:
        return k
    vals = jnp.einsum("pij,pij->p", cp.pair_prod, h[cp.pair_level]) / (s2 * s2)
    t = jax.ops.segment_sum(vals, cp.pair_flat, num_segments=q2 * q2, indices_are_sorted=True).reshape(q2, q2)
    return k - t - t.T


def _c21_h(cp, h, s2, a1):
    """C21 H A1 for A1 (g1, d1, m): (q2, m)."""
    v = jnp.einsum("ni,nij,njm->nm", cp.nz_val, h[cp.nz_level], a1[cp.nz_level]) / s2
    return jax.ops.segment_sum(v, cp.nz_col, num_segments=cp.c22.shape[0])


def _c12(cp, s2, a2):
    """C12 A2 for A2 (q2, m): (g1, d1, m)."""
    v = cp.nz_val[:, :, None] * a2[cp.nz_col][:, None, :] / s2
    return jax.ops.segment_sum(v, cp.nz_level, num_segments=cp.c11.shape[0])


def factor(theta, cp, layout):
    """Everything the solves need at θ: (H, LU of S, G2 gather weights, log|V|, σ²)."""
    gst, s2, g1, h, logdet1, g2w = _pieces(theta, cp, layout)
    q2 = cp.c22.shape[0]
    k = _schur(cp, h, s2)
    s = jnp.eye(q2, dtype=theta.dtype) + g2_times(g2w, cp.partner, k)
    lu = jax.scipy.linalg.lu_factor(s) if q2 else None
    logdet2 = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(lu[0])))) if q2 else 0.0
    logdet_v = cp.n_obs * jnp.log(s2) - cp.sum_log_w + logdet1 + logdet2
    return dict(h=h, lu=lu, g2w=g2w, s2=s2, g1=g1, logdet_v=logdet_v)


def solve_b(fac, cp, f1, f2):
    """t = M⁻¹G F for F = (F1, F2) (already over σ²): returns (t1, t2, F̃2)."""
    h, s2 = fac["h"], fac["s2"]
    f2t = f2 - _c21_h(cp, h, s2, f1) if f2.shape[0] else f2
    if f2.shape[0]:
        t2 = jax.scipy.linalg.lu_solve(fac["lu"], g2_times(fac["g2w"], cp.partner, f2t))
        t1 = jnp.einsum("lij,ljm->lim", h, f1 - _c12(cp, s2, t2))
    else:
        t2 = f2t
        t1 = jnp.einsum("lij,ljm->lim", h, f1)
    return t1, t2, f2t


def sums(theta, cp, layout):
    """(log|V|, X'V⁻¹X, X'V⁻¹y, y'V⁻¹y) at natural θ."""
    fac = factor(theta, cp, layout)
    s2 = fac["s2"]
    f1 = cp.f1 / s2
    f2 = cp.f2 / s2
    _, t2, f2t = solve_b(fac, cp, f1, f2)
    a = cp.uu / s2 - jnp.einsum("lim,lij,ljn->mn", f1, fac["h"], f1)
    if f2.shape[0]:
        a = a - f2t.T @ t2
    a = 0.5 * (a + a.T)
    p = a.shape[0] - 1
    return fac["logdet_v"], a[:p, :p], a[:p, p], a[p, p]
