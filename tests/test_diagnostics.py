"""Diagnostics against independent numbers: the boundary LRT of Dyestuff2
against the closed-form REML −2ℓ of the OLS model without Batch, the
intraclass correlation against the ANOVA estimators, and the findings about
the design (constant slopes, scales)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fit_case, load_case
from scipy import stats

import jaxmixed as jm


def ols_reml_m2ll(y):
    """REML −2ℓ of y ~ 1 with V = σ²I: (N−1)(log 2π + log σ̂² + 1) + log N, σ̂² = RSS/(N−1)."""
    n = len(y)
    s2 = np.sum((y - y.mean()) ** 2) / (n - 1)
    return (n - 1) * (np.log(2 * np.pi) + np.log(s2) + 1.0) + np.log(n)


def test_dyestuff2_boundary_lrt_against_the_closed_form():
    f = fit_case("dyestuff2_boundary_reml")
    d = next(d for d in f.diagnostics if d.code == "variance-on-boundary")
    y = jm.datasets.load("dyestuff2").Yield.to_numpy()
    m2ll_without = ols_reml_m2ll(y)
    m2ll_with = load_case("dyestuff2_boundary_reml")["minus2ll"]  # lme4
    chisq = max(m2ll_without - m2ll_with, 0.0)
    assert d.details["minus2ll_without"] == pytest.approx(m2ll_without, abs=1e-6)
    assert d.details["lrt_chisq"] == pytest.approx(chisq, abs=1e-6)
    p = 0.5 * (1.0 if chisq <= 1e-9 else 0.0) + 0.5 * stats.chi2.sf(chisq, 1)
    assert d.details["lrt_p"] == pytest.approx(p, abs=1e-6)
    assert d.details["lrt_mixture"] and d.details["lrt_df"] == 1
    assert "no variation between Batch levels beyond the residual variation" in d.message
    assert d.details["icc"] == 0.0
    assert "Batch" in f.diagnose()


def test_intraclass_correlation_is_the_anova_one():
    df = jm.datasets.load("dyestuff")
    f = jm.mixed("Yield ~ 1", df, random=[jm.Random("1", subject="Batch")])
    groups = [g.Yield.to_numpy() for _, g in df.groupby("Batch")]
    n, a = len(groups[0]), len(groups)
    msb = n * sum((g.mean() - df.Yield.mean()) ** 2 for g in groups) / (a - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (a * (n - 1))
    sb = (msb - msw) / n
    d = next(d for d in f.diagnostics if d.code == "intraclass-correlation")
    assert d.details["icc"] == pytest.approx(sb / (sb + msw), rel=1e-6)


def test_slope_constant_within_subject():
    df = jm.datasets.load("sleepstudy")
    df["age"] = df.Subject.astype("category").cat.codes * 1.5 + 20.0  # one value per subject
    f = jm.mixed("Reaction ~ Days", df, random=[jm.Random("1 + age", subject="Subject", type="VC")])
    codes = [d.code for d in f.diagnostics]
    assert "slope-constant-within-subject" in codes
    assert f.converged or "not-converged" in codes


def test_badly_scaled_data_are_reported_and_fitted():
    df = jm.datasets.load("sleepstudy")
    df["Reaction"] *= 1e4
    df["Days"] *= 3600.0 * 24
    f = jm.mixed("Reaction ~ Days", df, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
    d = next(d for d in f.diagnostics if d.code == "different-scales")
    assert "mapped back exactly" in d.message
