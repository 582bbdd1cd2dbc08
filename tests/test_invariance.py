"""Invariance and equivariance of a fit (hypothesis), on the bundled sleepstudy data
with PROC MIXED's ``RANDOM 1 + Days / SUBJECT=Subject TYPE=UN``.

* permuting the rows, or relabelling the subjects, changes nothing;
* y -> a·y + b: −2LL shifts by 2·N'·log|a| (N' = N − p for REML, N for ML), the
  intercept becomes a·β0 + b and the slope a·β1, every covariance parameter is
  multiplied by a², the standard errors by |a|;
* Days -> c·Days + d: the slope becomes β1/c and the intercept β0 − β1·d/c; the
  model (UN is closed under the affine change of Z) is the same, so ML −2LL is
  unchanged and REML −2LL shifts by log|det A|² = 2·log|c| (X -> X A).

All of these reuse one compiled program (same shapes, same layout), so each
example costs one Newton run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxmixed as jm

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
METHODS = ["REML", "ML"]


@lru_cache(maxsize=None)
def _sleep() -> pd.DataFrame:
    return jm.datasets.load("sleepstudy")


def sleep() -> pd.DataFrame:
    return _sleep().copy()


def fit(df, method):
    return jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                    method=method)


@lru_cache(maxsize=None)
def base(method):
    f = fit(sleep(), method)
    assert f.converged, f.status
    return f


def n_prime(method, df=None):
    n = len(sleep()) if df is None else len(df)
    return n - 2 if method == "REML" else n


def assert_same_fit(a, b, rtol=1e-6, cov_scale=1.0):
    assert b.converged, b.status
    assert a.minus2ll == pytest.approx(b.minus2ll, rel=rtol)
    np.testing.assert_allclose(a.fixed.Estimate, b.fixed.Estimate, rtol=rtol)
    np.testing.assert_allclose(a.fixed.StdErr, b.fixed.StdErr, rtol=rtol)
    ca, cb = a.covparms, b.covparms
    assert list(ca.CovParm) == list(cb.CovParm)
    assert list(ca.Subject) == list(cb.Subject)
    np.testing.assert_allclose(ca.Estimate * cov_scale, cb.Estimate, rtol=rtol)


scales = st.one_of(st.floats(-20.0, -0.05), st.floats(0.05, 20.0))


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(method, seed):
    df = sleep()
    perm = np.random.default_rng(seed).permutation(len(df))
    assert_same_fit(base(method), fit(df.iloc[perm].reset_index(drop=True), method))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), as_text=st.booleans())
def test_subject_labels_do_not_matter(seed, as_text):
    df = sleep()
    levels = df.Subject.unique()
    new = np.random.default_rng(seed).permutation(len(levels)) + 1000
    mapping = {old: (f"subj-{n}" if as_text else int(n)) for old, n in zip(levels, new)}
    df["Subject"] = df.Subject.map(mapping)
    other = fit(df, "REML")
    assert_same_fit(base("REML"), other)
    assert other.n_subjects == len(levels)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(a=scales, b=st.floats(-500.0, 500.0))
def test_response_affine_transform(method, a, b):
    ref = base(method)
    df = sleep()
    df["Reaction"] = a * df["Reaction"] + b
    other = fit(df, method)
    assert other.converged, other.status
    assert other.minus2ll == pytest.approx(ref.minus2ll + 2 * n_prime(method) * np.log(abs(a)), rel=1e-8, abs=1e-6)
    est = ref.fixed.Estimate
    np.testing.assert_allclose(other.fixed.Estimate, [a * est["(Intercept)"] + b, a * est["Days"]], rtol=1e-6,
                               atol=1e-9 * abs(b))
    np.testing.assert_allclose(other.fixed.StdErr, abs(a) * ref.fixed.StdErr, rtol=1e-6)
    assert list(other.covparms.CovParm) == list(ref.covparms.CovParm)
    np.testing.assert_allclose(other.covparms.Estimate, a**2 * ref.covparms.Estimate, rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(c=scales, d=st.floats(-10.0, 10.0))
def test_predictor_affine_transform(method, c, d):
    ref = base(method)
    df = sleep()
    df["Days"] = c * df["Days"] + d
    other = fit(df, method)
    assert other.converged, other.status
    b0, b1 = ref.fixed.Estimate["(Intercept)"], ref.fixed.Estimate["Days"]
    got = other.fixed.Estimate
    # The optimisation path differs (another parametrisation of the same model),
    # so agreement is to the convergence tolerance, not to rounding.
    assert got["Days"] == pytest.approx(b1 / c, rel=1e-5)
    assert got["(Intercept)"] == pytest.approx(b0 - b1 * d / c, rel=1e-5)
    assert other.fixed.StdErr["Days"] == pytest.approx(ref.fixed.StdErr["Days"] / abs(c), rel=1e-4)
    shift = 2 * np.log(abs(c)) if method == "REML" else 0.0
    assert other.minus2ll == pytest.approx(ref.minus2ll + shift, abs=1e-5)
    resid = lambda f: float(f.covparms.set_index("CovParm").Estimate["Residual"])  # noqa: E731
    assert resid(other) == pytest.approx(resid(ref), rel=1e-4)


# --------------------------------------------------------------------------- badly scaled data
def _expected(ref, method, a, b, c, d):
    """The fit of y' = a·y + b on Days' = c·Days + d, from the fit on the original data.

    X' = X A and Z' = Z A with A = [[1, d], [0, c]], so β' = a A⁻¹ (β + (b/a) e₁),
    G' = a² A⁻¹ G A⁻ᵀ, σ²' = a² σ², and −2ℓ' = −2ℓ + 2 N' log|a| (+ 2 log|c| under
    REML, from log|A'X'V⁻¹XA| = log|X'V⁻¹X| + 2 log|det A|)."""
    A = np.array([[1.0, d], [0.0, c]])
    Ai = np.linalg.inv(A)
    beta = a * Ai @ (ref.fixed.Estimate.to_numpy() + np.array([b / a, 0.0]))
    cp = ref.covparms.Estimate.to_numpy()
    G = np.array([[cp[0], cp[1]], [cp[1], cp[2]]])
    G2 = a**2 * Ai @ G @ Ai.T
    theta = np.array([G2[0, 0], G2[1, 0], G2[1, 1], a**2 * cp[3]])
    m2ll = ref.minus2ll + 2 * n_prime(method) * np.log(abs(a)) + (2 * np.log(abs(c)) if method == "REML" else 0.0)
    return beta, theta, m2ll


@lru_cache(maxsize=None)
def tight(method):
    return fit_tight(sleep(), method)


def fit_tight(df, method):
    # CONVH=1e-8 leaves −2ℓ about 1e-8·|−2ℓ| ≈ 1e-5 from its minimum; comparing to 1e-6
    # needs both fits converged further than that.
    return jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                    method=method, convh=1e-13)


def _check_rescaled(method, a, b, c, d):
    ref = tight(method)
    df = sleep()
    df["Reaction"] = a * df["Reaction"] + b
    df["Days"] = c * df["Days"] + d
    other = fit_tight(df, method)
    assert other.converged, other.status
    beta, theta, m2ll = _expected(ref, method, a, b, c, d)
    assert other.minus2ll == pytest.approx(m2ll, abs=1e-6)
    np.testing.assert_allclose(other.fixed.Estimate, beta, rtol=1e-6)
    scale_g = np.array([abs(theta[0]), np.sqrt(abs(theta[0] * theta[2])), abs(theta[2]), abs(theta[3])])
    assert np.all(np.abs(other.covparms.Estimate.to_numpy() - theta) <= 1e-6 * scale_g), (other.covparms, theta)


@pytest.mark.parametrize("method", METHODS)
def test_seconds_and_tiny_units_give_the_same_fit(method):
    """Reaction × 10⁴ and Days in seconds (× 3600·24): predictors and variances many orders of
    magnitude apart."""
    _check_rescaled(method, 1e4, 0.0, 3600.0 * 24, 0.0)
    _check_rescaled(method, 1e-5, 3.0, 1e-4, 0.0)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(la=st.floats(-5, 5), lc=st.floats(-4, 5), b=st.floats(-1e3, 1e3), d=st.floats(-30, 30),
       sa=st.sampled_from([1.0, -1.0]))
def test_affine_rescaling_over_orders_of_magnitude(method, la, lc, b, d, sa):
    _check_rescaled(method, sa * 10.0**la, b * 10.0**la, 10.0**lc, d * 10.0**lc)
