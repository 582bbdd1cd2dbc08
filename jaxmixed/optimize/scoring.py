"""Expected information of the profiled −2ℓ in working parameters (Fisher scoring).

With ψ = (w, σ²) and θ(ψ) the natural parameters, E[∂²(−2ℓ)/∂ψ²] = J'TJ with
J = ∂θ/∂ψ and T from :func:`information.trace_terms` (the term in ∂²θ/∂ψ²
vanishes because the score has mean zero).  When σ² is profiled out, the
information for w is the Schur complement of the σ² entry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..blocks import Layout
from ..likelihood import profiled, scale_natural, to_natural
from .information import trace_terms


def expected_hessian(w, buckets, layout: Layout):
    reml = layout.method != "ML"
    if not layout.profile:
        theta = to_natural(w, layout)
        t, _ = trace_terms(theta, buckets, layout, reml=reml)
        jac = jax.jacfwd(to_natural)(w, layout)
        return jac.T @ t @ jac
    _, sigma2 = profiled(w, buckets, layout)

    def natural(psi):
        return scale_natural(to_natural(psi[:-1], layout), psi[-1], layout)

    psi = jnp.concatenate([w, sigma2[None]])
    theta = natural(psi)
    t, _ = trace_terms(theta, buckets, layout, reml=reml)
    jac = jax.jacfwd(natural)(psi)
    full = jac.T @ t @ jac
    return full[:-1, :-1] - jnp.outer(full[:-1, -1], full[-1, :-1]) / full[-1, -1]
