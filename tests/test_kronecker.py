"""Kronecker-product R-side structures UN@AR(1), UN@CS, UN@UN (PROC MIXED
REPEATED var time / TYPE=UN@·): the matrix is np.kron of the two closed forms,
the working parameters reach exactly the allowed region, and a REML fit on data
simulated from the structure recovers its parameters with a −2LL equal to a
dense numpy −2LL at the reported parameters.  (nlme has no Kronecker
correlation structure; the R reference for UN@AR(1) is a direct REML
optimisation in R, tests/reference/extra/.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jax
import jax.numpy as jnp

import jaxmixed as jm
from jaxmixed.covariance import REGISTRY
from jaxmixed.errors import SpecificationError

from dense import dense_from_blocks, dense_m2ll, tril_to_full  # noqa: E402

KRON = [n for n in REGISTRY if "@" in n]


def second_factor(name, p, n2):
    """C from the PROC MIXED formulas: AR(1) ρ^|s−t|; CS 1 on the diagonal, ρ off it;
    UN with C(1,1) = 1 and the other entries given row by row."""
    lag = np.abs(np.subtract.outer(np.arange(n2), np.arange(n2)))
    if name == "UN@AR(1)":
        return p[0] ** lag
    if name == "UN@CS":
        return np.where(lag == 0, 1.0, p[0])
    if name == "UN@UN":
        return tril_to_full(np.concatenate([[1.0], p]), n2)
    raise KeyError(name)


def closed_form(name, theta, n1, n2):
    nu = n1 * (n1 + 1) // 2
    return np.kron(tril_to_full(theta[:nu], n1), second_factor(name, np.asarray(theta[nu:]), n2))


def make(name, n1, n2):
    return REGISTRY[name][0].for_index(n1 * n2, [str(k) for k in range(n1 * n2)], (n1, n2), ("var", "time"))


def test_registered_on_the_r_side_only():
    assert {"UN@AR(1)", "UN@UN"} <= set(KRON)
    for name in KRON:
        _, g_ok, r_ok = REGISTRY[name]
        assert r_ok and not g_ok


@pytest.mark.parametrize("name", KRON)
def test_parameter_names(name):
    s = make(name, 2, 3)
    first = ("var UN(1,1)", "var UN(2,1)", "var UN(2,2)")
    second = {"UN@AR(1)": ("time AR(1)",), "UN@CS": ("time Corr",),
              "UN@UN": ("time UN(2,1)", "time UN(2,2)", "time UN(3,1)", "time UN(3,2)", "time UN(3,3)")}[name]
    assert s.param_names() == first + second


@pytest.mark.parametrize("name", KRON)
def test_matrix_is_the_kronecker_product(name):
    rng = np.random.default_rng(7)
    for n1, n2 in [(2, 3), (3, 2), (1, 4), (2, 1)]:
        s = make(name, n1, n2)
        theta = np.asarray(jax.jit(s.to_natural)(jnp.asarray(rng.uniform(-1.5, 1.5, s.n_params))))
        full = closed_form(name, theta, n1, n2)
        np.testing.assert_allclose(np.asarray(s.matrix(jnp.asarray(theta))), full, rtol=1e-12, atol=1e-12)
        pos = rng.permutation(n1 * n2)[: max(1, n1 * n2 - 2)]
        got = np.asarray(s.matrix(jnp.asarray(theta), jnp.asarray(pos)))
        np.testing.assert_allclose(got, full[np.ix_(pos, pos)], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", KRON)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_working_maps_into_the_allowed_region(name, data):
    n1 = data.draw(st.integers(1, 3), label="n1")
    n2 = data.draw(st.integers(1, 3), label="n2")
    s = make(name, n1, n2)
    w = np.array(data.draw(st.lists(st.floats(-2.5, 2.5), min_size=s.n_params, max_size=s.n_params), label="w"))
    theta = np.asarray(s.to_natural(jnp.asarray(w)))
    assert np.all(np.isfinite(theta))
    assert np.all(theta >= s.lower_bounds() - 1e-12) and np.all(theta <= s.upper_bounds() + 1e-12)
    m = np.asarray(s.matrix(jnp.asarray(theta)))
    vals = np.linalg.eigvalsh(m)
    assert vals.min() >= -1e-9 * max(1.0, abs(vals).max())
    # back and forth, wherever the parameters are identifiable (U and C well inside PD)
    nu = n1 * (n1 + 1) // 2
    u_vals = np.linalg.eigvalsh(tril_to_full(theta[:nu], n1))
    c_vals = np.linalg.eigvalsh(second_factor(name, theta[nu:], n2))
    if u_vals.min() < 1e-3 * u_vals.max() or c_vals.min() < 1e-3 * c_vals.max():
        return
    back = np.asarray(s.to_natural(jnp.asarray(s.to_working(theta))))
    np.testing.assert_allclose(back, theta, rtol=1e-7, atol=1e-9)


def test_needs_two_index_columns():
    data = pd.DataFrame({"s": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 5.0]})
    with pytest.raises(SpecificationError, match="two columns"):
        jm.mixed("y ~ 1", data, repeated=jm.Repeated("s", "UN@AR(1)", index="t"))
    with pytest.raises(SpecificationError, match="not available in the RANDOM"):
        jm.mixed("y ~ 1", data, random=jm.Random("1", "s", "UN@AR(1)"))


def test_two_column_index_places_rows_row_major():
    from jaxmixed.design import build_design

    data = pd.DataFrame({"s": [1] * 4, "v": ["b", "a", "b", "a"], "t": [2, 2, 1, 1], "y": [1.0, 2.0, 3.0, 4.0]})
    rep = build_design("y ~ 1", data, repeated=jm.Repeated("s", "UN@CS", index=["v", "t"])).repeated
    assert rep.index_shape == (2, 2) and rep.dim == 4 and rep.index_names == ("v", "t")
    assert list(rep.pos) == [3, 1, 2, 0]  # (b,2) (a,2) (b,1) (a,1)
    assert rep.index_levels == ("a:1", "a:2", "b:1", "b:2")
    with pytest.raises(jm.errors.DataError, match="twice within subject"):
        build_design("y ~ 1", data.assign(t=[1, 1, 1, 2]), repeated=jm.Repeated("s", "UN@CS", index=["v", "t"]))


# ---------------------------------------------------------------------------
# REML fits on simulated data
U_TRUE = np.array([[4.0, 1.5], [1.5, 2.0]])
C_PARAMS = {"UN@AR(1)": [0.6], "UN@CS": [0.4], "UN@UN": [0.5, 1.5, 0.3, 0.6, 0.8]}
N1, N2, N_SUB = 2, 3, 80


def simulate(name, seed=11):
    """N_SUB subjects with 2 variables × 3 times, about 10 % of the values missing."""
    rng = np.random.default_rng(seed)
    m = np.kron(U_TRUE, second_factor(name, np.asarray(C_PARAMS[name]), N2))
    low = np.linalg.cholesky(m)
    rows = []
    for s in range(N_SUB):
        e = low @ rng.standard_normal(N1 * N2)
        for k in range(N1 * N2):
            if rng.random() < 0.1 and k:
                continue
            v, t = divmod(k, N2)
            rows.append({"subj": f"s{s:03d}", "var": f"v{v + 1}", "time": t, "y": 5.0 * v + 0.5 * t + e[k]})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", [n if n == "UN@AR(1)" else pytest.param(n, marks=pytest.mark.slow) for n in KRON])
def test_reml_fit_recovers_parameters_and_matches_dense(name):
    data = simulate(name)
    res = jm.mixed("y ~ C(var) + time", data, repeated=jm.Repeated("subj", name, index=["var", "time"]))
    assert res.converged, res.status
    cp = res.covparms
    s = make(name, N1, N2)
    assert tuple(cp["CovParm"]) == s.param_names()
    theta = cp["Estimate"].to_numpy(float)
    truth = np.concatenate([U_TRUE[np.tril_indices(N1)], C_PARAMS[name]])
    se = cp["StdErr"].to_numpy(float)
    assert np.all(np.isfinite(se))
    assert np.all(np.abs(theta - truth) <= 4 * se + 0.1 * np.abs(truth)), (theta, truth, se)

    full = closed_form(name, theta, N1, N2)
    pos = (data["var"].map({"v1": 0, "v2": 1}) * N2 + data["time"]).to_numpy()
    blocks = [(idx, full[np.ix_(pos[idx], pos[idx])]) for idx in data.groupby("subj", sort=False).indices.values()]
    x = np.column_stack([np.ones(len(data)), data["var"] == "v2", data["time"]]).astype(float)
    want = dense_m2ll(data["y"].to_numpy(), x, dense_from_blocks(len(data), blocks), "REML")
    assert res.minus2ll == pytest.approx(want, rel=1e-9)
