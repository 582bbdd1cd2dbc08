"""rank[X Z_1 ... Z_j] for the containment method, without dense N-row matrices.

Each random piece Z_j = z_j ⊗ onehot(subject) is block diagonal by its own
subject.  For a set of pieces, the one with the most columns, E, is
eliminated:

    rank[E D] = rank E + rank(D'D − D'E (E'E)⁺ E'D),

with E'E block diagonal (pseudo-inverted level by level) and the projected
Gram matrix dense only over the other columns D.  Ranks of Gram matrices
are counted with a relative eigenvalue tolerance of 1e-10 (singular values
above 1e-5 of the largest).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

GRAM_TOL = 1e-10


def sparse_piece(design, statement: int, cols) -> tuple[sp.csr_matrix, int, int]:
    """(Z piece as a sparse N × (levels·d) matrix, levels, d)."""
    r = design.randoms[statement]
    cols = list(cols)
    d = len(cols)
    g = len(r.subject_levels)
    n = design.n_used
    rows = np.repeat(np.arange(n), d)
    c = (r.subject[:, None] * d + np.arange(d)[None, :]).ravel()
    v = r.z[:, cols].ravel()
    return sp.csr_matrix((v, (rows, c)), shape=(n, g * d)), g, d


def _gram_rank(m: np.ndarray, scale: float) -> int:
    if m.size == 0:
        return 0
    vals = np.linalg.eigvalsh(0.5 * (m + m.T))
    return int((vals > GRAM_TOL * max(scale, 1e-300)).sum())


def _block_pinv(ete: sp.spmatrix, g: int, d: int):
    """Rank and pseudo-inverse of a block-diagonal (g blocks of d×d) Gram matrix."""
    blocks = np.zeros((g, d, d))
    coo = ete.tocoo()
    blocks[coo.row // d, coo.row % d, coo.col % d] = coo.data
    vals = np.linalg.eigvalsh(blocks) if g else np.zeros((0, d))
    top = max(float(np.abs(vals).max(initial=0.0)), 1e-300)
    rank = int((vals > GRAM_TOL * top).sum())
    pinv = np.linalg.pinv(blocks, rcond=1e-8, hermitian=True) if g else blocks
    return rank, sp.block_diag(list(pinv), format="csr") if g else sp.csr_matrix((0, 0))


def rank_of(pieces) -> int:
    """rank of [pieces...]; each piece (sparse matrix, levels, d), d=0 marks a dense X."""
    if not pieces:
        return 0
    big = max(range(len(pieces)), key=lambda i: pieces[i][0].shape[1] if pieces[i][2] else -1)
    e, g, d = pieces[big]
    others = [p[0] for i, p in enumerate(pieces) if i != big]
    if d == 0:  # only X
        dm = sp.hstack(others + [e]).toarray() if others else e.toarray()
        gram = dm.T @ dm
        return _gram_rank(gram, np.trace(gram))
    rank_e, pinv = _block_pinv((e.T @ e).tocsr(), g, d)
    if not others:
        return rank_e
    dmat = sp.hstack(others).tocsr()
    dtd = (dmat.T @ dmat).toarray()
    etd = (e.T @ dmat).tocsr()
    proj = dtd - (etd.T @ pinv @ etd).toarray()
    return rank_e + _gram_rank(proj, np.trace(dtd))


def cumulative_ranks(design, rterms) -> np.ndarray:
    """rank[X Z_1 .. Z_j], j = 0..m, for the random terms in order."""
    x = sp.csr_matrix(np.asarray(design.x, float))
    pieces = [(x, 0, 0)] if x.shape[1] else []
    out = np.zeros(len(rterms) + 1, int)
    out[0] = np.linalg.matrix_rank(np.asarray(design.x, float)) if x.shape[1] else 0
    for j, rt in enumerate(rterms, start=1):
        pieces.append(sparse_piece(design, rt.statement, rt.term.columns))
        out[j] = rank_of(pieces)
    return out
