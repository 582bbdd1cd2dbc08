"""From a design to covariance parameter estimates: scaling, starting values
(MIVQUE0, PARMS, a PARMS grid, an earlier fit), HOLD=/NOITER, NOBOUND, the
Newton run on the scaled data, and the map back to the original units.

The result is in the original units: the final −2ℓ, its Hessian in θ and
the GLS sums are computed on the unscaled data at θ̂ (mapped back exactly,
see ``scaling.py``), so scaling changes the path, never the reported numbers
beyond the convergence tolerance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..blocks import Layout
from ..covariance.nobound import NoBound
from ..likelihood import natural_from_working, neg2ll_natural, sums, to_natural, to_working
from ..progress import fit_progress
from ..scaling import Scaling, identity, make_scaling, scale_buckets, sums_to_original
from .newton import CONVERGED, NONFINITE, STATUS_TEXT, NewtonResult, newton
from .parms import covparm_labels, resolve, search_grid, working_free_mask
from .starts import mivque0, start_working

#: a variance this small relative to the largest one counts as on its bound in the history
_ON_BOUND = 1e-9


@dataclass(frozen=True)
class Options:
    method: str = "REML"  # "REML", "ML" or "MIVQUE0"
    maxiter: int = 50
    maxfunc: int = 150
    convh: float | None = None
    convf: float | None = None
    convg: float | None = None
    absolute: bool = False
    scoring: int = 0
    parms: object = None
    hold: object = None
    noiter: bool = False
    nobound: bool = False
    scale: bool = True
    verbose: bool = False  # show each iteration (jaxmixed.progress)


@dataclass(frozen=True)
class Estimates:
    theta: np.ndarray  # natural, internal order, original units
    minus2ll: float
    hessian: np.ndarray  # of −2ℓ in natural θ
    gls: list
    opt: NewtonResult
    status_text: str
    start_source: str
    theta_start: np.ndarray
    held: np.ndarray
    scaling: Scaling
    grid: pd.DataFrame | None
    notes: list  # per history row


def unbounded(layout: Layout) -> Layout:
    """The layout with every structure's bounds lifted (NOBOUND)."""
    return dataclasses.replace(
        layout,
        g_kinds=tuple(dataclasses.replace(k, structure=NoBound.wrap(k.structure)) for k in layout.g_kinds),
        r_structures=tuple(NoBound.wrap(s) for s in layout.r_structures),
    )


@partial(jax.jit, static_argnames="layout")
def finalize_natural(theta, buckets, layout: Layout):
    """−2ℓ, its Hessian in natural θ and the GLS sums at θ, in one program."""
    hess = jax.hessian(neg2ll_natural)(theta, buckets, layout)
    return neg2ll_natural(theta, buckets, layout), hess, sums(theta, buckets, layout)


@partial(jax.jit, static_argnames="layout")
def _natural(w, buckets, layout: Layout):
    return natural_from_working(w, buckets, layout)


def _fake_opt(theta_s, f, layout: Layout, status: int) -> NewtonResult:
    """The optimizer record of a fit that took no iterations (NOITER, MIVQUE0)."""
    k = len(to_working(theta_s, layout)) if layout.n_params else 0
    w = jnp.zeros((k,))
    one = jnp.full((1,), jnp.nan)
    return NewtonResult(w, jnp.asarray(f), w, jnp.zeros((k, k)), jnp.array(0), jnp.array(1), jnp.array(status),
                        jnp.array(jnp.nan), jnp.asarray([f]), one, jnp.ones((1,)), jnp.zeros((1,)),
                        jnp.asarray(theta_s), jnp.asarray(f), jnp.zeros((0, 0)), (), jnp.full((1, k), jnp.nan),
                        jnp.array(0))


def _history_notes(opt: NewtonResult, layout: Layout, labels_internal) -> list:
    """For each history row, the parameters that reached or left their bound 0."""
    n = int(opt.iterations) + 1
    hw = np.asarray(opt.hist_w)[:n]
    var = layout.variance_mask()
    notes, prev = [], None
    for row in hw:
        if not np.all(np.isfinite(row)) or not var.any():
            notes.append("")
            continue
        th = np.asarray(to_natural(jnp.asarray(row), layout))
        ref = max(float(np.max(np.abs(th[var]), initial=0.0)), 1e-300)
        on = var & (th <= _ON_BOUND * ref)
        text = []
        if prev is not None:
            text += [f"{labels_internal[j]} on bound" for j in np.flatnonzero(on & ~prev)]
            text += [f"{labels_internal[j]} off bound" for j in np.flatnonzero(prev & ~on)]
        elif on.any():
            text += [f"{labels_internal[j]} on bound" for j in np.flatnonzero(on)]
        notes.append("; ".join(text))
        prev = on
    return notes


def estimate(design, layout: Layout, buckets_np, opts: Options) -> Estimates:
    to_jax = lambda bs: tuple({k: jnp.asarray(v) for k, v in b.items()} for b in bs)
    # The general (crossed) path's data are cross-products, not blocks: it is not rescaled.
    mme = layout.path == "mme"
    use_scale = opts.scale and not mme
    buckets = jax.tree.map(jnp.asarray, buckets_np) if mme else to_jax(buckets_np)
    scaling = make_scaling(design, layout) if use_scale else identity(layout, design.x.shape[1])
    buckets_s = to_jax(scale_buckets(buckets_np, scaling)) if use_scale else buckets
    if mme:
        from ..mme import mme_mivque0 as start_estimator
    else:
        start_estimator = mivque0
    labels, order, _ = covparm_labels(design, layout)
    labels_internal = [""] * len(labels)
    for row, i in enumerate(order):
        labels_internal[i] = labels[row]

    cache = {}

    def mivque_original():
        if "m" not in cache:
            cache["m"] = scaling.theta_to_original(start_estimator(buckets_s, layout))
        return cache["m"]

    spec = resolve(opts.parms, opts.hold, design, layout, mivque=mivque_original)
    grid = None
    if spec.grid is not None:
        grid, start = search_grid(spec.grid, buckets, layout, design)
    elif spec.start is not None:
        start = spec.start
    else:
        start = mivque_original()
    held = spec.held.copy()
    if opts.noiter:
        held[:] = True

    if opts.method == "MIVQUE0" or opts.noiter:
        theta = np.array(start, float)
        if opts.method == "MIVQUE0":
            # PROC MIXED sets a negative MIVQUE0 variance to 0
            theta = np.where(layout.variance_mask() & (theta < 0), 0.0, theta)
        m2ll, hess, gls = _finalize_scaled(theta, buckets_s, layout, scaling, design)
        opt = _fake_opt(theta, m2ll, layout, CONVERGED)
        text = ("MIVQUE0 estimates: non-iterative, no likelihood optimisation." if opts.method == "MIVQUE0"
                else "No iterations (NOITER): the covariance parameters are fixed at their PARMS values.")
        return Estimates(theta, m2ll, hess, gls, opt, text,
                         "MIVQUE0" if opts.method == "MIVQUE0" else spec.source, np.asarray(start), held, scaling,
                         grid, [""])

    theta_s0 = scaling.theta_to_scaled(start)
    w0 = start_working(theta_s0, layout)
    if held.any():
        # held parameters start (and stay) exactly at their values, not lifted off a bound
        w0 = np.where(held, to_working(theta_s0, layout), w0)
    free = working_free_mask(held, w0, layout) if held.any() else None
    tol = _tolerances(opts)
    with fit_progress(opts.verbose, force=True, offset=scaling.offset):
        opt = newton(jnp.asarray(w0), buckets_s, layout, maxiter=opts.maxiter, maxfunc=opts.maxfunc, convh=tol[0],
                     scoring=opts.scoring, convf=tol[1], convg=tol[2], absolute=opts.absolute,
                     free=None if free is None else jnp.asarray(free), report=opts.verbose)
        jax.block_until_ready(opt)  # every iteration reported before the display closes
    opt = opt._replace(hist_f=opt.hist_f + scaling.offset, f=opt.f + scaling.offset)
    if int(opt.status) == NONFINITE or held.any():
        # no derivatives were taken at the last iterate (or held values are reset): compute them
        theta = scaling.theta_to_original(np.asarray(_natural(opt.w, buckets_s, layout)))
        theta = np.where(held, start, theta)
        m2ll, hess, gls = _finalize_scaled(theta, buckets_s, layout, scaling, design)
    else:
        theta, m2ll, hess, gls = _unscale_natural(opt, scaling, design)
    return Estimates(theta, m2ll, hess, gls, opt,
                     STATUS_TEXT[int(opt.status)], spec.source, np.asarray(start), held, scaling, grid,
                     _history_notes(opt, layout, labels_internal))


def _unscale_natural(opt: NewtonResult, scaling: Scaling, design):
    """Newton's natural θ̂, −2ℓ, Hessian and GLS sums at its last iterate (taken on
    the scaled data) in the original units: θ = f ⊙ θ̃ gives H = H̃ / (f f'), and
    the sums map as in :func:`jaxmixed.scaling.sums_to_original`.  The loop ends
    with its derivatives taken at that iterate, so no second Hessian program is
    compiled."""
    f = scaling.factor
    theta = np.asarray(opt.theta) * f
    hess = np.asarray(opt.natural_hessian) / np.outer(f, f)
    gls = sums_to_original(opt.gls, scaling, float(len(design.y)))
    return theta, float(opt.minus2ll) + scaling.offset, hess, gls


def _finalize_scaled(theta, buckets_s, layout: Layout, scaling: Scaling, design):
    """−2ℓ, its Hessian in θ and the GLS sums of the original data, computed on
    the scaled data and mapped back exactly (θ = f θ̃ gives ∂²/∂θ_i∂θ_j =
    ∂²/∂θ̃_i∂θ̃_j / (f_i f_j)); on badly scaled data this avoids the
    cancellation in r'V⁻¹r that the original units would suffer."""
    f = scaling.factor
    m2ll, hess, gls = finalize_natural(jnp.asarray(theta / f), buckets_s, layout)
    hess = np.asarray(hess) / np.outer(f, f)
    gls = sums_to_original(gls, scaling, float(len(design.y)))
    return float(m2ll) + scaling.offset, hess, gls


def _tolerances(opts: Options):
    """(convh, convf, convg); −1 switches one off.  CONVH=1e-8 is the default
    only when no criterion is named."""
    named = [opts.convh, opts.convf, opts.convg]
    if all(v is None for v in named):
        named[0] = 1e-8
    return tuple(-1.0 if v is None else float(v) for v in named)
