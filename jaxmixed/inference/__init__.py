"""Inference after the fit: degrees of freedom, Type III tests, ESTIMATE /
CONTRAST / LSMEANS, EBLUPs and likelihood-ratio tests.

Modules, one concept each:

- :mod:`.vcov`      Φ = (X'V⁻¹X)⁻¹, its derivatives in θ (autodiff) and the
  Kenward–Roger adjusted covariance Φ_A.
- :mod:`.ddf`       DDFM= residual, contain, bw, satterthwaite, kr.
- :mod:`.terms`     effects, their variables and containment.
- :mod:`.type3`     Type III hypotheses and their tests.
- :mod:`.estimate`  ESTIMATE, CONTRAST, LSMEANS.
- :mod:`.blups`     Solution for Random Effects, predicted values, residuals.
- :mod:`.lrt`       likelihood-ratio tests (with the chi-bar-square mixture).
"""

from __future__ import annotations

import numpy as np

from ._context import InferenceContext
from .ddf import LABELS, estimate_row, normalize
from .estimate import LSMeans
from .lrt import LRT, lrt


def default_ddfm(design) -> str:
    """PROC MIXED's default: CONTAIN, except BW when there is a REPEATED
    SUBJECT= and no RANDOM statement."""
    if not design.randoms and design.repeated.statement.subject:
        return "bw"
    return "contain"


def fixed_inference(ctx: InferenceContext, ddfm: str) -> tuple[np.ndarray, np.ndarray]:
    """StdErr and DF of each estimated coefficient under ``ddfm`` (the KR
    standard errors come from Φ_A)."""
    p = ctx.rank_x
    se = np.full(p, np.nan)
    df = np.full(p, np.nan)
    names = np.flatnonzero(ctx.kept)
    for j in range(p):
        e = np.zeros(p)
        e[j] = 1.0
        full = np.zeros(len(ctx.kept))
        full[names[j]] = 1.0
        _, se[j], df[j] = estimate_row(ctx, e, full, ddfm, den_df=_coef_df(ctx, names[j], ddfm))
    return se, df


def _coef_df(ctx, column: int, ddfm: str):
    if ddfm in ("satterthwaite", "kr"):
        return None
    from .ddf import term_df
    from .terms import term_of_column

    owner = term_of_column(ctx.fixed_terms, len(ctx.kept))[column]
    return float(term_df(ctx, ddfm)[owner]) if owner >= 0 else float(ctx.n_obs - ctx.rank_x)


__all__ = ["InferenceContext", "LABELS", "LRT", "LSMeans", "default_ddfm", "fixed_inference", "lrt", "normalize"]
