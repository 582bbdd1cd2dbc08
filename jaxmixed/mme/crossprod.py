"""Design arrays -> the weighted cross-products of the mixed model equations.

The general path never forms V.  With W the WEIGHT matrix (I without one),
it keeps X'WX, X'Wy, y'Wy and the blocks of C = Z'WZ, Z'W[X y] that Henderson's
mixed model equations need, split by one *eliminated* random factor (the one
with the most levels, index 1 below) and the *rest* (all other random columns):

    C11  = Z1'WZ1   block diagonal: one d1×d1 block per level      (g1, d1, d1)
    C12  = Z1'WZr   sparse: one d1-vector per (level, rest column)  (nnz, d1)
    C22  = Zr'WZr   dense over the rest columns                     (q2, q2)
    F1   = Z1'W[X y]                                                (g1, d1, p+1)
    F2   = Zr'W[X y]                                                (q2, p+1)

plus ``pairs``: the pairs (a, b) of C12 entries on the same eliminated level,
which is all that the Schur complement C22 − C21 H C12 needs.  Memory is
O(N + nnz + pairs + q2²), never O(N²) or O(g1·q2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import SpecificationError, UnsupportedOptionError


class CrossProducts(NamedTuple):
    """The data of the general path (a pytree of arrays; sizes are shapes)."""

    n_obs: object  # () number of observations used
    sum_log_w: object  # () Σ log w_i  (log|W|)
    uu: object  # (p+1, p+1) [X y]'W[X y]
    c11: object  # (g1, d1, d1)
    f1: object  # (g1, d1, p+1)
    nz_level: object  # (nnz,) eliminated level of each C12 entry
    nz_col: object  # (nnz,) rest column of each C12 entry
    nz_val: object  # (nnz, d1)
    pair_a: object  # (npairs,) C12 entries a <= b on the same eliminated level
    pair_b: object
    pair_level: object  # (npairs,) their level
    pair_prod: object  # (npairs, d1, d1) c_a c_b', halved where a == b (K gets T + T')
    pair_flat: object  # (npairs,) target of the pair in K, col_a * q2 + col_b (sorted)
    c22: object  # (q2, q2)
    f2: object  # (q2, p+1)
    g1_kind: object  # () kind (RANDOM statement) of the eliminated factor
    col_kind: object  # (q2,) kind of each rest column
    col_eff: object  # (q2,) effect index of each rest column within its level
    partner: object  # (q2, dmax) rest columns of the same level (padded with itself)
    partner_eff: object  # (q2, dmax) their effect index
    partner_ok: object  # (q2, dmax) 1 for a real partner, 0 for padding


@dataclass(frozen=True)
class Factor:
    """One RANDOM statement seen as a factor: its Z columns are z ⊗ onehot(subject)."""

    statement: int
    n_levels: int
    dim: int
    offset: int  # first column among the rest columns (−1 for the eliminated factor)


@dataclass(frozen=True)
class MMEInfo:
    """numpy-side bookkeeping of the general path (labels, sizes, row maps)."""

    eliminated: int  # statement index of the eliminated factor
    factors: tuple[Factor, ...]  # in statement order
    q_total: int  # columns of Z
    q_rest: int
    n_pairs: int
    nnz: int
    n_obs: int

    # What the results need of a fit's "blocks": crossed subjects form one.
    n_blocks = 1

    @property
    def max_rows(self) -> int:
        return self.n_obs

    @property
    def z_columns(self) -> int:
        return self.q_total


def check_supported(design) -> None:
    """Raise for what the general path does not handle."""
    if not design.randoms:
        raise SpecificationError("path='mme' needs at least one RANDOM statement (random effects to eliminate)")
    for k, r in enumerate(design.randoms):
        if r.statement.group:
            raise UnsupportedOptionError(
                f"GROUP= on RANDOM statement {k + 1} ({r.statement.group!r}) is not supported on the sparse "
                "mixed-model-equations path; use path='blocks' if the subjects nest"
            )
    rep = design.repeated.statement
    if rep.type != "VC" or rep.group or rep.index or rep.coordinate:
        what = f"type={rep.type!r}" if rep.type != "VC" else ("group=" if rep.group else "index=/coordinate=")
        raise UnsupportedOptionError(
            f"REPEATED {what} is not supported on the sparse mixed-model-equations path, which has only the "
            "residual R = σ² W⁻¹ (REPEATED type VC, with or without weights=); use path='blocks' if the subjects nest"
        )


def _rest_entries(design, factors, eliminated):
    """Per row, the nonzero rest columns and their values: (rows, cols, vals)."""
    rows, cols, vals = [], [], []
    n = design.n_used
    for f in factors:
        if f.statement == eliminated:
            continue
        r = design.randoms[f.statement]
        for i in range(f.dim):
            rows.append(np.arange(n))
            cols.append(f.offset + r.subject * f.dim + i)
            vals.append(r.z[:, i])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def build(design, layout) -> tuple[CrossProducts, MMEInfo]:
    check_supported(design)
    n = design.n_used
    w = design.weights if design.weights is not None else np.ones(n)
    u = np.column_stack([np.asarray(design.x, float), np.asarray(design.y, float)])
    pu = u.shape[1]

    # Factors; the one with the most levels is eliminated first (its block diagonal is cheap).
    sizes = [(len(r.subject_levels), r.z.shape[1]) for r in design.randoms]
    elim = int(np.argmax([g * d for g, d in sizes]))
    factors, off = [], 0
    for k, (g, d) in enumerate(sizes):
        if k == elim:
            factors.append(Factor(k, g, d, -1))
        else:
            factors.append(Factor(k, g, d, off))
            off += g * d
    q2 = off
    r1 = design.randoms[elim]
    g1, d1 = sizes[elim]
    lev = r1.subject
    wz1 = r1.z * w[:, None]  # (N, d1)

    c11 = np.zeros((g1, d1, d1))
    np.add.at(c11, lev, wz1[:, :, None] * r1.z[:, None, :])
    f1 = np.zeros((g1, d1, pu))
    np.add.at(f1, lev, wz1[:, :, None] * u[:, None, :])

    rr, rc, rv = _rest_entries(design, factors, elim)
    c22 = np.zeros((q2, q2))
    f2 = np.zeros((q2, pu))
    np.add.at(f2, rc, (w[rr] * rv)[:, None] * u[rr])
    # C22: pairs of nonzeros within a row (a row has Σ d_k rest nonzeros).
    m = len(rr) // n if n else 0
    if m:
        rc2 = rc.reshape(m, n).T  # (N, m): built factor by factor, effect by effect, each over all rows
        rv2 = rv.reshape(m, n).T
        for a in range(m):
            for b in range(m):
                np.add.at(c22, (rc2[:, a], rc2[:, b]), w * rv2[:, a] * rv2[:, b])
        # C12 entries: (eliminated level, rest column) with value Σ w z1 z_rest.
        key = lev[:, None] * max(q2, 1) + rc2  # (N, m)
        keys, inv = np.unique(key.ravel(), return_inverse=True)
        nz_val = np.zeros((len(keys), d1))
        contrib = wz1[:, None, :] * rv2[:, :, None]  # (N, m, d1)
        np.add.at(nz_val, inv, contrib.reshape(-1, d1))
        nz_level = keys // max(q2, 1)
        nz_col = keys % max(q2, 1)
    else:
        nz_val = np.zeros((0, d1))
        nz_level = np.zeros(0, np.int64)
        nz_col = np.zeros(0, np.int64)

    # Pairs of C12 entries on one eliminated level (entries are sorted by level).
    counts = np.bincount(nz_level, minlength=g1) if len(nz_level) else np.zeros(g1, np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)])
    per = counts[nz_level]  # partners of each entry
    pair_a = np.repeat(np.arange(len(nz_level)), per)
    first = np.repeat(starts[nz_level], per)
    within = np.arange(len(pair_a)) - np.repeat(np.cumsum(per) - per, per)
    pair_b = first + within
    keep = pair_a <= pair_b  # C21 H C12 is symmetric: one of each pair, mirrored in the sums
    pair_a, pair_b = pair_a[keep], pair_b[keep]
    pair_flat = nz_col[pair_a].astype(np.int64) * q2 + nz_col[pair_b]
    order = np.argsort(pair_flat, kind="stable")
    pair_a, pair_b, pair_flat = pair_a[order], pair_b[order], pair_flat[order]
    pair_prod = nz_val[pair_a][:, :, None] * nz_val[pair_b][:, None, :]
    pair_prod[pair_a == pair_b] *= 0.5

    # Rest columns: kind, effect, and the columns of the same level (G2 is block diagonal).
    dmax = max([f.dim for f in factors if f.statement != elim], default=1)
    col_kind = np.zeros(q2, np.int32)
    col_eff = np.zeros(q2, np.int32)
    partner = np.tile(np.arange(q2)[:, None], (1, dmax))
    partner_eff = np.zeros((q2, dmax), np.int32)
    partner_ok = np.zeros((q2, dmax))
    kind_of = {gk.statement: i for i, gk in enumerate(layout.g_kinds)}
    for f in factors:
        if f.statement == elim:
            continue
        cols = f.offset + np.arange(f.n_levels * f.dim)
        eff = np.tile(np.arange(f.dim), f.n_levels)
        base = cols - eff
        col_kind[cols] = kind_of[f.statement]
        col_eff[cols] = eff
        for e in range(f.dim):
            partner[cols, e] = base + e
            partner_eff[cols, e] = e
            partner_ok[cols, e] = 1.0

    cp = CrossProducts(
        n_obs=np.array(float(n)),
        sum_log_w=np.array(float(np.sum(np.log(w)))),
        uu=(u * w[:, None]).T @ u,
        c11=c11, f1=f1,
        nz_level=nz_level.astype(np.int32), nz_col=nz_col.astype(np.int32), nz_val=nz_val,
        pair_a=pair_a.astype(np.int32), pair_b=pair_b.astype(np.int32),
        pair_level=nz_level[pair_a].astype(np.int32), pair_prod=pair_prod, pair_flat=pair_flat,
        c22=c22, f2=f2,
        g1_kind=np.array(kind_of[elim], np.int32),
        col_kind=col_kind, col_eff=col_eff,
        partner=partner.astype(np.int32), partner_eff=partner_eff, partner_ok=partner_ok,
    )
    info = MMEInfo(elim, tuple(factors), q2 + g1 * d1, q2, len(pair_a), len(nz_level), n)
    return cp, info
