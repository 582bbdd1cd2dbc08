"""Ridge-stabilised Newton-Raphson with exact autodiff derivatives, as one
jitted ``while_loop``.

Each iteration takes the modified Newton direction d = −(|H| + λI)⁻¹ g, where
|H| flips negative eigenvalues of the Hessian (so a saddle is left, not
approached) and λ is a Levenberg-Marquardt ridge raised until −2ℓ falls
and lowered after each success.  Convergence is PROC MIXED's relative
Hessian criterion g'H⁻¹g / |f| < CONVH (default 1e-8), checked only where H
is positive definite.  Derivatives come by the chain rule from the natural-θ
Hessian (``likelihood.working_derivatives``); the loop ends with them taken at
the final iterate, so that Hessian is also the one for the covariance of θ̂
and one compiled second-derivative program serves the whole fit.  ``scoring=k`` uses the expected information
(Fisher scoring) for the first k iterations instead of the Hessian.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..blocks import Layout
from ..likelihood import natural_derivatives, profiled, to_natural, working_derivatives
from .scoring import expected_hessian

CONVERGED, MAXITER, STALLED, NONFINITE = 0, 1, 2, 3
STATUS_TEXT = {
    CONVERGED: "Convergence criteria met.",
    MAXITER: "Did not converge: the iteration limit (maxiter) was reached.",
    STALLED: "Did not converge: no step could lower -2 log-likelihood further, yet the criterion was not met.",
    NONFINITE: "Did not converge: the likelihood is not finite at the starting values.",
}


class NewtonResult(NamedTuple):
    w: jax.Array
    f: jax.Array
    grad: jax.Array
    hess: jax.Array
    iterations: jax.Array
    evaluations: jax.Array
    status: jax.Array
    criterion: jax.Array
    hist_f: jax.Array
    hist_crit: jax.Array
    hist_evals: jax.Array
    hist_ridge: jax.Array
    #: at the final iterate: natural θ, −2ℓ there, its Hessian in θ, the GLS sums
    theta: jax.Array
    minus2ll: jax.Array
    natural_hessian: jax.Array
    gls: tuple


def _criterion(f, g, h):
    vals, vecs = jnp.linalg.eigh(h)
    pd = jnp.all(vals > 1e-12 * jnp.maximum(1.0, jnp.max(jnp.abs(vals))))
    coef = vecs.T @ g
    quad = jnp.sum(coef**2 / jnp.where(pd, vals, 1.0))
    crit = jnp.where(pd, quad / jnp.maximum(jnp.abs(f), 1e-12), jnp.inf)
    if g.shape[0] == 0:
        return jnp.zeros((), f.dtype)
    return crit


@partial(jax.jit, static_argnames=("layout", "maxiter", "maxfunc", "scoring"))
def newton(w0, buckets, layout: Layout, maxiter: int = 50, maxfunc: int = 150, convh: float = 1e-8, scoring: int = 0):
    """Minimise −2ℓ from working parameters ``w0``.

    The derivatives are traced once, at the top of the loop body.  Once the
    criterion is met, one pure Newton step is still taken when it lowers −2ℓ
    (it squares the remaining error) and the derivatives are taken once more
    there, so the returned Hessian belongs to the returned estimate.
    """
    fun = lambda w: profiled(w, buckets, layout)
    dtype = w0.dtype
    k = w0.shape[0]
    f0, sig0 = fun(w0)
    hist = jnp.full((maxiter + 1,), jnp.nan, dtype)
    zero = jnp.zeros((k,), dtype)
    kk = layout.n_params
    p = buckets[0]["x"].shape[-1]
    nan_nat = (jnp.full((kk,), jnp.nan, dtype), jnp.full((), jnp.nan, dtype), jnp.full((kk, kk), jnp.nan, dtype),
               (jnp.full((), jnp.nan, dtype), jnp.full((p, p), jnp.nan, dtype), jnp.full((p,), jnp.nan, dtype),
                jnp.full((), jnp.nan, dtype)))
    state = dict(
        w=w0, f=f0, sigma2=sig0, g=zero, h=jnp.zeros((k, k), dtype), it=jnp.array(0), nfev=jnp.array(1),
        ridge=jnp.zeros((), dtype), crit=jnp.array(jnp.inf, dtype),
        status=jnp.where(jnp.isfinite(f0), -1, NONFINITE), polished=jnp.array(False), nat=nan_nat,
        hist_f=hist.at[0].set(f0), hist_crit=hist, hist_evals=hist.at[0].set(1.0), hist_ridge=hist.at[0].set(0.0),
    )

    def cond(s):
        return s["status"] < 0

    def body(s):
        g, h, nat = working_derivatives(s["w"], s["sigma2"], buckets, layout)
        if scoring:
            h = jax.lax.cond(s["it"] < scoring, lambda: expected_hessian(s["w"], buckets, layout), lambda: h)
        crit = _criterion(s["f"], g, h)
        done = crit < convh
        final = done & s["polished"]  # converged at an already polished iterate: stop here
        limit = (s["it"] >= maxiter) | (s["nfev"] >= maxfunc)
        vals, vecs = jnp.linalg.eigh(h)
        top = jnp.maximum(jnp.max(jnp.abs(vals)), 1e-12)
        absvals = jnp.maximum(jnp.abs(vals), 1e-10 * top)
        coef = vecs.T @ g

        def try_step(ls):
            ridge, _, _, _, tries = ls
            w_new = s["w"] - vecs @ (coef / (absvals + ridge))
            f_new, sig_new = fun(w_new)
            return ridge, w_new, f_new, sig_new, tries + 1

        def worse(f_new):
            return ~jnp.isfinite(f_new) | (f_new > s["f"] + 1e-12 * jnp.abs(s["f"]))

        def ls_cond(ls):
            return worse(ls[2]) & (ls[4] < 40) & ~done & ~limit

        def ls_body(ls):
            return try_step((jnp.maximum(ls[0] * 4.0, 1e-6 * top), ls[1], ls[2], ls[3], ls[4]))

        skip = limit | final
        ls = jax.lax.cond(skip, lambda: (s["ridge"], s["w"], s["f"], s["sigma2"], jnp.array(0)),
                          lambda: try_step((jnp.where(done, 0.0, s["ridge"]), s["w"], s["f"], s["sigma2"], jnp.array(0))))
        ridge, w_new, f_new, sig_new, tries = jax.lax.while_loop(ls_cond, ls_body, ls)
        moved = ~worse(f_new) & ~skip
        ok = moved & ~done
        it = s["it"] + jnp.where(ok, 1, 0)
        # The criterion belongs to the iterate it was computed at (the previous step's).
        hist_crit = s["hist_crit"].at[s["it"]].set(
            jnp.where(s["polished"], s["hist_crit"][s["it"]], jnp.where(s["it"] > 0, crit, jnp.nan)))
        status = jnp.where(done, jnp.where(moved, -1, CONVERGED),
                           jnp.where(limit, MAXITER, jnp.where(ok, -1, STALLED)))
        return dict(
            w=jnp.where(moved, w_new, s["w"]), f=jnp.where(moved, f_new, s["f"]),
            sigma2=jnp.where(moved, sig_new, s["sigma2"]), g=g, h=h, it=it,
            nfev=s["nfev"] + tries, ridge=jnp.where(ok, ridge / 4.0, ridge), crit=jnp.where(s["polished"] & done, s["crit"], crit),
            status=status, polished=s["polished"] | (done & moved), nat=nat,
            hist_f=s["hist_f"].at[it].set(jnp.where(ok, f_new, s["hist_f"][it])), hist_crit=hist_crit,
            hist_evals=s["hist_evals"].at[it].set(jnp.where(ok, tries.astype(dtype), s["hist_evals"][it])),
            hist_ridge=s["hist_ridge"].at[it].set(jnp.where(ok, ridge, s["hist_ridge"][it])),
        )

    if k == 0:
        theta = to_natural(w0, layout)
        if layout.profile:
            from ..likelihood import scale_natural

            theta = scale_natural(theta, sig0, layout)
        value, _, hess, sm = natural_derivatives(theta, buckets, layout)
        s = dict(state, status=jnp.array(CONVERGED), crit=jnp.zeros((), dtype), nat=(theta, value, hess, sm))
    else:
        s = jax.lax.while_loop(cond, body, state)
    theta, value, hess, sm = s["nat"]
    return NewtonResult(
        s["w"], s["f"], s["g"], s["h"], s["it"], s["nfev"], s["status"], s["crit"],
        s["hist_f"], s["hist_crit"], s["hist_evals"], s["hist_ridge"], theta, value, hess, sm,
    )
