"""Brute-force dense references shared by the tests: the full N×N V in numpy."""

from __future__ import annotations

import numpy as np

LOG2PI = np.log(2.0 * np.pi)


def dense_m2ll(y, x, v, method):
    """PROC MIXED's −2ℓ from a dense V:
    ML = N log 2π + log|V| + r'V⁻¹r, REML adds log|X'V⁻¹X| and uses (N−p) log 2π."""
    n, p = x.shape
    chol = np.linalg.cholesky(v)
    logdet_v = 2.0 * np.sum(np.log(np.diag(chol)))
    vinv_x = np.linalg.solve(v, x)
    vinv_y = np.linalg.solve(v, y)
    xvx = x.T @ vinv_x
    beta = np.linalg.solve(xvx, x.T @ vinv_y)
    r = y - x @ beta
    quad = r @ np.linalg.solve(v, r)
    if method == "ML":
        return n * LOG2PI + logdet_v + quad
    sign, logdet_x = np.linalg.slogdet(xvx)
    assert sign > 0
    return (n - p) * LOG2PI + logdet_v + logdet_x + quad


def dense_from_blocks(n, blocks):
    """The N×N V holding each (rows, V_rows) block, zeros elsewhere."""
    v = np.zeros((n, n))
    for rows, vb in blocks:
        v[np.ix_(rows, rows)] = vb
    return v


def tril_to_full(theta, d):
    """Symmetric d×d matrix from its lower triangle, row by row (UN(1,1), UN(2,1), UN(2,2), ...)."""
    m = np.zeros((d, d))
    rows, cols = np.tril_indices(d)
    m[rows, cols] = theta
    return m + m.T - np.diag(np.diag(m))
