"""The covariance-structure library: every registered TYPE= against a hand-written
numpy closed form, the working <-> natural maps, and a REML fit on data simulated
from the structure (parameters recovered roughly; −2LL equal to a dense numpy
−2LL at the fitted covariance parameters)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jax
import jax.numpy as jnp

import jaxmixed as jm
from jaxmixed.covariance import REGISTRY
from jaxmixed.design import build_design
from jaxmixed.errors import DataError, SpecificationError, UnsupportedOptionError

from dense import dense_from_blocks, dense_m2ll, tril_to_full  # noqa: E402

#: every registered TYPE=; of the FA0(q) family (one class per q) FA0(1) and FA0(2) stand for all;
#: the Kronecker products (UN@·, which need two index columns) have tests/test_kronecker.py
NAMES = sorted(n for n in REGISTRY if not (n.startswith("FA0(") and n not in ("FA0(1)", "FA0(2)")) and "@" not in n)


# ---------------------------------------------------------------------------
# closed forms, written out from the PROC MIXED "Covariance Structure Examples"
# formulas, in the natural parameters θ (the order of param_names()).
def _lag(d):
    return np.abs(np.subtract.outer(np.arange(d), np.arange(d)))


def _dist(c):
    return np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))


def _het(theta, d, corr):
    s = np.sqrt(theta[:d])
    return np.outer(s, s) * corr


def closed_form(name, theta, d, coords=None):
    th = np.asarray(theta, float)
    lag = _lag(d)
    if name == "VC":
        return np.diag(th) if d > 1 else th[0] * np.eye(len(coords) if coords is not None else 1)
    if name in ("UN", "UN(1)"):
        if name == "UN(1)":
            return np.diag(th)
        return tril_to_full(th, d)
    if name == "CS":
        return th[0] * np.ones((d, d)) + th[1] * np.eye(d)
    if name == "AR(1)":
        return th[0] * th[1] ** lag
    if name == "CSH":
        return _het(th, d, np.where(lag == 0, 1.0, th[d]))
    if name == "ARH(1)":
        return _het(th, d, th[d] ** lag)
    if name == "UNR":
        c = np.eye(d)
        k = d
        for i in range(d):
            for j in range(i):
                c[i, j] = c[j, i] = th[k]
                k += 1
        return _het(th, d, c)
    if name == "TOEPH":
        return _het(th, d, np.concatenate([[1.0], th[d:]])[lag])
    if name == "ANTE(1)":
        c = np.eye(d)
        for i in range(d):
            for j in range(i + 1, d):
                c[i, j] = c[j, i] = np.prod(th[d + i : d + j])
        return _het(th, d, c)
    if name == "TOEP":
        return th[lag]
    if name == "ARMA(1,1)":
        with np.errstate(divide="ignore"):
            off = th[2] * th[1] ** np.maximum(lag - 1, 0)
        return th[0] * np.where(lag == 0, 1.0, off)
    if name.startswith("FA0("):
        q = min(int(name[4:-1]), d)
        lam = np.zeros((d, q))
        k = 0
        for i in range(d):
            for j in range(min(i + 1, q)):
                lam[i, j] = th[k]
                k += 1
        return lam @ lam.T
    if name == "HF":
        v, lam = th[:d], th[d]
        m = (v[:, None] + v[None, :]) / 2 - lam
        np.fill_diagonal(m, v)
        return m
    dist = _dist(coords)
    if name == "SP(POW)":
        return th[0] * th[1] ** dist
    if name == "SP(EXP)":
        return th[0] * np.exp(-dist / th[1])
    if name == "SP(GAU)":
        return th[0] * np.exp(-(dist**2) / th[1] ** 2)
    if name == "SP(SPH)":
        u = dist / th[1]
        return th[0] * np.where(u < 1, 1 - 1.5 * u + 0.5 * u**3, 0.0)
    raise KeyError(name)


def _is_spatial(name):
    return REGISTRY[name][0].n_coords > 0


@functools.lru_cache(maxsize=None)
def _jitted(s):
    """s.matrix and s.to_natural under jit: one small compile per structure and
    shape instead of one per eager operation."""
    return jax.jit(lambda t, p, c: s.matrix(t, p, c)), jax.jit(s.to_natural)


def _matrix(s, theta, pos=None, coords=None):
    return np.asarray(_jitted(s)[0](jnp.asarray(theta), pos, coords))


def _natural(s, w):
    return np.asarray(_jitted(s)[1](jnp.asarray(w, float)))


def test_every_registered_structure_has_a_closed_form():
    for name in NAMES:
        cls = REGISTRY[name][0]
        s = cls(dim=3)
        theta = _natural(s, np.full(s.n_params, 0.3))
        coords = np.random.default_rng(0).uniform(size=(3, 2)) if _is_spatial(name) else None
        closed_form(name, theta, 3, coords)  # raises KeyError for a structure without one
        assert cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_matrix_matches_closed_form(name):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    cls = REGISTRY[name][0]
    for d in (1, 4):
        s = cls(dim=d)
        assert len(s.param_names()) == s.n_params == len(set(s.param_names()))
        w = rng.uniform(-1.5, 1.5, size=s.n_params)
        theta = _natural(s, w)
        if _is_spatial(name):
            if d == 1:
                continue
            for k in (1, 3):
                coords = rng.uniform(0, 3, size=(6, k))
                got = _matrix(s, theta, jnp.arange(6), jnp.asarray(coords))
                np.testing.assert_allclose(got, closed_form(name, theta, d, coords), rtol=1e-12, atol=1e-12)
            continue
        full = closed_form(name, theta, d, np.zeros((d, 0)))
        got = _matrix(s, theta)
        np.testing.assert_allclose(got, full, rtol=1e-12, atol=1e-12)
        if name == "VC" and d == 1:
            continue
        # R side: rows at a subset of the positions, in any order
        pos = rng.permutation(d)[: max(1, d - 1)]
        got = _matrix(s, theta, jnp.asarray(pos))
        np.testing.assert_allclose(got, full[np.ix_(pos, pos)], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_working_maps_into_the_allowed_region(name, data):
    cls = REGISTRY[name][0]
    d = data.draw(st.integers(1, 4), label="dim")
    s = cls(dim=d)
    w = np.array(data.draw(st.lists(st.floats(-2.5, 2.5), min_size=s.n_params, max_size=s.n_params), label="w"))
    theta = _natural(s, w)
    assert np.all(np.isfinite(theta))
    assert np.all(theta[s.variance_mask()] >= 0)
    assert np.all(theta >= s.lower_bounds() - 1e-12) and np.all(theta <= s.upper_bounds() + 1e-12)
    coords = jnp.asarray(np.random.default_rng(d).uniform(0, 2, size=(6, 2))) if _is_spatial(name) else None
    m = _matrix(s, theta, jnp.arange(6) if coords is not None else None, coords)
    vals = np.linalg.eigvalsh(m)
    assert vals.min() >= -1e-9 * max(1.0, abs(vals).max())
    # to_working ∘ to_natural: natural parameters come back wherever they are identifiable
    # (a nearly singular UN matrix is lifted by design, and a variance at 0 leaves
    # parameters that multiply it undetermined, so those points are left out).
    if name == "UN" and vals.min() < 1e-3 * vals.max():
        return
    if np.any(theta[s.variance_mask()] < 1e-4):
        return
    back = _natural(s, s.to_working(theta))
    np.testing.assert_allclose(back, theta, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------
# simulated fits
TRUE_R = {
    "VC": [2.0],
    "UN": None,  # filled from a fixed positive-definite matrix below
    "CS": [1.2, 2.0],
    "AR(1)": [2.0, 0.6],
    "CSH": [1.0, 2.0, 3.0, 1.5, 0.5],
    "UNR": None,
    "ARH(1)": [1.0, 2.0, 3.0, 1.5, 0.6],
    "ARMA(1,1)": [2.0, 0.7, 0.5],
    "TOEP": [2.0, 1.2, 0.6, 0.2],
    "TOEPH": [1.0, 2.0, 3.0, 1.5, 0.6, 0.3, 0.1],
    "ANTE(1)": [1.0, 2.0, 3.0, 1.5, 0.7, 0.4, 0.6],
    "HF": [2.0, 2.5, 3.0, 3.5, 1.0],
    "SP(POW)": [2.0, 0.4],
    "SP(EXP)": [2.0, 1.0],
    "SP(GAU)": [2.0, 1.0],
    "SP(SPH)": [2.0, 2.0],
}
_UN4 = np.array([[2.0, 0.8, 0.5, 0.3], [0.8, 1.5, 0.6, 0.4], [0.5, 0.6, 2.5, 1.0], [0.3, 0.4, 1.0, 3.0]])
TRUE_R["UN"] = list(_UN4[np.tril_indices(4)])
_sd = np.sqrt(np.diag(_UN4))
TRUE_R["UNR"] = list(np.diag(_UN4)) + list((_UN4 / np.outer(_sd, _sd))[np.tril_indices(4, -1)])

D_R = 4  # positions per subject on the R side
N_SUB = 60


def _natural_from_table(res, g_struct, r_struct):
    """Natural θ of (G structure, R structure) from the covparms table, whose R
    part lists the scale parameter ("Residual") last."""
    est = res.covparms["Estimate"].to_numpy(float)
    ng = g_struct.n_params if g_struct is not None else 0
    g, r = est[:ng], est[ng:]
    if r_struct.scale_index is not None:
        r = np.insert(r[:-1], r_struct.scale_index, r[-1])
    return g, r


def _simulate_r(name, seed=1):
    """N_SUB subjects; index structures: D_R+1 positions with one missing per
    subject; spatial: 6 points in [0, 3]² per subject."""
    rng = np.random.default_rng(seed)
    theta = np.asarray(TRUE_R[name], float)
    rows = []
    for s in range(N_SUB):
        if _is_spatial(name):
            k = 6
            c = rng.uniform(0, 3, size=(k, 2))
            m = closed_form(name, theta, k, c)
            pos = np.arange(k)
        elif name == "VC":
            k, c = D_R, np.zeros((D_R, 0))
            m = theta[0] * np.eye(k)
            pos = np.arange(k)
        else:
            full = closed_form(name, _expand(name, theta), D_R + 1)
            pos = np.sort(rng.permutation(D_R + 1)[:D_R])
            m = full[np.ix_(pos, pos)]
            c = np.zeros((D_R, 0))
        e = np.linalg.cholesky(m) @ rng.standard_normal(len(pos))
        xs = rng.standard_normal(len(pos))
        for j in range(len(pos)):
            rows.append({"subj": f"s{s:03d}", "t": int(pos[j]), "cx": c[j, 0] if c.shape[1] else 0.0,
                         "cy": c[j, 1] if c.shape[1] else 0.0, "x": xs[j], "y": 1.0 + 0.5 * xs[j] + e[j]})
    return pd.DataFrame(rows)


def _expand(name, theta):
    """True parameters for D_R + 1 positions (the simulation drops one per subject)."""
    th = list(theta)
    d = D_R
    if name in ("CSH", "ARH(1)"):
        return np.array(th[:d] + [2.5] + th[d:])
    if name == "TOEP":
        return np.array(th + [0.1])
    if name == "TOEPH":
        return np.array(th[:d] + [2.5] + th[d:] + [0.05])
    if name == "ANTE(1)":
        return np.array(th[:d] + [2.5] + th[d:] + [0.5])
    if name == "HF":
        return np.array(th[:d] + [4.0] + th[d:])
    if name in ("UN", "UNR"):
        big = np.zeros((d + 1, d + 1))
        big[:d, :d] = _UN4
        big[d, :d] = big[:d, d] = [0.2, 0.3, 0.4, 0.5]
        big[d, d] = 2.0
        if name == "UN":
            return big[np.tril_indices(d + 1)]
        sd = np.sqrt(np.diag(big))
        return np.concatenate([np.diag(big), (big / np.outer(sd, sd))[np.tril_indices(d + 1, -1)]])
    return np.array(th)


R_SIDE = [n for n in NAMES if REGISTRY[n][2] and not n.startswith("FA0(")]  # FA0(q < d) alone is singular
#: structures whose recovery fit runs by default; the rest are marked slow (each is
#: a new compiled program, and the extra reference cases already fit them against R)
FAST = {"HF"}


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in R_SIDE])
def test_reml_fit_on_simulated_r_side(name):
    data = _simulate_r(name)
    spatial = _is_spatial(name)
    if name == "VC":
        rep = jm.Repeated(type="VC")
    elif spatial:
        rep = jm.Repeated("subj", name, coordinate=("cx", "cy"))
    else:
        rep = jm.Repeated("subj", name, index="t")
    res = jm.mixed("y ~ x", data, repeated=rep)
    assert res.converged, res.status
    cls = REGISTRY[name][0]
    dim = 1 if name == "VC" else (6 if spatial else D_R + 1)
    s = cls(dim=dim)
    _, theta = _natural_from_table(res, None, s)
    assert len(theta) == s.n_params

    # rough recovery: within 4 standard errors (plus 10 %) of the truth
    truth = np.asarray(TRUE_R[name] if (spatial or name == "VC") else _expand(name, TRUE_R[name]), float)
    se = res.covparms["StdErr"].to_numpy(float)
    if s.scale_index is not None:
        se = np.insert(se[:-1], s.scale_index, se[-1])
    assert np.all(np.isfinite(se))
    assert np.all(np.abs(theta - truth) <= 4 * se + 0.1 * np.abs(truth)), (theta, truth, se)

    # −2LL against a dense numpy evaluation at the fitted covariance parameters
    x = np.column_stack([np.ones(len(data)), data["x"].to_numpy()])
    y = data["y"].to_numpy()
    blocks = []
    for _, idx in data.groupby("subj", sort=False).indices.items():
        if spatial:
            v = closed_form(name, theta, len(idx), data[["cx", "cy"]].to_numpy()[idx])
        elif name == "VC":
            v = theta[0] * np.eye(len(idx))
        else:
            pos = data["t"].to_numpy()[idx]
            v = closed_form(name, theta, dim)[np.ix_(pos, pos)]
        blocks.append((idx, v))
    assert res.minus2ll == pytest.approx(dense_m2ll(y, x, dense_from_blocks(len(y), blocks), "REML"), rel=1e-6)


def _g_data(seed=3, n_sub=80):
    rng = np.random.default_rng(seed)
    rows = []
    g = np.array([[2.0, 0.6], [0.6, 1.0]])
    for s in range(n_sub):
        b = np.linalg.cholesky(g) @ rng.standard_normal(2)
        for t in range(5):
            x = rng.standard_normal()
            rows.append({"subj": f"s{s:03d}", "t": t, "x": x, "y": 1 + 0.5 * x + b[0] + b[1] * t + rng.normal(0, 1.0)})
    return pd.DataFrame(rows), g


@pytest.mark.parametrize("name", ["FA0(2)"] + [pytest.param(n, marks=pytest.mark.slow) for n in ("TOEP", "UN(1)", "ARH(1)", "HF")])
def test_reml_fit_g_side(name):
    """A RANDOM statement with the structure, plus the profiled residual σ² I
    (G-side parameters rescaled with σ²: variances and covariances by σ², FA0
    loadings by σ)."""
    data, g_true = _g_data()
    res = jm.mixed("y ~ x", data, random=jm.Random("1 + t", "subj", name))
    assert res.converged, res.status
    s = REGISTRY[name][0](dim=2)
    est = res.covparms["Estimate"].to_numpy(float)
    g_theta, sigma2 = est[: s.n_params], est[-1]
    assert len(est) == s.n_params + 1
    gmat = closed_form(name, g_theta, 2)
    assert sigma2 == pytest.approx(1.0, abs=0.25)
    if name != "UN(1)":  # UN(1) has no covariance; TOEP also forces equal variances
        assert gmat[0, 1] == pytest.approx(g_true[0, 1], abs=0.5)
    if name in ("FA0(2)", "UN(1)", "ARH(1)", "HF"):  # free variances
        np.testing.assert_allclose(np.diag(gmat), np.diag(g_true), rtol=0.4)
    x = np.column_stack([np.ones(len(data)), data["x"].to_numpy()])
    y = data["y"].to_numpy()
    blocks = []
    for _, idx in data.groupby("subj", sort=False).indices.items():
        z = np.column_stack([np.ones(len(idx)), data["t"].to_numpy()[idx]])
        blocks.append((idx, z @ gmat @ z.T + sigma2 * np.eye(len(idx))))
    assert res.minus2ll == pytest.approx(dense_m2ll(y, x, dense_from_blocks(len(y), blocks), "REML"), rel=1e-6)


# ---------------------------------------------------------------------------
# GROUP=, WEIGHT and coordinate checks
def test_group_on_both_statements_shows_group_column():
    """RANDOM group=: a G variance per arm; REPEATED group=: AR(1) parameters per
    arm (two R structures, so nothing is profiled)."""
    rng = np.random.default_rng(5)
    truth = {"A": (1.0, 2.0, 0.3), "B": (3.0, 0.5, 0.7)}  # intercept variance, σ², ρ
    rows = []
    for s in range(80):
        arm = "AB"[s % 2]
        g, s2, rho = truth[arm]
        r = s2 * rho ** np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
        e = rng.normal(0, np.sqrt(g)) + np.linalg.cholesky(r) @ rng.standard_normal(5)
        for t in range(5):
            rows.append({"subj": f"s{s:03d}", "arm": arm, "t": t, "y": 2.0 + e[t]})
    data = pd.DataFrame(rows)
    res = jm.mixed("y ~ 1", data, random=jm.Random("1", "subj", "VC", group="arm"),
                   repeated=jm.Repeated("subj", "AR(1)", index="t", group="arm"))
    assert res.converged
    cp = res.covparms
    assert "Group" in cp.columns
    assert list(cp["Group"]) == ["arm A", "arm B", "arm A", "arm A", "arm B", "arm B"]
    assert list(cp["CovParm"]) == ["Intercept", "Intercept", "AR(1)", "Residual", "AR(1)", "Residual"]
    est = cp["Estimate"].to_numpy(float)
    se = cp["StdErr"].to_numpy(float)
    want = np.array([truth["A"][0], truth["B"][0], truth["A"][2], truth["A"][1], truth["B"][2], truth["B"][1]])
    assert np.all(np.abs(est - want) <= 4 * se), (est, want, se)
    # the same −2LL by dense numpy
    blocks = []
    for subj, idx in data.groupby("subj", sort=False).indices.items():
        arm = data["arm"].iloc[idx[0]]
        k = 0 if arm == "A" else 1
        g, rho, s2 = (est[0], est[2], est[3]) if k == 0 else (est[1], est[4], est[5])
        blocks.append((idx, g + s2 * rho ** np.abs(np.subtract.outer(np.arange(5), np.arange(5)))))
    x = np.ones((len(data), 1))
    assert res.minus2ll == pytest.approx(dense_m2ll(data["y"].to_numpy(), x, dense_from_blocks(len(data), blocks), "REML"), rel=1e-6)


def test_weights_scale_r_only():
    data, _ = _g_data(n_sub=30)
    data["w"] = 1.0 + data["t"] / 2
    res = jm.mixed("y ~ x", data, random=jm.Random("1", "subj"), weights="w")
    g, s2 = res.covparms["Estimate"].to_numpy(float)
    v = res.V(0).to_numpy(float)
    w = data["w"].to_numpy()[:5]
    np.testing.assert_allclose(v, g + s2 * np.diag(1 / w), rtol=1e-10)
    # weights all equal to c: σ² scales by c, G and −2LL up to n log c do not change
    data["w"] = 4.0
    a = jm.mixed("y ~ x", data, random=jm.Random("1", "subj"), weights="w")
    b = jm.mixed("y ~ x", data, random=jm.Random("1", "subj"))
    ea, eb = a.covparms["Estimate"].to_numpy(), b.covparms["Estimate"].to_numpy()
    assert ea[0] == pytest.approx(eb[0], rel=1e-5) and ea[1] == pytest.approx(eb[1] * 4, rel=1e-5)


def test_weights_errors():
    data, _ = _g_data(n_sub=5)
    data["w"] = 1.0
    data.loc[3, "w"] = 0.0
    with pytest.raises(DataError, match="'w'"):
        jm.mixed("y ~ x", data, weights="w")
    with pytest.raises(DataError, match="'nope'"):
        jm.mixed("y ~ x", data, weights="nope")
    data.loc[3, "w"] = np.nan  # a missing weight drops the row
    design = build_design("y ~ x", data, weights="w")
    assert design.n_used == len(data) - 1
    np.testing.assert_array_equal(design.weights, np.ones(len(data) - 1))


def test_spatial_needs_coordinates():
    data = _simulate_r("SP(EXP)").head(30)
    with pytest.raises(UnsupportedOptionError, match="coordinate"):
        jm.mixed("y ~ x", data, repeated=jm.Repeated("subj", "SP(EXP)"))
    with pytest.raises(SpecificationError, match="SP\\(EXP\\)"):
        jm.mixed("y ~ x", data, random=jm.Random("1", "subj", "SP(EXP)"))
