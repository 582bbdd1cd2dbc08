"""Ridge-stabilised Newton-Raphson with exact autodiff derivatives, as one
jitted ``while_loop``.

Each iteration takes the modified Newton direction d = −(|H| + λI)⁻¹ g, where
|H| flips negative eigenvalues of the Hessian (so a saddle is left, not
approached) and λ is a Levenberg-Marquardt ridge raised until −2ℓ falls
and lowered after each success.  Convergence is PROC MIXED's relative
Hessian criterion g'H⁻¹g / |f| < CONVH (default 1e-8), checked only where H
is positive definite.  ``scoring=k`` uses the expected information
(Fisher scoring) for the first k iterations instead of the Hessian.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..blocks import Layout
from ..likelihood import objective

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


def _criterion(f, g, h):
    vals, vecs = jnp.linalg.eigh(h)
    pd = jnp.all(vals > 1e-12 * jnp.maximum(1.0, jnp.max(jnp.abs(vals))))
    coef = vecs.T @ g
    quad = jnp.sum(coef**2 / jnp.where(pd, vals, 1.0))
    crit = jnp.where(pd, quad / jnp.maximum(jnp.abs(f), 1e-12), jnp.inf)
    if g.shape[0] == 0:
        return jnp.zeros((), f.dtype)
    return crit


@partial(jax.jit, static_argnames=("layout", "maxiter", "maxfunc"))
def newton(w0, buckets, layout: Layout, maxiter: int = 50, maxfunc: int = 150, convh: float = 1e-8):
    fun = lambda w: objective(w, buckets, layout)
    grad = jax.grad(fun)
    hess = jax.hessian(fun)
    dtype = w0.dtype
    k = w0.shape[0]

    f0 = fun(w0)
    g0, h0 = grad(w0), hess(w0)
    c0 = _criterion(f0, g0, h0)
    hist = jnp.full((maxiter + 1,), jnp.nan, dtype)
    state = dict(
        w=w0, f=f0, g=g0, h=h0, it=jnp.array(0), nfev=jnp.array(1), ridge=jnp.zeros((), dtype), crit=c0,
        status=jnp.where(jnp.isfinite(f0), jnp.where(c0 < convh, CONVERGED, -1), NONFINITE),
        hist_f=hist.at[0].set(f0), hist_crit=hist.at[0].set(jnp.nan), hist_evals=hist.at[0].set(1.0),
        hist_ridge=hist.at[0].set(0.0),
    )

    def cond(s):
        return s["status"] < 0

    def body(s):
        vals, vecs = jnp.linalg.eigh(s["h"])
        top = jnp.maximum(jnp.max(jnp.abs(vals)), 1e-12)
        absvals = jnp.maximum(jnp.abs(vals), 1e-10 * top)
        coef = vecs.T @ s["g"]

        def try_step(ls):
            ridge, _, _, tries = ls
            d = -vecs @ (coef / (absvals + ridge))
            w_new = s["w"] + d
            return ridge, w_new, fun(w_new), tries + 1

        def ls_cond(ls):
            ridge, w_new, f_new, tries = ls
            bad = ~jnp.isfinite(f_new) | (f_new > s["f"] + 1e-12 * jnp.abs(s["f"]))
            return bad & (tries < 40)

        def ls_body(ls):
            ridge, w_new, f_new, tries = ls
            return try_step((jnp.maximum(ridge * 4.0, 1e-6 * top), w_new, f_new, tries))

        ridge0 = s["ridge"]
        ls = try_step((ridge0, s["w"], s["f"], jnp.array(0)))
        ridge, w_new, f_new, tries = jax.lax.while_loop(ls_cond, ls_body, ls)
        ok = jnp.isfinite(f_new) & (f_new <= s["f"] + 1e-12 * jnp.abs(s["f"]))
        g_new = jnp.where(ok, grad(w_new), s["g"])
        h_new = jnp.where(ok, hess(w_new), s["h"])
        w_acc = jnp.where(ok, w_new, s["w"])
        f_acc = jnp.where(ok, f_new, s["f"])
        crit = _criterion(f_acc, g_new, h_new)
        it = s["it"] + 1
        nfev = s["nfev"] + tries
        status = jnp.where(
            crit < convh, CONVERGED,
            jnp.where(~ok, STALLED, jnp.where((it >= maxiter) | (nfev >= maxfunc), MAXITER, -1)),
        )
        return dict(
            w=w_acc, f=f_acc, g=g_new, h=h_new, it=it, nfev=nfev, ridge=ridge / 4.0, crit=crit, status=status,
            hist_f=s["hist_f"].at[it].set(f_acc), hist_crit=s["hist_crit"].at[it].set(crit),
            hist_evals=s["hist_evals"].at[it].set(tries.astype(dtype)), hist_ridge=s["hist_ridge"].at[it].set(ridge),
        )

    s = jax.lax.while_loop(cond, body, state) if k else state
    status = jnp.where(s["status"] < 0, MAXITER, s["status"]) if k else jnp.array(CONVERGED)
    return NewtonResult(
        s["w"], s["f"], s["g"], s["h"], s["it"], s["nfev"], status, s["crit"],
        s["hist_f"], s["hist_crit"], s["hist_evals"], s["hist_ridge"],
    )
