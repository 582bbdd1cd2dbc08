"""Deliberately hard fits (tests/hard_cases.py): each must give the diagnostic
that explains it, and a result that is either converged with finite estimates
or flagged as not converged, never an exception or a NaN passed off as an
estimate.  docs/hard_fits.md compares the same fits with statsmodels and lme4."""

from __future__ import annotations

from functools import lru_cache

import jax.numpy as jnp
import numpy as np
import pytest
from hard_cases import cases, fit

CASES = {c.name: c for c in cases()}


@lru_cache(maxsize=None)
def fitted(name):
    return fit(CASES[name])


@pytest.mark.parametrize("name", list(CASES))
def test_hard_fit_is_diagnosed(name):
    case = CASES[name]
    f = fitted(name)
    codes = {d.code for d in f.diagnostics}
    assert codes & set(case.expect), (name, codes)
    if f.converged:
        assert np.all(np.isfinite(f.covparms.Estimate)), f.covparms
        assert np.all(np.isfinite(f.fixed.Estimate)), f.fixed
    else:
        assert "not-converged" in codes
    for d in f.diagnostics:
        assert d.message and d.severity in ("info", "warning", "error")
    assert f.diagnose() and "Diagnostics" in f.summary()


def test_correlation_one_names_the_effects_and_the_alternatives():
    d = next(d for d in fitted("corr_one").diagnostics if d.code == "g-not-positive-definite")
    assert "Intercept" in d.message and "x" in d.message
    assert "type='VC'" in d.suggestion and "jm.Repeated(subject='subj'" in d.suggestion


def test_saddle_start_is_left():
    """σ²_b = 0 is w = 0 in the working parameters, where the gradient vanishes by
    symmetry and the curvature is negative: Newton must leave it and reach the
    ANOVA (= REML) estimate of the balanced one-way model."""
    from jaxmixed.blocks import make_blocks, make_layout
    from jaxmixed.design import build_design
    from jaxmixed.likelihood import natural_from_working
    from jaxmixed.optimize.newton import newton
    import jaxmixed as jm

    case = CASES["saddle_start"]
    df = case.data
    groups = [g.Yield.to_numpy() for _, g in df.groupby("Batch")]
    n, a = len(groups[0]), len(groups)
    msb = n * sum((g.mean() - df.Yield.mean()) ** 2 for g in groups) / (a - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (a * (n - 1))

    d = build_design("Yield ~ 1", df, [jm.Random("1", subject="Batch")])
    layout = make_layout(d, "REML")
    b = tuple({k: jnp.asarray(v) for k, v in bb.items()} for bb in make_blocks(d, layout).buckets)
    opt = newton(jnp.zeros(1), b, layout)
    assert int(opt.status) == 0
    theta = np.asarray(natural_from_working(opt.w, b, layout))
    np.testing.assert_allclose(theta, [(msb - msw) / n, msw], rtol=1e-6)
    f = fitted("saddle_start")
    np.testing.assert_allclose(f.covparms.Estimate, [(msb - msw) / n, msw], rtol=1e-6)


def test_single_observation_subjects_say_why():
    d = next(d for d in fitted("single_obs").diagnostics if d.code == "single-observation-subjects")
    assert d.severity == "info" and "36 of 40" in d.message and "residual" in d.message
