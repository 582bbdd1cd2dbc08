"""Numerical edge cases: scale, collinearity, boundary, a large subject among small ones,
single precision, and bit-identical reruns.  References are invariances (a rescaled
problem has a known exact answer) and a closed-form random-intercept likelihood."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import jaxmixed as jm
from jaxmixed.errors import UnsupportedOptionError

ROOT = Path(__file__).resolve().parent.parent
UN = [jm.Random("1 + Days", subject="Subject", type="UN")]


@pytest.fixture(scope="module")
def base(sleepstudy):
    return jm.mixed("Reaction ~ Days", sleepstudy, random=UN)


# --------------------------------------------------------------------------- scale


def _check_scaled_y(fit, base, c, n, p):
    assert fit.converged
    np.testing.assert_allclose(fit.covparms.Estimate, base.covparms.Estimate * c**2, rtol=1e-5)
    np.testing.assert_allclose(fit.fixed.Estimate, base.fixed.Estimate * c, rtol=1e-6)
    # −2ℓ_REML(cy) = −2ℓ_REML(y) + (N − p) log c²
    assert fit.minus2ll == pytest.approx(base.minus2ll + (n - p) * np.log(c**2), abs=1e-4)


@pytest.mark.parametrize("c", [1e-3, 1e3, 1e-6, 1e6])
def test_response_rescaled_moderately(c, sleepstudy, base):
    df = sleepstudy.assign(Reaction=sleepstudy.Reaction * c)
    _check_scaled_y(jm.mixed("Reaction ~ Days", df, random=UN), base, c, 180, 2)


@pytest.mark.parametrize("c", [1e-12, 1e12])
def test_response_rescaled_extremely(c, sleepstudy, base):
    df = sleepstudy.assign(Reaction=sleepstudy.Reaction * c)
    _check_scaled_y(jm.mixed("Reaction ~ Days", df, random=UN), base, c, 180, 2)


@pytest.mark.parametrize("c", [1e-12, 1e12])
def test_fixed_predictor_rescaled_extremely(c, sleepstudy):
    # A scaled fixed-only column: the slope scales by 1/c, θ is unchanged and
    # −2ℓ_REML gains log c² (log|X'V⁻¹X|).  Random intercept only, so Z is unscaled.
    ri = [jm.Random("1", subject="Subject")]
    ref = jm.mixed("Reaction ~ Days", sleepstudy, random=ri)
    fit = jm.mixed("Reaction ~ Days", sleepstudy.assign(Days=sleepstudy.Days * c), random=ri)
    assert fit.converged
    np.testing.assert_allclose(fit.covparms.Estimate, ref.covparms.Estimate, rtol=1e-6)
    assert fit.fixed.Estimate["Days"] == pytest.approx(ref.fixed.Estimate["Days"] / c, rel=1e-6)
    assert fit.fixed.Estimate["(Intercept)"] == pytest.approx(ref.fixed.Estimate["(Intercept)"], rel=1e-6)
    assert fit.minus2ll == pytest.approx(ref.minus2ll + np.log(c**2), abs=1e-4)


# --------------------------------------------------------------------------- collinearity, boundary


def test_collinear_predictor_is_aliased_not_fatal(sleepstudy, base):
    df = sleepstudy.assign(Weeks=sleepstudy.Days / 7.0, Twice=2 * sleepstudy.Days + 1)
    fit = jm.mixed("Reaction ~ Days + Weeks + Twice", df, random=UN)
    assert fit.converged
    assert fit.minus2ll == pytest.approx(base.minus2ll, abs=1e-6)
    assert fit.fixed.loc[["Weeks", "Twice"], "Estimate"].tolist() == [0.0, 0.0]
    assert fit.fixed.loc[["Weeks", "Twice"], "StdErr"].isna().all()
    assert any(d.code == "aliased-fixed-effects" and "Weeks" in d.message for d in fit.diagnostics)


def test_variance_on_boundary_equals_the_fit_without_it():
    # No subject effect at all (y is pure noise): V = σ²_u J + σ² I is near-singular in
    # the σ²_u direction; the estimate goes to its bound and −2ℓ equals the plain fit's.
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60), "g": np.repeat(np.arange(12), 5)})
    df["y"] -= df.groupby("g")["y"].transform("mean") * 1.0  # remove every subject mean: ŝ²_u is 0
    fit = jm.mixed("y ~ x", df, random=[jm.Random("1", subject="g")])
    plain = jm.mixed("y ~ x", df)
    assert fit.converged
    assert fit.covparms.Estimate.iloc[0] == 0.0
    assert any(d.code == "variance-on-boundary" for d in fit.diagnostics)
    assert fit.minus2ll == pytest.approx(plain.minus2ll, abs=1e-6)


# --------------------------------------------------------------------------- a big subject among small ones


def _ri_reml(log_params, y, x, groups):
    """Closed-form REML −2ℓ of the random-intercept model, O(N): per subject
    V_i⁻¹ = (I − τ/(σ² + n_i τ) J)/σ² and |V_i| = σ^{2(n_i−1)} (σ² + n_i τ)."""
    tau, s2 = np.exp(log_params)
    n, p = x.shape
    logdet, xvx, xvy, yvy = 0.0, np.zeros((p, p)), np.zeros(p), 0.0
    for rows in groups:
        ni = len(rows)
        yi, xi = y[rows], x[rows]
        k = tau / (s2 + ni * tau)
        sx, sy = xi.sum(0), yi.sum()
        logdet += (ni - 1) * np.log(s2) + np.log(s2 + ni * tau)
        xvx += (xi.T @ xi - k * np.outer(sx, sx)) / s2
        xvy += (xi.T @ yi - k * sx * sy) / s2
        yvy += (yi @ yi - k * sy * sy) / s2
    beta = np.linalg.solve(xvx, xvy)
    quad = yvy - xvy @ beta
    return (n - p) * np.log(2 * np.pi) + logdet + np.linalg.slogdet(xvx)[1] + quad


def _ragged(big: int, n_small: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([[big], rng.integers(1, 6, n_small)])
    g = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.normal(size=len(g))
    y = 2.0 + 0.5 * x + rng.normal(scale=1.5, size=len(sizes))[g] + rng.normal(size=len(g))
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.slow
def test_big_subject_among_small_ones_matches_closed_form():
    df = _ragged(1000, 200)
    fit = jm.mixed("y ~ x", df, random=[jm.Random("1", subject="g")])
    assert fit.converged
    x = np.column_stack([np.ones(len(df)), df.x.to_numpy()])
    groups = [np.flatnonzero(df.g.to_numpy() == k) for k in range(df.g.max() + 1)]
    ref = optimize.minimize(_ri_reml, np.log([1.0, 1.0]), args=(df.y.to_numpy(), x, groups), method="Nelder-Mead",
                            options=dict(xatol=1e-10, fatol=1e-10, maxiter=4000))
    assert fit.minus2ll == pytest.approx(ref.fun, abs=1e-4)
    np.testing.assert_allclose(fit.covparms.Estimate, np.exp(ref.x), rtol=1e-4)
    # bucketing: the small subjects are not padded to the big one's size
    from jaxmixed.blocks import make_blocks, make_layout
    from jaxmixed.design import build_design

    d = build_design("y ~ x", df, [jm.Random("1", subject="g")])
    blocks = make_blocks(d, make_layout(d, "REML"))
    padded_rows = sum(b["y"].size for b in blocks.buckets)
    assert padded_rows < 3 * len(df), padded_rows
    assert max(b["y"].shape[1] for b in blocks.buckets if b["y"].shape[0] > 1) <= 8


def test_subject_too_big_for_dense_path_names_it():
    df = _ragged(10_000, 50)
    with pytest.raises(UnsupportedOptionError, match=r"subject='g'.*level '0' has 10000 rows"):
        jm.mixed("y ~ x", df, random=[jm.Random("1", subject="g")], path="blocks")


@pytest.mark.slow
def test_subject_too_big_for_dense_blocks_takes_the_sparse_path():
    df = _ragged(10_000, 50)
    fit = jm.mixed("y ~ x", df, random=[jm.Random("1", subject="g")])
    dims = fit.dimensions.set_index("Descr")["Value"]
    assert fit.converged and dims["Likelihood Path"] == "sparse MME"


# --------------------------------------------------------------------------- precision and reproducibility

_SCRIPT = """
import jax, jaxmixed as jm
{pre}
d = jm.datasets.load("sleepstudy")
r = jm.mixed("Reaction ~ Days", d, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
print([float(v).hex() for v in r.covparms.Estimate], [float(v).hex() for v in r.fixed.Estimate],
      float(r.minus2ll).hex(), [x.code for x in r.diagnostics])
"""


def _run(pre=""):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _SCRIPT.format(pre=pre)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_single_precision_is_flagged():
    line = _run('jax.config.update("jax_enable_x64", False)')
    assert "low-precision" in line


def test_bit_identical_in_one_process(sleepstudy, base):
    again = jm.mixed("Reaction ~ Days", sleepstudy, random=UN)
    assert again.covparms.Estimate.tolist() == base.covparms.Estimate.tolist()
    assert again.fixed.Estimate.tolist() == base.fixed.Estimate.tolist()
    assert again.minus2ll == base.minus2ll
    assert not any(d.code == "low-precision" for d in base.diagnostics)


def test_bit_identical_across_processes(base):
    a, b = _run(), _run()
    assert a == b
    here = str([float(v).hex() for v in base.covparms.Estimate])
    assert a.startswith(here)


@pytest.mark.parametrize("c", [1e-12, 1.0, 1e12])
def test_aliasing_is_scale_free(c):
    # regression: a column scaled by 1e-12 used to be declared aliased (absolute tolerance)
    from jaxmixed.design import aliased_columns

    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(20), rng.normal(size=20) * c, np.zeros(20)])
    x[:, 2] = 3.0 * x[:, 1] - 2.0
    assert aliased_columns(x).tolist() == [False, False, True]
