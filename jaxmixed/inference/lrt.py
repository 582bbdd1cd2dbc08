"""Likelihood-ratio test between two nested fits.

LR = −2ℓ₀ − (−2ℓ₁), with df the difference in the number of parameters
(covariance parameters; under ML also rank X).  Under REML the two fits must
have the same fixed effects (REML likelihoods of different X are not
comparable).

When the larger model adds exactly one variance, the null hypothesis puts that
variance on its boundary 0 and LR is not χ²_df: it is asymptotically the
50:50 mixture of χ²_{df−1} and χ²_df (Self and Liang 1987; Stram and Lee
1994), so p = ½ P(χ²_{df−1} > LR) + ½ P(χ²_df > LR), with χ²_0 the point
mass at 0.  ``mixture=`` overrides the automatic choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import SpecificationError


@dataclass(frozen=True)
class LRT:
    chisq: float
    df: int
    p_value: float
    p_value_naive: float  # from χ²_df alone
    mixture: bool
    minus2ll_null: float
    minus2ll_alt: float

    def __str__(self) -> str:
        how = "50:50 mixture of chi-square(df-1) and chi-square(df)" if self.mixture else "chi-square(df)"
        return (f"Likelihood ratio test: ChiSq = {self.chisq:.4f}, DF = {self.df}, "
                f"Pr > ChiSq = {self.p_value:.4g} ({how})")


def _n_params(fit) -> int:
    ctx = fit._inf
    k = ctx.layout.n_params
    return k + (ctx.rank_x if ctx.layout.method == "ML" else 0)


def _n_variances(fit) -> int:
    return int(fit._inf.layout.variance_mask().sum())


def _same_column_space(a: np.ndarray, b: np.ndarray) -> bool:
    def rank(m):
        if m.size == 0:
            return 0
        sv = np.linalg.svd(m, compute_uv=False)
        return int((sv > sv[0] * max(m.shape) * 1e-11).sum())

    ra, rb = rank(a), rank(b)
    return ra == rb == rank(np.hstack([a, b]))


def mixture_p(chisq: float, df: int) -> float:
    upper = stats.chi2.sf(chisq, df)
    lower = stats.chi2.sf(chisq, df - 1) if df > 1 else float(chisq <= 0)
    return float(0.5 * upper + 0.5 * lower)


def lrt(fit0, fit1, mixture: bool | None = None) -> LRT:
    """Test the smaller fit ``fit0`` against the larger ``fit1`` (order free)."""
    for f in (fit0, fit1):
        if getattr(f, "_inf", None) is None:
            raise SpecificationError("jm.lrt takes two results of jm.mixed")
    if fit0.method != fit1.method:
        raise SpecificationError(f"the fits use different methods ({fit0.method} and {fit1.method}); refit both alike")
    if fit0.n_used != fit1.n_used:
        raise SpecificationError(
            f"the fits use different observations ({fit0.n_used} and {fit1.n_used} rows); compare fits on the same data"
        )
    if _n_params(fit0) > _n_params(fit1):
        fit0, fit1 = fit1, fit0
    d0, d1 = fit0._inf.design, fit1._inf.design
    if fit0.method == "REML":
        if not _same_column_space(np.asarray(d0.x, float), np.asarray(d1.x, float)):
            raise SpecificationError(
                "REML likelihoods of models with different fixed effects cannot be compared; "
                "refit both with method='ML' to test fixed effects"
            )
    df = _n_params(fit1) - _n_params(fit0)
    if df <= 0:
        raise SpecificationError("the two fits have the same number of parameters; they are not nested")
    chisq = float(fit0.minus2ll - fit1.minus2ll)
    # a difference at the rounding level of −2ℓ (a variance at its bound 0) is exactly 0
    if chisq < 1e-9 * max(abs(fit0.minus2ll), 1.0):
        chisq = 0.0
    if mixture is None:
        mixture = _n_variances(fit1) - _n_variances(fit0) == 1
    naive = float(stats.chi2.sf(chisq, df))
    p = mixture_p(chisq, df) if mixture else naive
    return LRT(chisq, int(df), p, naive, bool(mixture), float(fit0.minus2ll), float(fit1.minus2ll))
