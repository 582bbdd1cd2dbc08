"""R, RCORR, VCORR and GCORR tables, checked against closed forms of the fitted parameters."""

import numpy as np
import pandas as pd

import jaxmixed as jm  # conftest turns on x64 and pins the CPU



def test_sleepstudy_r_v_and_g_correlations():
    df = jm.datasets.load("sleepstudy")
    fit = jm.mixed("Reaction ~ Days + (Days | Subject)", df)
    cp = fit.covparms.set_index("CovParm").Estimate
    n = 10
    # R = σ² I under the default REPEATED statement.
    np.testing.assert_allclose(fit.R(0).to_numpy(), cp["Residual"] * np.eye(n), rtol=1e-12)
    np.testing.assert_allclose(fit.rcorr("308").to_numpy(), np.eye(n), atol=1e-12)
    # V = Z G Z' + σ² I with Z = [1, Days] for days 0..9.
    z = np.column_stack([np.ones(n), np.arange(n)])
    g = np.array([[cp["UN(1,1)"], cp["UN(2,1)"]], [cp["UN(2,1)"], cp["UN(2,2)"]]])
    v = z @ g @ z.T + cp["Residual"] * np.eye(n)
    np.testing.assert_allclose(fit.V("308").to_numpy(), v, rtol=1e-10)
    sd = np.sqrt(np.diag(v))
    np.testing.assert_allclose(fit.vcorr(0).to_numpy(), v / np.outer(sd, sd), rtol=1e-10)
    r12 = cp["UN(2,1)"] / np.sqrt(cp["UN(1,1)"] * cp["UN(2,2)"])
    np.testing.assert_allclose(fit.gcorr.to_numpy(), [[1.0, r12], [r12, 1.0]], rtol=1e-10)


def test_orthodont_ar1_r_and_rcorr():
    df = jm.datasets.load("orthodont")
    fit = jm.mixed("distance ~ age * Sex", df, repeated=jm.Repeated(subject="Subject", type="AR(1)", index="age"))
    cp = fit.covparms.set_index("CovParm").Estimate
    lag = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    np.testing.assert_allclose(fit.R("M01").to_numpy(), cp["Residual"] * cp["AR(1)"] ** lag, rtol=1e-10)
    np.testing.assert_allclose(fit.rcorr("M01").to_numpy(), cp["AR(1)"] ** lag, rtol=1e-10)
    assert isinstance(fit.R(0), pd.DataFrame)
