"""EBLUPs on the general path, from the mixed model equations.

With M⁻¹G = (G⁻¹ + Z'R⁻¹Z)⁻¹ and r = y − Xβ̂ (Henderson 1975):

    b̂ = M⁻¹G Z'R⁻¹ r
    Var(b̂ − b) = M⁻¹G + T C T',   T = M⁻¹G Z'R⁻¹X,  C = (X'V⁻¹X)⁻¹

The diagonal of M⁻¹G is H_l + H_l C12_l S⁻¹G2 C21_l H_l on the eliminated
levels (summed over the pairs of C12 entries of level l) and that of S⁻¹G2
on the rest (see :mod:`.solve` for H, S and G2).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..design import effect_label
from ..likelihood import _g_stack
from .solve import factor, solve_b


@partial(jax.jit, static_argnames="layout")
def _solve_all(theta, cp, layout, beta, cov_b):
    fac = factor(theta, cp, layout)
    s2, h = fac["s2"], fac["h"]
    p = cp.uu.shape[0] - 1
    coef = jnp.concatenate([-beta, jnp.ones((1,), beta.dtype)])  # r = [X y] (−β, 1)
    f1 = cp.f1 / s2
    f2 = cp.f2 / s2
    # columns: the p columns of X, then r
    f1r = jnp.concatenate([f1[..., :p], (f1 @ coef)[..., None]], axis=-1)
    f2r = jnp.concatenate([f2[:, :p], (f2 @ coef)[:, None]], axis=-1)
    t1, t2, _ = solve_b(fac, cp, f1r, f2r)
    b1, b2 = t1[..., p], t2[:, p]
    tx1, tx2 = t1[..., :p], t2[:, :p]
    pev1 = jnp.einsum("lip,pq,liq->li", tx1, cov_b, tx1)
    pev2 = jnp.einsum("jp,pq,jq->j", tx2, cov_b, tx2)
    hdiag = jnp.einsum("lii->li", h)
    q2 = cp.c22.shape[0]
    if q2:
        rows = jnp.broadcast_to(jnp.arange(q2)[:, None], cp.partner.shape)
        g2 = jnp.zeros((q2, q2), theta.dtype).at[rows, cp.partner].add(fac["g2w"])
        sg = jax.scipy.linalg.lu_solve(fac["lu"], g2)  # S⁻¹G2
        # C12_l S⁻¹G2 C21_l over pairs, then H_l (.) H_l
        # pairs a <= b, diagonal ones halved: the sum over all ordered pairs is U + U'
        w = sg[cp.nz_col[cp.pair_a], cp.nz_col[cp.pair_b]] / (s2 * s2)
        mid = jax.ops.segment_sum(cp.pair_prod * w[:, None, None], cp.pair_level, num_segments=cp.c11.shape[0])
        mid = mid + jnp.swapaxes(mid, 1, 2)
        diag1 = hdiag + jnp.einsum("lij,ljk,lki->li", h, mid, h)
        diag2 = jnp.diagonal(sg)
    else:
        diag1, diag2 = hdiag, jnp.zeros((0,), theta.dtype)
    return b1, b2, diag1 + pev1, diag2 + pev2, s2


def random_solution(ctx) -> dict:
    design, layout, info = ctx.design, ctx.layout, ctx.blocks
    cp = ctx.buckets
    theta = jnp.asarray(ctx.theta)
    beta = jnp.asarray(ctx.beta)
    b1, b2, pev1, pev2, s2 = (np.asarray(a) for a in _solve_all(theta, cp, layout, beta, jnp.asarray(ctx.cov_b)))
    s2 = float(s2)
    gstack = np.asarray(_g_stack(theta, layout))
    n = ctx.n_obs
    xb = np.asarray(design.x, float) @ ctx.beta if ctx.beta.size else np.zeros(n)
    zb = np.zeros(n)
    zgz = np.zeros(n)
    rows = []
    for f in info.factors:
        r = design.randoms[f.statement]
        if f.statement == info.eliminated:
            est, pev = b1, pev1  # (g1, d1)
        else:
            sl = slice(f.offset, f.offset + f.n_levels * f.dim)
            est, pev = b2[sl].reshape(f.n_levels, f.dim), pev2[sl].reshape(f.n_levels, f.dim)
        zb += np.einsum("ni,ni->n", r.z, est[r.subject])
        g = gstack[f.statement][: f.dim, : f.dim]
        zgz += np.einsum("ni,ij,nj->n", r.z, g, r.z)
        for lev in range(f.n_levels):
            for e in range(f.dim):
                rows.append({
                    "Statement": f.statement + 1,
                    "Effect": effect_label(r.names[e]),
                    "Subject": r.statement.subject or "",
                    "Level": r.subject_levels[lev] if r.statement.subject else "",
                    "Estimate": float(est[lev, e]),
                    "StdErrPred": float(np.sqrt(max(pev[lev, e], 0.0))),
                })
    table = pd.DataFrame(rows, columns=["Statement", "Effect", "Subject", "Level", "Estimate", "StdErrPred"])
    w = design.weights if design.weights is not None else np.ones(n)
    x = np.asarray(design.x, float)
    xcx = np.einsum("np,pq,nq->n", x, ctx.cov_b, x) if ctx.beta.size else np.zeros(n)
    y = np.asarray(design.y, float)
    pred_c = xb + zb
    diag_r = s2 / w
    return {
        "table": table,
        "pred_marginal": xb,
        "pred_conditional": pred_c,
        "resid_marginal": y - xb,
        "resid_conditional": y - pred_c,
        "var_resid_marginal": zgz + diag_r - xcx,
        "var_resid_conditional": None,  # diag(R P R) needs V⁻¹ row by row: not formed here
        "var_y_marginal": zgz + diag_r,
        "var_y_conditional": diag_r,
    }
