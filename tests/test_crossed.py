"""Crossed random effects: the sparse mixed-model-equations path (path="mme").

References: R (lme4) fits committed in tests/reference, and the brute-force
dense −2ℓ of tests/dense.py with V = Σ_k Z_k G_k Z_k' + σ² W⁻¹ built row by
row from the data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm
from conftest import load_case, load_data
from dense import dense_m2ll
from jaxmixed.blocks import make_layout
from jaxmixed.design import build_design
from jaxmixed.errors import UnsupportedOptionError
from jaxmixed.likelihood import neg2ll_natural
from jaxmixed.mme import build_mme

INSTEVAL_M2LL = 237743.5831  # lme4::lmer(y ~ service + (1 | s) + (1 | d), InstEval), REML


def _rel(a, e, rtol):
    a, e = np.asarray(a, float), np.asarray(e, float)
    assert np.all(np.abs(a - e) <= rtol * np.maximum(np.abs(e), 1e-12)), (a, e)


def _path(fit):
    d = fit.dimensions.set_index("Descr")["Value"]
    return d["Likelihood Path"]


# --------------------------------------------------------------------------- penicillin vs R


@pytest.fixture(scope="module")
def penicillin():
    c = load_case("penicillin_crossed_reml")
    rnd = [jm.Random("1", subject="plate"), jm.Random("1", subject="sample")]
    fit = jm.mixed("diameter ~ 1", load_data(c["data"]), random=rnd, path="mme")
    return c, fit


def test_penicillin_through_mme_matches_lme4(penicillin):
    c, fit = penicillin
    assert _path(fit) == "sparse MME"
    assert fit.converged
    assert abs(fit.minus2ll - c["minus2ll"]) < 1e-4
    cp = fit.covparms
    ref = {r["term"]: r["estimate"] for r in c["covparms"]}
    _rel(cp[cp.Subject == "plate"].Estimate, [ref["plate"]], 1e-4)
    _rel(cp[cp.Subject == "sample"].Estimate, [ref["sample"]], 1e-4)
    _rel(cp[cp.CovParm == "Residual"].Estimate, [ref["Residual"]], 1e-4)
    f = c["fixed"][0]
    _rel(fit.fixed.Estimate, [f["estimate"]], 1e-4)
    _rel(fit.fixed.StdErr, [f["se"]], 1e-3)
    # Satterthwaite works through the sums (lmerTest's df)
    est = fit.estimate([1.0], ddfm="satterthwaite")
    _rel(est.DF, [f["df_satterthwaite"]], 1e-3)


def test_penicillin_blups_match_lme4(penicillin):
    c, fit = penicillin
    re = fit.random_effects
    for term, rows in c["blups"].items():
        mine = re[re.Subject == term].set_index("Level")["Estimate"]
        for row in rows:
            _rel(mine[str(row["level"])], row["(Intercept)"], 1e-3)


def test_auto_path_takes_mme_for_crossed_subjects(penicillin):
    c, fit = penicillin
    auto = jm.mixed("diameter ~ 1 + (1 | plate) + (1 | sample)", load_data(c["data"]))
    assert _path(auto) == "sparse MME"
    assert abs(auto.minus2ll - fit.minus2ll) < 1e-8
    dims = auto.dimensions.set_index("Descr")["Value"]
    assert (dims["Columns in X"], dims["Columns in Z"], dims["Subjects"], dims["Max Obs per Subject"]) == (1, 30, 1, 144)


def test_unsupported_on_mme_raise(penicillin):
    c, fit = penicillin
    with pytest.raises(UnsupportedOptionError, match="Kenward"):
        fit.estimate([1.0], ddfm="kr")
    with pytest.raises(UnsupportedOptionError, match="V\\(subject\\)"):
        fit.V(0)
    with pytest.raises(UnsupportedOptionError, match="studentized"):
        fit.residuals(type="studentized")
    with pytest.raises(UnsupportedOptionError, match="AR\\(1\\)"):
        jm.mixed("diameter ~ 1 + (1 | plate) + (1 | sample)", load_data(c["data"]),
                 repeated=jm.Repeated(subject="plate", type="AR(1)"))


# --------------------------------------------------------------------------- general vs block path


@pytest.mark.parametrize(
    "data,fixed,random",
    [
        ("pastes.csv", "strength ~ 1", [jm.Random("1", subject="batch"), jm.Random("1", subject="batch:cask")]),
        ("sleepstudy.csv", "Reaction ~ Days", [jm.Random("1 + Days", subject="Subject", type="UN")]),
    ],
    ids=["pastes", "sleepstudy-un"],
)
def test_mme_and_block_paths_agree_on_nested_data(data, fixed, random):
    frame = load_data(data)
    a = jm.mixed(fixed, frame, random=random, path="blocks")
    b = jm.mixed(fixed, frame, random=random, path="mme")
    assert _path(a) == "dense blocks" and _path(b) == "sparse MME"
    assert abs(a.minus2ll - b.minus2ll) < 1e-6
    _rel(b.covparms.Estimate, a.covparms.Estimate, 1e-5)
    _rel(b.fixed.Estimate, a.fixed.Estimate, 1e-6)
    _rel(b.fixed.StdErr, a.fixed.StdErr, 1e-5)
    _rel(b.fixed.DF, a.fixed.DF, 1e-9)  # containment ranks computed sparsely
    ra, rb = a.random_effects, b.random_effects
    key = ["Statement", "Effect", "Level"]
    m = ra.merge(rb, on=key, suffixes=("_a", "_b"))
    assert len(m) == len(ra) == len(rb)
    _rel(m.Estimate_b, m.Estimate_a, 1e-4)
    _rel(m.StdErrPred_b, m.StdErrPred_a, 1e-4)
    _rel(b.predicted().to_numpy(), a.predicted().to_numpy(), 1e-7)


# --------------------------------------------------------------------------- dense references


def _crossed_frame(n_a, n_b, seed, weights=False):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_a):
        for j in range(n_b):
            for _ in range(rng.integers(0, 3)):  # unbalanced, some empty cells
                rows.append((f"a{i}", f"b{j}", rng.normal()))
    f = pd.DataFrame(rows, columns=["a", "b", "x"])
    f["y"] = rng.normal(size=len(f)) + 0.5 * f.x + f.a.str[1:].astype(int) * 0.1
    if weights:
        f["w"] = rng.uniform(0.5, 2.0, size=len(f))
    return f


def _dense_v(frame, theta, slope_on):
    """V = σ_a² Z_a Z_a' + Z_b G_b Z_b' + σ² W⁻¹; G_b UN(2) on (1, x) by the factor ``slope_on``."""
    other = "a" if slope_on == "b" else "b"
    n = len(frame)
    za = (frame[other].to_numpy()[:, None] == frame[other].to_numpy()[None, :]).astype(float)
    same_b = frame[slope_on].to_numpy()[:, None] == frame[slope_on].to_numpy()[None, :]
    zx = np.column_stack([np.ones(n), frame.x.to_numpy()])
    g = np.array([[theta[1], theta[2]], [theta[2], theta[3]]])
    w = frame["w"].to_numpy() if "w" in frame else np.ones(n)
    return theta[0] * za + (zx @ g @ zx.T) * same_b + np.diag(theta[4] / w)


@pytest.mark.parametrize("n_a,n_b,slope_on,weights", [(6, 9, "b", False), (14, 5, "b", True), (5, 11, "a", False)],
                         ids=["slope-factor-eliminated", "slope-factor-in-schur-weighted", "slope-on-a"])
@pytest.mark.parametrize("boundary", [False, True], ids=["interior", "boundary"])
def test_mme_likelihood_matches_dense(n_a, n_b, slope_on, weights, boundary):
    frame = _crossed_frame(n_a, n_b, seed=n_a * 100 + n_b, weights=weights)
    other = "a" if slope_on == "b" else "b"
    random = [jm.Random("1", subject=other), jm.Random("1 + x", subject=slope_on, type="UN")]
    design = build_design("y ~ x", frame, random, None, weights="w" if weights else None)
    y, x = design.y, design.x
    for method in ("REML", "ML"):
        layout = make_layout(design, method, path="mme")
        cp, _ = build_mme(design, layout)
        cp = jax.tree.map(jnp.asarray, cp)
        theta = np.array([0.7, 1.3, 0.4, 0.5, 0.9])
        if boundary:
            theta[0] = 0.0  # a variance on its bound
            theta[1:4] = [0.8, 0.0, 0.0]  # and a slope variance at 0
        got = float(neg2ll_natural(jnp.asarray(theta), cp, layout))
        want = dense_m2ll(y, x, _dense_v(frame, theta, slope_on), method)
        assert abs(got - want) < 1e-8 * max(1.0, abs(want))
        hess = jax.hessian(neg2ll_natural)(jnp.asarray(theta), cp, layout)
        assert np.all(np.isfinite(np.asarray(hess)))


@pytest.mark.slow
def test_random_slope_on_crossed_factor_fit_is_dense_optimum():
    """The fitted −2ℓ equals the dense −2ℓ at the estimates, and no nearby θ is lower."""
    frame = _crossed_frame(8, 10, seed=7)
    random = [jm.Random("1", subject="a"), jm.Random("1 + x", subject="b", type="UN")]
    fit = jm.mixed("y ~ x", frame, random=random, path="mme")
    assert fit.converged
    cp = fit.covparms
    theta = np.array([cp.Estimate[0], cp.Estimate[1], cp.Estimate[2], cp.Estimate[3], cp.Estimate[4]])
    design = build_design("y ~ x", frame, random)
    base = dense_m2ll(design.y, design.x, _dense_v(frame, theta, "b"), "REML")
    assert abs(fit.minus2ll - base) < 1e-6
    rng = np.random.default_rng(1)
    for _ in range(10):
        step = theta * (1 + 1e-3 * rng.normal(size=5))
        if step[1] * step[3] - step[2] ** 2 <= 0:
            continue
        assert dense_m2ll(design.y, design.x, _dense_v(frame, step, "b"), "REML") >= base - 1e-7


def test_boundary_fit_through_mme_matches_lme4():
    c = load_case("dyestuff2_boundary_reml")
    fit = jm.mixed(c["model"]["fixed"], load_data(c["data"]),
                   random=[jm.Random(r["effects"], subject=r["subject"]) for r in c["model"]["random"]], path="mme")
    assert abs(fit.minus2ll - c["minus2ll"]) < 1e-4
    assert fit.covparms.Bound.iloc[0]
    assert any(d.code == "variance-on-boundary" for d in fit.diagnostics)


# --------------------------------------------------------------------------- InstEval


@pytest.mark.slow
def test_insteval_matches_lme4():
    data = load_data("insteval.csv")
    fit = jm.mixed("y ~ service + (1 | s) + (1 | d)", data)
    assert _path(fit) == "sparse MME"
    assert fit.converged
    assert abs(fit.minus2ll - INSTEVAL_M2LL) < 1e-4
    dims = fit.dimensions.set_index("Descr")["Value"]
    assert dims["Columns in Z"] == 2972 + 1128
