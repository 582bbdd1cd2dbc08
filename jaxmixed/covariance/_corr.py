"""Shared pieces of the correlation-type structures (not a structure itself).

* Heterogeneous structures (CSH, ARH(1), TOEPH, ANTE(1), UNR) share
  M_ij = σ_i σ_j C_ij with variances Var(1..d) first (σ_i² = w_i²) and the
  parameters of a correlation matrix C after them: :class:`Hetero`.
* Partial autocorrelations φ_k ∈ (−1, 1) map one-to-one onto the
  positive-definite Toeplitz correlation sequences (Durbin–Levinson), which
  keeps TOEP and TOEPH positive definite by construction.
* Canonical partial correlations z_ij ∈ (−1, 1) map one-to-one onto the
  Cholesky factors of positive-definite correlation matrices (Lewandowski,
  Kurowicka and Joe 2009), which keeps UNR positive definite.
* Euclidean distances between coordinate rows for the SP(·) structures.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure

#: correlations given to ``to_working`` are clipped to this, as arctanh(±1) is infinite
CLIP = 0.999


def atanh_clip(x):
    return np.arctanh(np.clip(np.asarray(x, float), -CLIP, CLIP))


# ---- partial autocorrelations <-> autocorrelations ------------------------
def pacf_to_acf(phi):
    """Autocorrelations r_1..r_m of the stationary process with partial
    autocorrelations φ_1..φ_m (JAX; m is static)."""
    m = phi.shape[0]
    r, a, v = [], [], jnp.ones((), phi.dtype)
    for k in range(m):
        p = phi[k]
        rk = p * v + sum(a[j] * r[k - 1 - j] for j in range(k))
        a = [a[j] - p * a[k - 1 - j] for j in range(k)] + [p]
        v = v * (1.0 - p * p)
        r.append(rk)
    return jnp.stack(r) if r else jnp.zeros((0,), phi.dtype)


def acf_to_pacf(r) -> np.ndarray:
    """Inverse of :func:`pacf_to_acf` (numpy).  Where the sequence is not
    positive definite, φ_k is clipped into (−1, 1) and the rest continues from
    the clipped sequence."""
    r = [float(x) for x in np.asarray(r, float)]
    phi, a, v, rr = [], [], 1.0, []
    for k in range(len(r)):
        p = (r[k] - sum(a[j] * rr[k - 1 - j] for j in range(k))) / v if v > 0 else 0.0
        p = float(np.clip(p, -CLIP, CLIP))
        rr.append(p * v + sum(a[j] * rr[k - 1 - j] for j in range(k)))
        a = [a[j] - p * a[k - 1 - j] for j in range(k)] + [p]
        v *= 1.0 - p * p
        phi.append(p)
    return np.array(phi)


def toeplitz(first):
    """Symmetric Toeplitz matrix with first row ``first`` (JAX)."""
    d = first.shape[0]
    lag = np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])
    return first[lag]


# ---- canonical partial correlations <-> correlation Cholesky factor --------
def cpc_to_chol(z, d: int):
    """Lower-triangular L with unit-norm rows (C = L L' a correlation matrix)
    from the canonical partial correlations z, (i, j) with i > j row by row."""
    rows = []
    k = 0
    for i in range(d):
        row = []
        rest = jnp.ones((), z.dtype)  # 1 − Σ_{l<j} L_il²
        for j in range(i):
            lij = z[k] * jnp.sqrt(rest)
            rest = rest - lij * lij
            row.append(lij)
            k += 1
        row.append(jnp.sqrt(rest))
        row += [jnp.zeros((), z.dtype)] * (d - i - 1)
        rows.append(jnp.stack(row))
    return jnp.stack(rows)


def corr_to_cpc(c: np.ndarray) -> np.ndarray:
    """Canonical partial correlations of a correlation matrix (lifted to positive
    definite first when it is not)."""
    d = c.shape[0]
    c = 0.5 * (c + c.T)
    vals, vecs = np.linalg.eigh(c)
    if vals.min() < 1e-6:
        m = (vecs * np.maximum(vals, 1e-3)) @ vecs.T
        s = np.sqrt(np.diag(m))
        c = m / np.outer(s, s)
    low = np.linalg.cholesky(c)
    z = []
    for i in range(d):
        rest = 1.0
        for j in range(i):
            z.append(low[i, j] / np.sqrt(max(rest, 1e-300)))
            rest -= low[i, j] ** 2
    return np.clip(np.array(z), -CLIP, CLIP)


# ---- distances --------------------------------------------------------------
def sq_distances(coords):
    """Squared Euclidean distances between the rows of ``coords`` (n, k)."""
    diff = coords[:, None, :] - coords[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def distances(coords):
    """Euclidean distances; the square root is taken only where d² > 0, so
    derivatives stay finite on the diagonal."""
    d2 = sq_distances(coords)
    pos = d2 > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, d2, 1.0)), 0.0)


# ---- heterogeneous variances times a correlation matrix --------------------
@dataclass(frozen=True)
class Hetero(Structure):
    """M_ij = σ_i σ_j C_ij(ρ): parameters Var(1), ..., Var(d), then the
    correlation parameters.  Not a scale structure (nothing is profiled)."""

    linear = False

    # subclasses provide these four
    def corr_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def corr_matrix(self, rho):
        """The d × d correlation matrix C(ρ) (JAX)."""
        raise NotImplementedError

    def corr_to_natural(self, w):
        return jnp.tanh(w)

    def corr_to_working(self, rho) -> np.ndarray:
        return atanh_clip(rho)

    # ---- Structure --------------------------------------------------------
    def param_names(self):
        return tuple(f"Var({k + 1})" for k in range(self.dim)) + tuple(self.corr_names())

    def variance_mask(self):
        return np.arange(self.n_params) < self.dim

    def lower_bounds(self):
        lb = np.full(self.n_params, -1.0)
        lb[: self.dim] = 0.0
        return lb

    def upper_bounds(self):
        ub = np.full(self.n_params, 1.0)
        ub[: self.dim] = np.inf
        return ub

    def default_start(self):
        return np.where(self.variance_mask(), 1.0, 0.0)

    def to_natural(self, w):
        d = self.dim
        return jnp.concatenate([w[:d] ** 2, self.corr_to_natural(w[d:])])

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        d = self.dim
        return np.concatenate([np.sqrt(np.maximum(theta[:d], 0.0)), self.corr_to_working(theta[d:])])

    def matrix(self, theta, pos=None, coords=None):
        pos = self._pos(pos)
        d = self.dim
        sd = jnp.sqrt(theta[:d])
        full = sd[:, None] * self.corr_matrix(theta[d:]) * sd[None, :]
        return full[pos[:, None], pos[None, :]]
