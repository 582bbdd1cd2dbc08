"""Extra reference fits for the covariance-structure library (tests/reference/extra/,
made by make_extra.R with nlme, or by direct REML optimisation in R for the
structures nlme lacks).  R is not needed to run these tests.

Tolerances are the project's standard ones: −2LL 1e-4 absolute, fixed
estimates 1e-4 relative, standard errors 1e-3 relative, first-block V entries
1e-4 relative (to the largest entry); covariance parameters 2e-3 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm

from dense import dense_m2ll, tril_to_full  # noqa: E402

REF = Path(__file__).parent / "reference"
CASES = sorted((REF / "extra").glob("*.json"))
#: cases left to ``-m slow``: each fit compiles a new program (seconds), and these
#: repeat what the core cases (AR(1), lme + AR(1)) or another extra case already
#: cover (weights; SP(POW) is the SP(EXP) fit with ρ = exp(−1/θ))
SLOW = {"orthodont_gls_ar1_reml", "orthodont_gls_ar1_weights_reml", "sleepstudy_lme_ar1_reml", "ovary_lme_arma11_reml",
        "spatial_gls_pow_reml"}
PARAMS = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else []) for p in CASES]


def load(case_path: Path):
    case = json.loads(case_path.read_text())
    folder = REF / ("extra" if case.get("data_dir") == "extra" else "data")
    return case, pd.read_csv(folder / case["data"])


def fit_case(case, data):
    m = case["model"]
    random = [jm.Random(r.get("effects", "1"), r.get("subject"), r.get("type", "VC"), r.get("group")) for r in m.get("random", [])]
    rep = m.get("repeated")
    repeated = None
    if rep:
        repeated = jm.Repeated(
            subject=rep.get("subject"), type=rep.get("type", "VC"), index=rep.get("index"),
            coordinate=rep.get("coordinate"), group=rep.get("group"),
        )
    return jm.mixed(m["fixed"], data, random=random or None, repeated=repeated, method=case["method"],
                    weights=m.get("weights"))


@pytest.fixture(scope="module", params=PARAMS)
def fitted(request):
    case, data = load(request.param)
    return case, fit_case(case, data)


def test_minus2ll(fitted):
    case, res = fitted
    assert res.converged, res.status
    assert res.minus2ll == pytest.approx(case["minus2ll"], abs=1e-4)


def test_fixed_effects(fitted):
    case, res = fitted
    fx = res.fixed
    for row in case["fixed"]:
        got = fx.loc[row["effect"]]
        assert got["Estimate"] == pytest.approx(row["estimate"], rel=1e-4, abs=1e-8), row["effect"]
        assert got["StdErr"] == pytest.approx(row["se"], rel=1e-3), row["effect"]


def test_first_block_v(fitted):
    case, res = fitted
    want = np.asarray(case["first_block"]["V"], float)
    got = res.V(0).to_numpy(float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_covparms(fitted):
    case, res = fitted
    cp = res.covparms
    if "Group" not in cp.columns:
        cp["Group"] = ""
    # the Subject column tells G-side UN(1,1) from R-side UN(1,1) where a case names it
    by_subject = any("Subject" in row for row in case["proc_covparms"])
    table = {(r.CovParm, r.Group) + ((r.Subject,) if by_subject else ()): r.Estimate for r in cp.itertuples()}
    assert len(table) == len(case["proc_covparms"])
    for row in case["proc_covparms"]:
        key = (row["CovParm"], row.get("Group", "")) + ((row.get("Subject", ""),) if by_subject else ())
        assert key in table, (key, sorted(table))
        assert table[key] == pytest.approx(row["Estimate"], rel=2e-3, abs=1e-6), key


def test_g_and_gcorr(fitted):
    """Cases that give G (the genetic covariance of the multivariate model): G and
    its correlation matrix (gcorr, the genetic correlations) as R fitted them."""
    case, res = fitted
    if "G" not in case:
        pytest.skip("no G in this case")
    want = np.asarray(case["G"], float)
    np.testing.assert_allclose(res.G.to_numpy(float), want, rtol=2e-3, atol=1e-6 * np.abs(want).max())
    np.testing.assert_allclose(res.gcorr.to_numpy(float), np.asarray(case["gcorr"], float), atol=1e-3)
    np.testing.assert_allclose(res.R(0).to_numpy(float)[:3, :3], np.asarray(case["R"], float), rtol=2e-3)


def test_minus2ll_is_dense_at_reported_g_and_r(fitted):
    """The multivariate case: −2LL equals the brute-force dense REML −2LL with
    V = Z G Z' + R built by hand from the reported UN parameters (G over the
    traits of a family, R over the traits of a family × sample)."""
    case, res = fitted
    if "G" not in case:
        pytest.skip("no G in this case")
    _, data = load(next(p for p in CASES if p.stem == case["name"]))
    cp = res.covparms
    g = tril_to_full(cp.loc[cp["Subject"] == "family", "Estimate"].to_numpy(float), 3)
    r = tril_to_full(cp.loc[cp["Subject"] == "family:sample", "Estimate"].to_numpy(float), 3)
    t = data["trait"].map({"T1": 0, "T2": 1, "T3": 2}).to_numpy()
    fam, sam = data["family"].to_numpy(), data["sample"].to_numpy()
    same_f = fam[:, None] == fam[None, :]
    v = g[np.ix_(t, t)] * same_f + r[np.ix_(t, t)] * same_f * (sam[:, None] == sam[None, :])
    x = np.column_stack([np.ones(len(t)), t == 1, t == 2]).astype(float)
    assert res.minus2ll == pytest.approx(dense_m2ll(data["y"].to_numpy(float), x, v, "REML"), rel=1e-9)
