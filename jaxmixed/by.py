"""BY-group fits (PROC MIXED's BY statement): one model fitted separately to
every group of rows, all groups at once.

One design is built on all rows, so factor levels, random-effect GROUP= levels
and the covariance layout are the same in every group; the likelihood takes N
and rank X from the data, so groups share compiled programs.  A fixed-effect
column that is a linear combination of earlier ones within a group is zeroed
there (estimate 0, DF ".", as PROC MIXED prints an aliased effect).  Groups
are stacked by padded shape (size classes of their blocks, block counts
rounded up within a size band), and MIVQUE0 and Newton run vmapped over each
stack: a ragged set of groups compiles a few programs, not one per group.
"""

from __future__ import annotations

from contextlib import nullcontext

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .blocks import Layout, make_blocks, make_layout, padded_count
from .design import aliased_columns, build_design
from .errors import DataError, UnsupportedOptionError
from .optimize.information import trace_terms
from .optimize.newton import CONVERGED, STATUS_TEXT, newton
from .optimize.starts import linear_mask, start_working
from .progress import ByProgress


@partial(jax.jit, static_argnames="layout")
def _batched_mivque(theta0, stacked, layout: Layout):
    return jax.vmap(lambda b: trace_terms(theta0, b, layout, identity_weight=True))(stacked)


@partial(jax.jit, static_argnames=("layout", "maxiter", "maxfunc", "scoring"))
def _batched_newton(w0, stacked, layout: Layout, maxiter, maxfunc, convh, scoring):
    return jax.vmap(lambda w, b: newton(w, b, layout, maxiter=maxiter, maxfunc=maxfunc, convh=convh, scoring=scoring))(
        w0, stacked)


def _by_codes(frame: pd.DataFrame, cols: list[str]):
    """Group code per row and the group keys (sorted, as PROC MIXED's BY order)."""
    keys = frame[cols].drop_duplicates().sort_values(cols, kind="stable").reset_index(drop=True)
    codes = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(frame[cols]))
    return codes.astype(np.int64), keys


def _recode(codes: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Subject codes made distinct between groups, so no block spans two groups."""
    return pd.factorize(group * (int(codes.max(initial=0)) + 1) + codes)[0].astype(np.int64)


def _pad_fill(key: str, n: int):
    return {"zslot": -1, "w": 1.0}.get(key, 0)


def _stack(bucket: dict, index: np.ndarray, n: int) -> dict:
    """Blocks ``index`` (groups × blocks, −1 = padding) of one global bucket."""
    out = {}
    for k, a in bucket.items():
        pad = np.full((1,) + a.shape[1:], _pad_fill(k, n), a.dtype)
        if k == "rsub":
            pad[0] = -1 - np.arange(n)
        out[k] = np.concatenate([a, pad])[np.where(index >= 0, index, len(a))]
    return out


def fit_by(by, fixed, data, random, repeated, method, *, ddfm, covtest, weights, maxiter, maxfunc, convh, verbose=False,
           noprofile, scoring, parms):
    from .byresult import ByResult
    from .inference import default_ddfm

    cols = [by] if isinstance(by, str) else list(by)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise DataError(f"by= takes a column name or a list of them, got {by!r}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(f"by= column {missing[0]!r} is not in the data; columns are: {', '.join(map(str, data.columns))}")
    if parms is not None:
        raise UnsupportedOptionError("parms= together with by= (one set of starting values for every BY group)")
    if ddfm in ("satterthwaite", "kr"):
        raise UnsupportedOptionError(f"ddfm={ddfm!r} together with by= (use res[group] for one group's fit)")
    no_by = data[cols].isna().any(axis=1).to_numpy()
    kept_rows = np.flatnonzero(~no_by)
    data_by = data.iloc[kept_rows].reset_index(drop=True)
    gcode_data, keys = _by_codes(data_by, cols)
    n_groups = len(keys)
    n_read = np.bincount(gcode_data, minlength=n_groups)

    design = build_design(fixed, data_by, random, repeated, weights=weights)
    if ddfm is None:
        ddfm = default_ddfm(design)
    if ddfm == "bw":
        raise UnsupportedOptionError("ddfm='bw' together with by= (use ddfm='residual' or 'contain', or res[group])")
    layout = make_layout(design, method, noprofile=noprofile)
    gcode = gcode_data[design.used_rows]
    n_used = np.bincount(gcode, minlength=n_groups)

    # Columns aliased within each group are zeroed there.
    p = design.x.shape[1]
    order = np.argsort(gcode, kind="stable")
    gstart = np.searchsorted(gcode[order], np.arange(n_groups + 1))
    active = np.zeros((n_groups, p), bool)
    for g in range(n_groups):
        rows = order[gstart[g] : gstart[g + 1]]
        if len(rows):
            active[g] = ~aliased_columns(design.x[rows])
    rank_x = active.sum(axis=1)
    fit_design = dataclasses.replace(
        design,
        x=design.x * active[gcode],
        randoms=tuple(dataclasses.replace(r, subject=_recode(r.subject, gcode)) for r in design.randoms),
        repeated=dataclasses.replace(design.repeated, subject=_recode(design.repeated.subject, gcode))
        if design.repeated.subject_levels else design.repeated,
    )
    blocks = make_blocks(fit_design, layout)
    block_group = gcode[blocks.rows_of_block._values[blocks.rows_of_block._starts[:-1]]]  # group of each block

    # Groups that cannot be fitted at all.
    reason = np.full(n_groups, "", object)
    reml = method == "REML"
    too_few = n_used - (rank_x if reml else 0) < 1
    reason[too_few] = "too few observations for the model"
    reason[n_used == 0] = "no usable observations"
    ok = reason == ""

    # Stack the groups by padded shape.
    classes = [(b["y"].shape[1], b["z"].shape[2]) for b in blocks.buckets]
    counts = np.zeros((n_groups, len(classes)), np.int64)
    pos_in = []  # per bucket: position of each member block within its group's part of the bucket
    for c, members in enumerate(blocks.bucket_members):
        grp = block_group[members]
        counts[:, c] = np.bincount(grp, minlength=n_groups)
        o = np.argsort(grp, kind="stable")
        first = np.searchsorted(grp[o], np.arange(n_groups))
        pos = np.empty(len(members), np.int64)
        pos[o] = np.arange(len(members)) - first[grp[o]]
        pos_in.append((grp, pos))
    band = np.ceil(np.log2(np.maximum(counts.sum(axis=1), 1))).astype(int)
    stacks = []
    for key in sorted(set(band[ok].tolist())):
        members = np.flatnonzero(ok & (band == key))
        top = counts[members].max(axis=0)
        sig = [(c, padded_count(int(t))) for c, t in enumerate(top) if t > 0]
        where = np.full(n_groups, -1, np.int64)
        where[members] = np.arange(len(members))
        stacked = []
        for c, B in sig:
            grp, pos = pos_in[c]
            idx = np.full((len(members), B), -1, np.int64)
            mine = where[grp] >= 0
            idx[where[grp[mine]], pos[mine]] = np.flatnonzero(mine)
            stacked.append(_stack(blocks.buckets[c], idx, classes[c][0]))
        stacks.append((members, tuple({k: jnp.asarray(v) for k, v in b.items()} for b in stacked)))

    k = layout.n_params
    theta = np.full((n_groups, k), np.nan)
    theta_start = np.full((n_groups, k), np.nan)
    m2ll = np.full(n_groups, np.nan)
    hess = np.full((n_groups, k, k), np.nan)
    xvx = np.full((n_groups, p, p), np.nan)
    xvy = np.full((n_groups, p), np.nan)
    status = np.full(n_groups, -1)
    iters = np.zeros(n_groups, int)
    opts = [None] * n_groups
    theta0 = np.concatenate([s.default_start() for s in layout.structures])
    lin = linear_mask(layout)
    progress = ByProgress(n_groups, force=True) if verbose else nullcontext()
    with progress as shown:
        if shown is not None:
            shown.advance(ok=False, n=int((~ok).sum()))  # groups that could not be fitted at all
        for members, stacked in stacks:
            _fit_stack(members, stacked, layout, theta0, lin, k, maxiter, maxfunc, convh, scoring,
                       theta_start, theta, m2ll, hess, xvx, xvy, status, iters, opts)
            if shown is not None:
                good = int((status[members] == CONVERGED).sum())
                shown.advance(ok=True, n=good)
                shown.advance(ok=False, n=len(members) - good)

    bad_fit = ok & (status != CONVERGED)
    for g in np.flatnonzero(bad_fit):
        reason[g] = STATUS_TEXT.get(int(status[g]), "did not converge")
    bad_val = ok & ~np.isfinite(m2ll)
    reason[bad_val & (reason == "")] = "the likelihood is not finite"

    return ByResult._build(
        by=cols, keys=keys, design=design, fit_design=fit_design, layout=layout, blocks=blocks,
        block_group=block_group, gcode=gcode, active=active, n_read=n_read, n_used=n_used, rank_x=rank_x,
        n_missing_by=int(no_by.sum()), theta=theta, theta_start=theta_start, m2ll=m2ll, hess=hess, xvx=xvx,
        xvy=xvy, status=status, iterations=iters, reason=reason, fitted=ok, opts=opts, ddfm=ddfm,
        covtest=bool(covtest), maxiter=maxiter, maxfunc=maxfunc, convh=convh, scoring=scoring,
        kept_rows=kept_rows,
    )


def _fit_stack(members, stacked, layout, theta0, lin, k, maxiter, maxfunc, convh, scoring,
               theta_start, theta, m2ll, hess, xvx, xvy, status, iters, opts):
    """MIVQUE0 and Newton, vmapped over the groups of one stack; fills the per-group arrays."""
    t, q = (np.asarray(a) for a in _batched_mivque(jnp.asarray(theta0), stacked, layout))
    starts = np.empty((len(members), k))
    w0 = []
    for i in range(len(members)):
        th = theta0.copy()
        th[lin] = np.linalg.lstsq(t[i][np.ix_(lin, lin)], q[i][lin], rcond=1e-12)[0]
        starts[i] = th
        w0.append(start_working(th, layout))
    opt = _batched_newton(jnp.asarray(np.array(w0)), stacked, layout, maxiter, maxfunc, convh, scoring)
    opt = jax.tree.map(np.asarray, opt)
    theta_start[members] = starts
    theta[members] = opt.theta
    m2ll[members] = opt.minus2ll
    hess[members] = opt.natural_hessian
    xvx[members] = opt.gls[1]
    xvy[members] = opt.gls[2]
    status[members] = opt.status
    iters[members] = opt.iterations
    for i, g in enumerate(members):
        opts[g] = (opt, i)
