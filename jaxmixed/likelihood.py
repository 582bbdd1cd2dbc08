"""−2 log-likelihood of a linear mixed model, REML or ML, as pure JAX.

For blocks i with V_i = Z_i G Z_i' + R_i (Wolfinger, Tobias and Sall 1994;
PROC MIXED documentation, "Estimating Covariance Parameters"):

    ML:   −2ℓ = N log 2π + Σ log|V_i| + r'V⁻¹r
    REML: −2ℓ = (N−p) log 2π + Σ log|V_i| + log|Σ X_i'V_i⁻¹X_i| + r'V⁻¹r

with β profiled out (r = y − Xβ̂).  When R has a free scale σ² and G is
written relative to it (V = σ² V*), σ² is profiled too:

    ML:   −2ℓ = N (log 2π + 1 + log σ̂²) + log|V*|,                σ̂² = r'V*⁻¹r / N
    REML: −2ℓ = (N−p)(log 2π + 1 + log σ̂²) + log|V*| + log|X'V*⁻¹X|,  σ̂² = r'V*⁻¹r / (N−p)

Everything reduces to four sums over blocks, computed with one batched
Cholesky per size class.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .blocks import CHUNK, Layout

LOG2PI = float(np.log(2.0 * np.pi))


def split(theta, layout: Layout):
    return [theta[s] for s in layout.slices()]


def to_natural(w, layout: Layout):
    """Working -> natural parameters.  In profiled mode ``w`` omits the scale
    parameter, and the result is relative to σ² (scale parameter = 1)."""
    if layout.profile:
        k = layout.scale_param
        w = jnp.concatenate([w[:k], jnp.array([layout.r_structures[0].unit_working], w.dtype), w[k:]])
    return jnp.concatenate([s.to_natural(p) for s, p in zip(layout.structures, split(w, layout))])


def to_working(theta, layout: Layout) -> np.ndarray:
    theta = np.asarray(theta, float)
    w = np.concatenate([s.to_working(p) for s, p in zip(layout.structures, split(theta, layout))])
    if layout.profile:
        w = np.delete(w, layout.scale_param)
    return w


def scale_natural(theta_rel, sigma2, layout: Layout):
    """Natural parameters of σ² V* from those of V*."""
    mask = jnp.asarray(layout.scale_mask())
    # loadings (FA0) scale with σ rather than σ²
    root = np.concatenate([getattr(s, "root_scale_mask", lambda: np.zeros(s.n_params, bool))() for s in layout.structures])
    return jnp.where(mask, theta_rel * sigma2, jnp.where(jnp.asarray(root), theta_rel * jnp.sqrt(sigma2), theta_rel))


def _g_stack(theta, layout: Layout):
    dmax = layout.g_dmax
    mats = []
    for kind, p in zip(layout.g_kinds, split(theta, layout)):
        m = kind.structure.matrix(p)
        d = m.shape[0]
        mats.append(jnp.pad(m, ((0, dmax - d), (0, dmax - d))))
    if not mats:
        return jnp.zeros((1, 1, 1), theta.dtype)
    return jnp.stack(mats)


def block_v(theta, bucket, layout: Layout):
    """V_i for every block of one size class: (B, n, n)."""
    gstack = _g_stack(theta, layout)
    r_params = split(theta, layout)[len(layout.g_kinds) :]

    def one(z, zkind, zeff, zslot, zvalid, rpos, rsub, rgrp, coords, mask, wt):
        g = gstack[zkind[:, None], zeff[:, None], zeff[None, :]]
        g = g * ((zslot[:, None] == zslot[None, :]) * zvalid[:, None] * zvalid[None, :])
        v = z @ g @ z.T
        same_sub = rsub[:, None] == rsub[None, :]
        r = jnp.zeros_like(v)
        for lvl, (s, p) in enumerate(zip(layout.r_structures, r_params)):
            in_g = (rgrp == lvl).astype(v.dtype)
            r = r + s.matrix(p, rpos, coords) * same_sub * in_g[:, None] * in_g[None, :]
        iw = 1.0 / jnp.sqrt(wt)  # WEIGHT statement: W^-1/2 R W^-1/2
        v = v + r * iw[:, None] * iw[None, :]
        mm = mask[:, None] * mask[None, :]
        return v * mm + jnp.diag(1.0 - mask)

    return jax.vmap(one)(
        bucket["z"], bucket["zkind"], bucket["zeff"], bucket["zslot"], bucket["zvalid"],
        bucket["rpos"], bucket["rsub"], bucket["rgrp"], bucket["coords"], bucket["mask"],
        bucket.get("w", jnp.ones_like(bucket["mask"])),
    )


def _chunk_sums(theta, bucket, layout: Layout):
    v = block_v(theta, bucket, layout)
    chol = jnp.linalg.cholesky(v)
    xt = jax.scipy.linalg.solve_triangular(chol, bucket["x"], lower=True)
    yt = jax.scipy.linalg.solve_triangular(chol, bucket["y"][..., None], lower=True)[..., 0]
    return (
        2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1))),
        jnp.einsum("bni,bnj->ij", xt, xt),
        jnp.einsum("bni,bn->i", xt, yt),
        jnp.sum(yt * yt),
    )


def count_obs(buckets):
    """N, the observations used (padding rows have mask 0).  Taken from the data
    rather than the static layout, so that BY groups of different sizes share
    one compiled program."""
    return sum(jnp.sum(b["mask"]) for b in buckets)


def n_columns(buckets) -> int:
    return buckets[0]["x"].shape[-1]


def fold_blocks(fn, buckets, zero):
    """Σ over every block of ``fn(chunk)``, a pytree of sums over one chunk's blocks.

    A size class with more than ``CHUNK`` blocks is scanned chunk by chunk:
    peak memory stays at one chunk's matrices, the compiled program does not
    grow with the number of subjects, and derivatives go through the scan.
    """
    total = zero
    for bucket in buckets:
        nb = bucket["y"].shape[0]
        if nb <= CHUNK:
            part = fn(bucket)
        else:
            chunks = jax.tree.map(lambda a: a.reshape((nb // CHUNK, CHUNK) + a.shape[1:]), bucket)

            def step(acc, chunk):
                return jax.tree.map(jnp.add, acc, fn(chunk)), None

            part, _ = jax.lax.scan(step, jax.tree.map(jnp.zeros_like, zero), chunks)
        total = jax.tree.map(jnp.add, total, part)
    return total


def sums(theta, buckets, layout: Layout):
    """(log|V|, X'V⁻¹X, X'V⁻¹y, y'V⁻¹y) summed over all blocks (chunked: :func:`fold_blocks`)."""
    p = n_columns(buckets)
    dtype = theta.dtype
    zero = (jnp.zeros((), dtype), jnp.zeros((p, p), dtype), jnp.zeros((p,), dtype), jnp.zeros((), dtype))
    return fold_blocks(lambda chunk: _chunk_sums(theta, chunk, layout), buckets, zero)


def _gls(xvx, xvy, yvy):
    """β̂, r'V⁻¹r, log|X'V⁻¹X| and rank X from the sums.

    A column of X that is identically zero (aliased in this BY group, or
    padding) has a zero diagonal in X'V⁻¹X: it gets a unit pivot, adds nothing
    to the determinant, has β̂ = 0 and does not count in rank X."""
    if xvx.shape[0] == 0:
        return xvy, yvy, jnp.zeros((), yvy.dtype), jnp.zeros((), yvy.dtype)
    active = jnp.diagonal(xvx) > 0
    xvx = xvx + jnp.diag(jnp.where(active, 0.0, 1.0))
    c = jnp.linalg.cholesky(xvx)
    u = jax.scipy.linalg.solve_triangular(c, xvy, lower=True)
    beta = jax.scipy.linalg.solve_triangular(c.T, u, lower=False)
    rss = yvy - u @ u
    return beta, rss, 2.0 * jnp.sum(jnp.log(jnp.diag(c))), jnp.sum(active).astype(yvy.dtype)


def neg2ll_natural(theta, buckets, layout: Layout):
    """−2ℓ at natural parameters θ (nothing profiled but β)."""
    n = count_obs(buckets)
    logdet, xvx, xvy, yvy = sums(theta, buckets, layout)
    _, rss, logdet_x, p = _gls(xvx, xvy, yvy)
    if layout.method == "ML":
        return n * LOG2PI + logdet + rss
    return (n - p) * LOG2PI + logdet + logdet_x + rss


def profiled(w, buckets, layout: Layout):
    """(−2ℓ, σ̂²) at working parameters ``w``; σ̂² = 1 when nothing is profiled."""
    theta = to_natural(w, layout)
    if not layout.profile:
        return neg2ll_natural(theta, buckets, layout), jnp.ones((), theta.dtype)
    n = count_obs(buckets)
    logdet, xvx, xvy, yvy = sums(theta, buckets, layout)
    _, rss, logdet_x, p = _gls(xvx, xvy, yvy)
    dof = n if layout.method == "ML" else n - p
    sigma2 = rss / dof
    value = dof * (LOG2PI + 1.0 + jnp.log(sigma2)) + logdet
    if layout.method != "ML":
        value = value + logdet_x
    return value, sigma2


def objective(w, buckets, layout: Layout):
    """The function the optimizer minimises: −2ℓ in working parameters."""
    return profiled(w, buckets, layout)[0]


def natural_from_working(w, buckets, layout: Layout):
    """Full natural θ (σ² folded back in) at working ``w``."""
    theta = to_natural(w, layout)
    if not layout.profile:
        return theta
    _, sigma2 = profiled(w, buckets, layout)
    return scale_natural(theta, sigma2, layout)


def _value_and_sums(theta, buckets, layout: Layout):
    n = count_obs(buckets)
    s = sums(theta, buckets, layout)
    logdet, xvx, xvy, yvy = s
    _, rss, logdet_x, p = _gls(xvx, xvy, yvy)
    if layout.method == "ML":
        value = n * LOG2PI + logdet + rss
    else:
        value = (n - p) * LOG2PI + logdet + logdet_x + rss
    return value, (value, s)


def natural_derivatives(theta, buckets, layout: Layout):
    """(−2ℓ, its gradient, its Hessian, the GLS sums) at natural θ, from one
    forward-over-reverse program: the only second-derivative program of the
    likelihood, shared by the optimizer and the final covariance of θ̂."""
    grad = jax.grad(_value_and_sums, has_aux=True)

    def with_grad(t):
        g, aux = grad(t, buckets, layout)
        return g, (g, aux)

    hess, (g, (value, s)) = jax.jacfwd(with_grad, has_aux=True)(theta)
    return value, g, hess, s


def working_derivatives(w, sigma2, buckets, layout: Layout):
    """Gradient and Hessian of the optimizer's objective at working ``w`` by the
    chain rule from :func:`natural_derivatives` at θ(w) (σ² = ``sigma2``, the
    profiled scale at w, when the scale is profiled).

    With ψ ↦ θ(ψ) and F(ψ) = −2ℓ(θ(ψ)): ∇F = J'g, ∇²F = J'HJ + Σ_k g_k ∇²θ_k.
    When σ² is profiled, ∂F/∂σ² = 0 at σ̂², so the profiled objective has
    gradient ∂F/∂w and Hessian F_ww − F_wσ F_σσ⁻¹ F_σw (the Schur complement).
    Returns (g_w, H_w, (θ, −2ℓ, H_θ, sums))."""
    if layout.profile:
        def natural(psi):
            return scale_natural(to_natural(psi[:-1], layout), psi[-1], layout)

        psi = jnp.concatenate([w, sigma2[None]])
    else:
        def natural(psi):
            return to_natural(psi, layout)

        psi = w
    theta = natural(psi)
    value, g, h, s = natural_derivatives(theta, buckets, layout)
    jac = jax.jacfwd(natural)(psi)
    g_stop = jax.lax.stop_gradient(g)
    curv = jax.hessian(lambda q: jnp.dot(g_stop, natural(q)))(psi)
    full_g = jac.T @ g
    full_h = jac.T @ h @ jac + curv
    if layout.profile:
        gw = full_g[:-1]
        hw = full_h[:-1, :-1] - jnp.outer(full_h[:-1, -1], full_h[-1, :-1]) / full_h[-1, -1]
    else:
        gw, hw = full_g, full_h
    return gw, hw, (theta, value, h, s)
