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


def _criterion(f, g, h):
    vals, vecs = jnp.linalg.eigh(h)
    pd = jnp.all(vals > 1e-12 * jnp.maximum(1.0, jnp.max(jnp.abs(vals))))
    coef = vecs.T @ g
    quad = jnp.sum(coef**2 / jnp.where(pd, vals, 1.0))
    crit = jnp.where(pd, quad / jnp.maximum(jnp.abs(f), 1e-12), jnp.inf)
    if g.shape[0] == 0:
        return jnp.zeros((), f.dtype)
    return crit


@partial(jax.jit, static_argnames=("layout", "maxiter", "maxfunc", "scoring", "report"))
def newton(w0, buckets, layout: Layout, maxiter: int = 50, maxfunc: int = 150, convh: float = 1e-8, scoring: int = 0,
           report: bool = False):
    """Minimise −2ℓ from working parameters ``w0``.

    The gradient and Hessian are traced once, at the top of the loop body,
    which keeps compile time to one Hessian program.  ``report=True`` (static)
    compiles a host callback into the loop that hands each iteration's number,
    −2ℓ and criterion to :func:`jaxmixed.progress.emit`; the default program
    has no callback at all.
    """
    fun = lambda w: objective(w, buckets, layout)
    grad = jax.grad(fun)

    def with_grad(w):
        g = grad(w)
        return g, g

    # One forward-over-reverse program gives the Hessian and the gradient together.
    derivs = jax.jacfwd(with_grad, has_aux=True)
    dtype = w0.dtype
    k = w0.shape[0]
    f0 = fun(w0)
    hist = jnp.full((maxiter + 1,), jnp.nan, dtype)
    zero = jnp.zeros((k,), dtype)
    state = dict(
        w=w0, f=f0, g=zero, h=jnp.zeros((k, k), dtype), it=jnp.array(0), nfev=jnp.array(1),
        ridge=jnp.zeros((), dtype), crit=jnp.array(jnp.inf, dtype),
        status=jnp.where(jnp.isfinite(f0), -1, NONFINITE),
        hist_f=hist.at[0].set(f0), hist_crit=hist, hist_evals=hist.at[0].set(1.0), hist_ridge=hist.at[0].set(0.0),
    )

    def cond(s):
        return s["status"] < 0

    def body(s):
        h, g = derivs(s["w"])
        if scoring:
            h = jax.lax.cond(s["it"] < scoring, lambda: expected_hessian(s["w"], buckets, layout), lambda: h)
        crit = _criterion(s["f"], g, h)
        done = crit < convh
        limit = (s["it"] >= maxiter) | (s["nfev"] >= maxfunc)
        vals, vecs = jnp.linalg.eigh(h)
        top = jnp.maximum(jnp.max(jnp.abs(vals)), 1e-12)
        absvals = jnp.maximum(jnp.abs(vals), 1e-10 * top)
        coef = vecs.T @ g

        def try_step(ls):
            ridge, _, _, tries = ls
            w_new = s["w"] - vecs @ (coef / (absvals + ridge))
            return ridge, w_new, fun(w_new), tries + 1

        def worse(f_new):
            return ~jnp.isfinite(f_new) | (f_new > s["f"] + 1e-12 * jnp.abs(s["f"]))

        def ls_cond(ls):
            return worse(ls[2]) & (ls[3] < 40) & ~done & ~limit

        def ls_body(ls):
            return try_step((jnp.maximum(ls[0] * 4.0, 1e-6 * top), ls[1], ls[2], ls[3]))

        # Once converged, one more pure Newton step is still taken when it lowers −2ℓ:
        # it costs one evaluation and squares the remaining error.
        ls = jax.lax.cond(limit, lambda: (s["ridge"], s["w"], s["f"], jnp.array(0)),
                          lambda: try_step((jnp.where(done, 0.0, s["ridge"]), s["w"], s["f"], jnp.array(0))))
        ridge, w_new, f_new, tries = jax.lax.while_loop(ls_cond, ls_body, ls)
        moved = ~worse(f_new) & ~limit
        ok = moved & ~done
        it = s["it"] + jnp.where(ok, 1, 0)
        # The criterion belongs to the iterate it was computed at (the previous step's).
        hist_crit = s["hist_crit"].at[s["it"]].set(jnp.where(s["it"] > 0, crit, jnp.nan))
        status = jnp.where(done, CONVERGED, jnp.where(limit, MAXITER, jnp.where(ok, -1, STALLED)))
        if report:
            from ..progress import emit

            jax.debug.callback(emit, s["it"], s["f"], crit, status, ordered=True)  # the iterate the criterion belongs to
        return dict(
            w=jnp.where(moved, w_new, s["w"]), f=jnp.where(moved, f_new, s["f"]), g=g, h=h, it=it,
            nfev=s["nfev"] + tries, ridge=jnp.where(ok, ridge / 4.0, ridge), crit=crit, status=status,
            hist_f=s["hist_f"].at[it].set(jnp.where(ok, f_new, s["hist_f"][it])), hist_crit=hist_crit,
            hist_evals=s["hist_evals"].at[it].set(jnp.where(ok, tries.astype(dtype), s["hist_evals"][it])),
            hist_ridge=s["hist_ridge"].at[it].set(jnp.where(ok, ridge, s["hist_ridge"][it])),
        )

    if k == 0:
        s = dict(state, status=jnp.array(CONVERGED), crit=jnp.zeros((), dtype))
    else:
        s = jax.lax.while_loop(cond, body, state)
    return NewtonResult(
        s["w"], s["f"], s["g"], s["h"], s["it"], s["nfev"], s["status"], s["crit"],
        s["hist_f"], s["hist_crit"], s["hist_evals"], s["hist_ridge"],
    )
