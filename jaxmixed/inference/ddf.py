"""Denominator degrees of freedom: PROC MIXED's DDFM= methods.

RESIDUAL
    N − rank X for every test.

CONTAIN (PROC MIXED's default when there is a RANDOM statement)
    For a fixed effect A, search the random effects for those that
    syntactically contain A (see :mod:`.terms`; a RANDOM effect is crossed with
    its SUBJECT=, so ``Random("1 + Days", subject="Subject")`` is the effects
    ``Subject`` and ``Days*Subject``).  Among them, the rank contribution of
    each to [X Z], taken in order (X first, then the random effects in the
    order of the statements and of their terms), is computed; A gets the
    smallest.  With none, A gets N − rank[X Z].  (A random effect whose rank
    contribution is 0 is passed over.)

BETWITHIN
    The residual degrees of freedom N − rank X are split into a between-subject
    part S − rank X_b (S subjects, X_b the columns that do not change within
    any subject, the intercept among them) and a within-subject part, the rest.
    An effect that changes within some subject gets the within part, any other
    the between part.  When two or more within-subject effects involve
    classification variables, the within part is divided among them by the
    rank contributions of the subject-by-effect interactions, taken in model
    order after X and the subject.  Subjects are the model's independent blocks
    (the SUBJECT= effects); without any SUBJECT= the method is RESIDUAL.  With
    only an R-side TYPE=UN structure every effect gets the between part.

SATTERTHWAITE
    For one contrast l: ν = 2 (l'Φl)² / (g'Wg), g_k = l' ∂Φ/∂θ_k l.  For a
    q-row L, as lmerTest and PROC MIXED do: with L Φ L' = P D P', each row of
    P'L gets its ν_m, E = Σ ν_m/(ν_m − 2) and ν = 2E/(E − q) (ν = 2 when some
    ν_m ≤ 2; the common value when they are all equal).

KENWARD–ROGER
    Φ_A replaces Φ (:func:`.vcov.kenward_roger_cov`); for a q-row L with
    Θ = L'(LΦL')⁻¹L, A₁ = Σ W_ij tr(ΘΦP_iΦ) tr(ΘΦP_jΦ),
    A₂ = Σ W_ij tr(ΘΦP_iΦΘΦP_jΦ), and then B, g, c₁..c₃, ρ, the df
    m = 4 + (q + 2)/(qρ − 1) and the scale λ of F* = λF (Kenward and Roger
    1997, eqs. in section 4).  For one contrast m reduces to the Satterthwaite
    formula with the unadjusted Φ and λ = 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .terms import contains

METHODS = ("residual", "contain", "bw", "satterthwaite", "kr")
ALIASES = {
    "residual": "residual", "resid": "residual", "res": "residual",
    "contain": "contain", "containment": "contain", "con": "contain",
    "bw": "bw", "betwithin": "bw", "between-within": "bw",
    "satterthwaite": "satterthwaite", "satterth": "satterthwaite", "sat": "satterthwaite",
    "kr": "kr", "kenwardroger": "kr", "kenward-roger": "kr", "kenward_roger": "kr",
}
LABELS = {"residual": "Residual", "contain": "Containment", "bw": "Between-Within",
          "satterthwaite": "Satterthwaite", "kr": "Kenward-Roger"}


def normalize(ddfm: str) -> str:
    from ..errors import SpecificationError, UnsupportedOptionError

    key = str(ddfm).lower().replace(" ", "")
    if key in ("kr2", "kenwardroger2", "kenward-roger2"):
        raise UnsupportedOptionError("ddfm='kr2' (Kenward and Roger 2009) is not implemented; use ddfm='kr'")
    if key not in ALIASES:
        raise SpecificationError(f"ddfm={ddfm!r} is not known; use one of {', '.join(METHODS)}")
    return ALIASES[key]


# --------------------------------------------------------------------------- ranks


def _rank(m: np.ndarray, scale: float | None = None) -> tuple[int, np.ndarray]:
    """Numerical rank and an orthonormal basis of the column space."""
    if m.size == 0:
        return 0, np.zeros((m.shape[0], 0))
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    top = s[0] if scale is None else scale
    tol = max(top, 1e-300) * max(m.shape) * 1e-11
    r = int((s > tol).sum())
    return r, u[:, :r]


#: blocks handled together by the batched rank computations
RANK_BATCH = 65536


def _batched_basis(m: np.ndarray):
    """Per block (leading axis): numerical rank and an orthonormal basis of the
    column space, the basis padded with zero columns."""
    nb, rows, cols = m.shape
    if cols == 0:
        return np.zeros(nb, int), np.zeros((nb, rows, 0))
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    tol = np.maximum(s[:, :1], 1e-300) * max(rows, cols) * 1e-11
    keep = s > tol
    return keep.sum(axis=1), u * keep[:, None, :]


def _blocks_by_size(order, starts):
    """Block numbers and rows (an (nb, m) array) of the blocks of each size m, in chunks."""
    sizes = np.diff(starts)
    for m in np.unique(sizes):
        bl = np.flatnonzero(sizes == m)
        for c in range(0, len(bl), RANK_BATCH):
            part = bl[c : c + RANK_BATCH]
            yield part, order[starts[part][:, None] + np.arange(m)]


def grouped_cumulative_ranks(x, order, starts, pieces, block_group=None, n_groups: int = 1) -> np.ndarray:
    """rank([X, Z_1, ..., Z_j]) for j = 0..m within each group of blocks
    (BY groups; one group by default): an (n_groups, m + 1) array.  Blocks are
    ``order[starts[b]:starts[b+1]]``; each Z_j is block diagonal and
    ``pieces[j](rows)`` gives its columns on a batch of equal-sized blocks
    (``rows``: (blocks, m), result (blocks, m, columns)).  Uses
    rank[X Z] = rank Z + rank((I − P_Z)X), so only per-block matrices are
    formed; the rank of the stacked residuals (I − P_Z)X comes from the R
    factor of a running QR."""
    x = np.asarray(x, float)
    p = x.shape[1]
    n_blocks = len(starts) - 1
    if block_group is None:
        block_group = np.zeros(n_blocks, np.int64)
    row_group = np.repeat(block_group, np.diff(starts))[np.argsort(order, kind="stable")] if n_groups > 1 else None
    out = np.zeros((n_groups, len(pieces) + 1), int)
    scale = np.zeros(n_groups)
    for g in range(n_groups):
        xg = x if n_groups == 1 else x[row_group == g]
        out[g, 0] = _rank(xg)[0]
        scale[g] = np.linalg.norm(xg, 2) if xg.size else 0.0
    rz = np.zeros((n_groups, len(pieces)), int)
    r_fac = [[np.zeros((0, p)) for _ in pieces] for _ in range(n_groups)]
    for part, rows in _blocks_by_size(order, starts):
        cum = np.zeros(rows.shape + (0,))
        xb = x[rows]
        grp = block_group[part]
        present = np.unique(grp)
        for j, piece in enumerate(pieces):
            cum = np.concatenate([cum, piece(rows)], axis=2)
            r, u = _batched_basis(cum)
            rz[:, j] += np.bincount(grp, weights=r, minlength=n_groups).astype(int)
            if not p:
                continue
            resid = xb - u @ (np.swapaxes(u, 1, 2) @ xb)
            for g in present:
                mine = resid[grp == g].reshape(-1, p)
                r_fac[g][j] = np.linalg.qr(np.vstack([r_fac[g][j], mine]), mode="r")
    for g in range(n_groups):
        ng = len(x) if n_groups == 1 else int((row_group == g).sum())
        for j in range(len(pieces)):
            rx = 0
            if p and ng:
                sv = np.linalg.svd(r_fac[g][j], compute_uv=False)
                rx = int((sv > max(scale[g], 1e-300) * max(ng, p) * 1e-11).sum())
            out[g, j + 1] = rz[g, j] + rx
    return out


def cumulative_ranks(ctx, pieces) -> np.ndarray:
    """rank([X, Z_1, ..., Z_j]) for j = 0..m over the model's blocks
    (:func:`grouped_cumulative_ranks` with one group)."""
    split = ctx.blocks.rows_of_block
    return grouped_cumulative_ranks(ctx.design.x, split._values, split._starts, pieces)[0]


def _random_piece(design, rt):
    r = design.randoms[rt.statement]
    cols = list(rt.term.columns)

    def piece(rows):
        nb, m = rows.shape
        z = r.z[rows][..., cols]  # (nb, m, d)
        subj = r.subject[rows]
        # subject levels within each block, numbered 0.. per block
        key = np.arange(nb)[:, None] * (int(r.subject.max()) + 1) + subj
        uniq, inv = np.unique(key, return_inverse=True)
        first = np.searchsorted(uniq // (int(r.subject.max()) + 1), np.arange(nb))
        local = inv.reshape(nb, m) - first[:, None]
        onehot = np.zeros((nb, m, int(local.max()) + 1))
        np.put_along_axis(onehot, local[..., None], 1.0, axis=2)
        return (z[..., :, None] * onehot[..., None, :]).reshape(nb, m, -1)

    return piece


# --------------------------------------------------------------------------- CONTAIN


def containment_df(ctx) -> dict:
    design = ctx.design
    rterms = ctx.random_terms
    ranks = cumulative_ranks(ctx, [_random_piece(design, rt) for rt in rterms])
    contrib = np.diff(ranks)
    resid = ctx.n_obs - int(ranks[-1])
    dfs = []
    for t in ctx.fixed_terms:
        cand = [c for rt, c in zip(rterms, contrib) if c > 0 and contains(rt.term, t)]
        dfs.append(float(min(cand)) if cand else float(resid))
    return {"terms": np.array(dfs), "residual": resid, "rank_contributions": contrib,
            "random_effects": [f"{rt.term.label}" for rt in rterms]}


# --------------------------------------------------------------------------- BETWITHIN


def _has_subjects(design) -> bool:
    return any(r.statement.subject for r in design.randoms) or bool(design.repeated.statement.subject)


def betwithin_df(ctx) -> dict:
    design = ctx.design
    terms = ctx.fixed_terms
    resid = ctx.n_obs - ctx.rank_x
    if not _has_subjects(design):
        return {"terms": np.full(len(terms), float(resid)), "between": np.nan, "within": float(resid)}
    kept = ctx.kept
    pos = np.cumsum(kept) - 1  # column of design.x for each kept column
    x = np.asarray(design.x, float)
    block = ctx.blocks.block_of_row
    frame = pd.DataFrame(x)
    g = frame.groupby(block)
    spread = (g.max() - g.min()).abs().max(axis=0).to_numpy() if x.size else np.zeros(0)
    scale = np.abs(x).max(axis=0) if x.size else np.zeros(0)
    constant = spread <= 1e-10 * np.maximum(scale, 1e-300)

    def xcols(t):
        return [int(pos[c]) for c in t.columns if kept[c]]

    between_terms = [all(constant[xcols(t)]) for t in terms]
    bcols = sorted(c for t, b in zip(terms, between_terms) if b for c in xcols(t))
    s = ctx.blocks.n_blocks
    between = float(s - _rank(x[:, bcols])[0]) if bcols else float(s)
    within = float(resid - between)
    if not design.randoms and design.repeated.statement.type == "UN":
        return {"terms": np.full(len(terms), between), "between": between, "within": within}

    dfs = np.array([between if b else within for b in between_terms])
    classy = [i for i, (t, b) in enumerate(zip(terms, between_terms)) if not b and t.class_vars and xcols(t)]
    if len(classy) >= 2:
        pieces = [lambda rows: np.ones(rows.shape + (1,))]
        for i in classy:
            cols = xcols(terms[i])
            pieces.append(lambda rows, cols=cols: x[rows][..., cols])
        ranks = cumulative_ranks(ctx, pieces)
        contrib = np.diff(ranks)[1:]
        for i, c in zip(classy, contrib):
            dfs[i] = float(c)
    for i, t in enumerate(terms):
        if not xcols(t):
            dfs[i] = np.nan
    return {"terms": dfs, "between": between, "within": within}


# --------------------------------------------------------------------------- term df for an L


def term_df(ctx, ddfm: str) -> np.ndarray:
    if ddfm == "contain":
        return ctx.containment_df["terms"]
    if ddfm == "bw":
        return ctx.betwithin_df["terms"]
    return np.full(len(ctx.fixed_terms), float(ctx.n_obs - ctx.rank_x))


def df_for_rows(ctx, l_full: np.ndarray, ddfm: str) -> float:
    """A term-based df for a general L (all fixed columns): that of the last
    term, in model order, with a nonzero coefficient (PROC MIXED's rule for
    ESTIMATE and CONTRAST: the df of the final effect listed)."""
    dfs = term_df(ctx, ddfm)
    used = np.abs(np.atleast_2d(l_full)).max(axis=0) > 0
    last = None
    for i, t in enumerate(ctx.fixed_terms):
        if used[list(t.columns)].any() and np.isfinite(dfs[i]):
            last = i
    if last is None:
        return float(ctx.n_obs - ctx.rank_x)
    return float(dfs[last])


# --------------------------------------------------------------------------- Satterthwaite


def _grad(ctx, lvec):
    """g_k = l' ∂Φ/∂θ_k l."""
    return np.einsum("i,kij,j->k", lvec, ctx.sensitivity.dphi, lvec)


def satterthwaite_1d(ctx, lvec: np.ndarray) -> float:
    v = float(lvec @ ctx.cov_b @ lvec)
    g = _grad(ctx, lvec)
    denom = float(g @ ctx.w @ g)
    if not np.isfinite(denom) or denom <= 0:
        return np.nan
    return 2.0 * v * v / denom


def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Combine per-direction t df into one F df (Fai and Cornelius 1996)."""
    nu = np.asarray(nu, float)
    if nu.size == 1:
        return float(nu[0])
    if np.any(~np.isfinite(nu)):
        return np.nan
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def _directions(l: np.ndarray, cov: np.ndarray):
    """Eigen-directions of L cov L' (largest first), dropping null ones."""
    vl = l @ cov @ l.T
    vals, vecs = np.linalg.eigh(0.5 * (vl + vl.T))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    tol = max(np.sqrt(np.finfo(float).eps) * vals[0], 0.0) if vals.size else 0.0
    keep = vals > tol
    return vals[keep], (vecs[:, keep].T @ l)


def satterthwaite_test(ctx, l: np.ndarray) -> tuple[float, int, float]:
    """(F, numerator df, denominator df) for H: Lβ = 0."""
    d, ptl = _directions(l, ctx.cov_b)
    q = len(d)
    if q == 0:
        return np.nan, 0, np.nan
    t2 = (ptl @ ctx.beta) ** 2 / d
    f = float(t2.sum() / q)
    nu = np.array([satterthwaite_1d(ctx, ptl[m]) for m in range(q)])
    return f, q, fstat_ddf(nu)


# --------------------------------------------------------------------------- Kenward–Roger


def kr_moments(ctx, l: np.ndarray) -> tuple[int, float, float]:
    """(q, m, λ): rank, Kenward–Roger df and F scale for the rows of L."""
    phi = ctx.cov_b
    w = ctx.w
    dphi = ctx.sensitivity.dphi  # −Φ P_k Φ
    lpl = l @ phi @ l.T
    vals = np.linalg.eigvalsh(0.5 * (lpl + lpl.T))
    q = int((vals > np.sqrt(np.finfo(float).eps) * max(vals.max(initial=0.0), 0.0)).sum())
    if q == 0:
        return 0, np.nan, np.nan
    if not np.all(np.isfinite(w)):
        return q, np.nan, np.nan
    theta = l.T @ np.linalg.pinv(lpl) @ l
    u = np.einsum("ab,kbc->kac", theta, dphi)  # ΘΦP_kΦ up to sign; products cancel it
    tr = np.einsum("kaa->k", u)
    a1 = float(tr @ w @ tr)
    a2 = float(np.einsum("ij,iab,jba->", w, u, u))
    if a2 <= 0:
        return q, np.inf, 1.0
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2.0 - g) / den
    e_star = 1.0 / (1.0 - a2 / q)
    v_star = (2.0 / q) * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
    rho = v_star / (2.0 * e_star**2)
    m = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = m / (e_star * (m - 2.0))
    return q, float(m), float(lam)


def kr_test(ctx, l: np.ndarray) -> tuple[float, int, float]:
    """(F* = λF with Φ_A, numerator df, Kenward–Roger df)."""
    q, m, lam = kr_moments(ctx, l)
    if q == 0:
        return np.nan, 0, np.nan
    lb = l @ ctx.beta
    la = l @ ctx.kr_cov @ l.T
    f = float(lb @ np.linalg.pinv(la) @ lb) / q
    return lam * f, q, m


# --------------------------------------------------------------------------- dispatch


def test_rows(ctx, l: np.ndarray, l_full: np.ndarray, ddfm: str, den_df: float | None = None):
    """(F, NumDF, DenDF) for H: Lβ = 0 under ``ddfm``; ``l`` on the estimated
    columns, ``l_full`` on all columns (for the term-based methods)."""
    if ddfm == "satterthwaite":
        return satterthwaite_test(ctx, l)
    if ddfm == "kr":
        return kr_test(ctx, l)
    d, ptl = _directions(l, ctx.cov_b)
    q = len(d)
    if q == 0:
        return np.nan, 0, np.nan
    f = float(((ptl @ ctx.beta) ** 2 / d).sum() / q)
    df = den_df if den_df is not None else df_for_rows(ctx, l_full, ddfm)
    return f, q, df


def estimate_row(ctx, lvec: np.ndarray, l_full: np.ndarray, ddfm: str, den_df: float | None = None):
    """(estimate, standard error, df) of l'β under ``ddfm``."""
    est = float(lvec @ ctx.beta)
    if ddfm == "kr":
        se = float(np.sqrt(max(lvec @ ctx.kr_cov @ lvec, 0.0)))
        return est, se, satterthwaite_1d(ctx, lvec)
    se = float(np.sqrt(max(lvec @ ctx.cov_b @ lvec, 0.0)))
    if ddfm == "satterthwaite":
        return est, se, satterthwaite_1d(ctx, lvec)
    df = den_df if den_df is not None else df_for_rows(ctx, l_full, ddfm)
    return est, se, df
