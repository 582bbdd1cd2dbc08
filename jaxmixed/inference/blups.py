"""EBLUPs of the random effects, predicted values and residuals.

Per block, with r = y − Xβ̂, C = (X'V⁻¹X)⁻¹ and P = V⁻¹ − V⁻¹XCX'V⁻¹
(PROC MIXED documentation, "Estimating Fixed and Random Effects" and
"Residuals and Influence Diagnostics"):

    b̂ = G Z'V⁻¹ r                                   (Solution for Random Effects)
    Var(b̂ − b) = G − G Z'V⁻¹Z G + G Z'V⁻¹X C X'V⁻¹Z G   (its StdErrPred)

    marginal:     ŷ = Xβ̂,        r_m = y − Xβ̂,   Var(r_m) = V − XCX'
    conditional:  ŷ = Xβ̂ + Zb̂,   r_c = y − ŷ = R V⁻¹ r,   Var(r_c) = R P R

Pearson residuals divide by the square root of the diagonal of V (marginal)
or R (conditional); studentized residuals by that of Var(r).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..blocks import Layout
from ..design import effect_label
from ..likelihood import _g_stack, block_v


@partial(jax.jit, static_argnames="layout")
def _v_and_g(theta, buckets, layout: Layout):
    return [block_v(theta, b, layout) for b in buckets], _g_stack(theta, layout)


def random_solution(ctx) -> dict:
    if ctx.layout.path == "mme":
        from ..mme.blups import random_solution as mme_solution

        return mme_solution(ctx)
    design, layout, blocks = ctx.design, ctx.layout, ctx.blocks
    theta = jnp.asarray(ctx.theta)
    vs, gstack = _v_and_g(theta, ctx.buckets, layout)
    gstack = np.asarray(gstack)
    beta = ctx.beta
    cov = ctx.cov_b
    n = ctx.n_obs
    out_rows = []
    pred_c = np.zeros(n)
    var_m = np.zeros(n)
    var_c = np.zeros(n)
    diag_v = np.zeros(n)
    diag_r = np.zeros(n)
    xb = np.asarray(design.x, float) @ beta if beta.size else np.zeros(n)
    for bi, bucket in enumerate(ctx.buckets):
        members = blocks.bucket_members[bi]
        v = np.asarray(vs[bi])  # (B, m, m)
        x = np.asarray(bucket["x"])
        y = np.asarray(bucket["y"])
        z = np.asarray(bucket["z"])
        kind = np.asarray(bucket["zkind"])
        eff = np.asarray(bucket["zeff"])
        slot = np.asarray(bucket["zslot"])
        valid = np.asarray(bucket["zvalid"])
        if z.shape[-1]:
            g = gstack[kind[:, :, None], eff[:, :, None], eff[:, None, :]]
            g = g * (slot[:, :, None] == slot[:, None, :]) * valid[:, :, None] * valid[:, None, :]
        else:
            g = np.zeros(z.shape[:1] + (0, 0))
        vinv = np.linalg.inv(v)
        r = y - np.einsum("bnp,p->bn", x, beta) if beta.size else y
        vr = np.einsum("bnm,bm->bn", vinv, r)
        zg = z @ g  # (B, m, q)
        bhat = np.einsum("bnq,bn->bq", zg, vr)
        vx = vinv @ x  # (B, m, p)
        gzvz = np.swapaxes(zg, 1, 2) @ vinv @ zg  # G Z'V⁻¹Z G
        gzvx = np.swapaxes(zg, 1, 2) @ vx  # G Z'V⁻¹X
        pev = g - gzvz + gzvx @ cov @ np.swapaxes(gzvx, 1, 2)
        rmat = v - zg @ np.swapaxes(z, 1, 2)  # R (padding: identity)
        xcx = x @ cov @ np.swapaxes(x, 1, 2)
        # P = V⁻¹ − V⁻¹XCX'V⁻¹;  R P R
        pmat = vinv - vx @ cov @ np.swapaxes(vx, 1, 2)
        rpr = rmat @ pmat @ rmat
        zb = np.einsum("bnq,bq->bn", z, bhat)
        for j, blk in enumerate(members):
            rows = blocks.rows_of_block[blk]
            m = len(rows)
            pred_c[rows] = xb[rows] + zb[j, :m]
            diag_v[rows] = np.diagonal(v[j])[:m]
            diag_r[rows] = np.diagonal(rmat[j])[:m]
            var_m[rows] = (np.diagonal(v[j]) - np.diagonal(xcx[j]))[:m]
            var_c[rows] = np.diagonal(rpr[j])[:m]
            slots = blocks.slots[blk] if blocks.slots else ()
            for c in np.flatnonzero(valid[j] > 0):
                s, subj, grp = slots[int(slot[j, c])]
                rd = design.randoms[s]
                out_rows.append({
                    "_statement": int(s), "_subject": int(subj), "_effect": int(eff[j, c]),
                    "Effect": effect_label(rd.names[int(eff[j, c])]),
                    "Subject": rd.statement.subject or "",
                    "Level": rd.subject_levels[int(subj)] if rd.statement.subject else "",
                    "Group": f"{rd.statement.group} {rd.group_levels[int(grp)]}" if rd.statement.group else "",
                    "Estimate": float(bhat[j, c]),
                    "StdErrPred": float(np.sqrt(max(pev[j, c, c], 0.0))),
                })
    cols = ["Effect", "Subject", "Level", "Group", "Estimate", "StdErrPred"]
    table = pd.DataFrame(out_rows, columns=["_statement", "_subject", "_effect"] + cols)
    if len(table):
        table = table.sort_values(["_statement", "_subject", "_effect"], kind="stable")
    table = table.drop(columns=["_subject", "_effect"]).rename(columns={"_statement": "Statement"})
    table["Statement"] = table["Statement"].astype(int) + 1
    if not (table["Group"] != "").any():
        table = table.drop(columns="Group")
    table = table.reset_index(drop=True)
    y = np.asarray(design.y, float)
    return {
        "table": table,
        "pred_marginal": xb,
        "pred_conditional": pred_c,
        "resid_marginal": y - xb,
        "resid_conditional": y - pred_c,
        "var_resid_marginal": var_m,
        "var_resid_conditional": var_c,
        "var_y_marginal": diag_v,
        "var_y_conditional": diag_r,
    }


def _kind(kind: str) -> str:
    from ..errors import SpecificationError

    k = str(kind).lower()
    if k in ("conditional", "cond", "c"):
        return "conditional"
    if k in ("marginal", "m", "population"):
        return "marginal"
    raise SpecificationError(f"kind={kind!r}: use 'conditional' (Xβ̂ + Zb̂) or 'marginal' (Xβ̂)")


def predicted(ctx, kind: str = "conditional") -> pd.Series:
    kind = _kind(kind)
    sol = ctx.random_solution
    return pd.Series(sol[f"pred_{kind}"], index=pd.Index(ctx.design.used_rows, name="row"), name="Pred")


def residuals(ctx, kind: str = "conditional", type: str = "raw") -> pd.Series:
    from ..errors import SpecificationError

    kind = _kind(kind)
    sol = ctx.random_solution
    r = sol[f"resid_{kind}"]
    t = str(type).lower()
    if t == "raw":
        val = r
    elif t == "pearson":
        val = r / np.sqrt(sol[f"var_y_{kind}"])
    elif t in ("studentized", "student"):
        if sol[f"var_resid_{kind}"] is None:
            from ..errors import UnsupportedOptionError

            raise UnsupportedOptionError(
                "studentized conditional residuals need diag(R P R), which the sparse mixed-model-equations "
                "path (crossed random effects) does not form; use type='pearson' or kind='marginal'"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            val = r / np.sqrt(np.maximum(sol[f"var_resid_{kind}"], 0.0))
    else:
        raise SpecificationError(f"type={type!r}: use 'raw', 'pearson' or 'studentized'")
    return pd.Series(val, index=pd.Index(ctx.design.used_rows, name="row"), name=f"{t.capitalize()}Resid")
