"""The blocked JAX likelihood against a brute-force dense computation.

For small unbalanced random data and every covariance structure, −2ℓ from
``jaxmixed.likelihood.neg2ll_natural`` (natural parameters, layout order) must
equal the PROC MIXED formulas evaluated with one full N×N matrix

    V = Z G Z' + R,  built entry by entry from the data columns by hand,
    ML:   N log 2π + log|V| + r'V⁻¹r
    REML: (N − p) log 2π + log|V| + log|X'V⁻¹X| + r'V⁻¹r,   r = y − Xβ̂ (GLS),

to 1e-8 relative.  A few full ``jm.mixed`` fits are also checked: their −2LL
must be the dense formula at the covariance parameters they report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm
from jaxmixed.blocks import make_blocks, make_layout
from jaxmixed.design import build_design
from jaxmixed.likelihood import neg2ll_natural

from dense import dense_m2ll, tril_to_full  # noqa: E402

FIXED = "y ~ x + trt"
N_VISITS = 5


# --------------------------------------------------------------------------- data


def _common(rng, n):
    x = rng.normal(size=n) * 2.0 + 1.0
    trt = np.where(rng.random(n) < 0.5, "A", "B")
    trt[:2] = ["A", "B"]  # both levels present
    return x, trt


def longitudinal(seed: int, n_sub: int = 7, n_visits: int = N_VISITS, min_visits: int = 2) -> pd.DataFrame:
    """Subjects g with ``min_visits``–``n_visits`` visits t (a subset of 0..n_visits−1,
    gaps allowed), a covariate, a treatment and a 3-level factor k; rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sub):
        if s == 0:
            visits = [v for v in range(n_visits) if v != 1]  # a missing visit (1)
        elif s == 1:
            visits = list(range(n_visits))  # every level of t present
        else:
            m = int(rng.integers(min_visits, n_visits + 1))
            visits = sorted(rng.choice(n_visits, size=m, replace=False).tolist())
        for t in visits:
            rows.append({"g": f"s{s}", "t": t})
    df = pd.DataFrame(rows)
    n = len(df)
    df["x"], df["trt"] = _common(rng, n)
    k = rng.choice(["p", "q", "r"], size=n)
    k[:3] = ["p", "q", "r"]
    df["k"] = k
    df["y"] = rng.normal(size=n) * 3.0 + 10.0
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def nested(seed: int) -> pd.DataFrame:
    """b nested in a (b's labels reused across a), 1–4 rows per (a, b) cell."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(3):
        for b in range(int(rng.integers(2, 4))):
            for _ in range(int(rng.integers(1, 5))):
                rows.append({"a": f"A{a}", "b": f"b{b}"})
    df = pd.DataFrame(rows)
    n = len(df)
    df["x"], df["trt"] = _common(rng, n)
    df["y"] = rng.normal(size=n) * 3.0
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def crossed(seed: int, n_rows: int = 26) -> pd.DataFrame:
    """a (4 levels) crossed with c (3 levels), unbalanced, rows at random cells."""
    rng = np.random.default_rng(seed)
    a = np.array([f"A{i}" for i in rng.integers(0, 4, n_rows)])
    c = np.array([f"C{i}" for i in rng.integers(0, 3, n_rows)])
    a[:4] = ["A0", "A1", "A2", "A3"]
    c[:3] = ["C0", "C1", "C2"]
    x, trt = _common(rng, n_rows)
    return pd.DataFrame({"a": a, "c": c, "x": x, "trt": trt, "y": rng.normal(size=n_rows) * 3.0})


# --------------------------------------------------------------------------- dense pieces, by hand


def same(df, *cols):
    m = np.ones((len(df), len(df)), bool)
    for col in cols:
        v = df[col].to_numpy()
        m &= v[:, None] == v[None, :]
    return m.astype(float)


def xmat(df):
    """X of ``y ~ x + trt`` (treatment coding, reference level A)."""
    return np.column_stack([np.ones(len(df)), df["x"].to_numpy(float), (df["trt"] == "B").to_numpy(float)])


def full_to_tril(m):
    d = m.shape[0]
    return np.array([m[i, j] for i in range(d) for j in range(i + 1)])


def random_un(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def var(rng):
    return float(rng.uniform(0.3, 3.0))


# --------------------------------------------------------------------------- the structures


@dataclass(frozen=True)
class Spec:
    name: str
    data: Callable[[int], pd.DataFrame]
    fixed: str
    random: tuple
    repeated: object
    names: tuple  # expected parameter names in layout order
    sample: Callable  # (rng, df) -> natural θ in layout order
    dense_v: Callable  # (df, θ) -> V


def _v_vc1(df, th):
    return th[0] * same(df, "g") + th[1] * np.eye(len(df))


def _v_vc2(df, th):
    x = df["x"].to_numpy(float)
    return same(df, "g") * (th[0] + th[1] * np.outer(x, x)) + th[2] * np.eye(len(df))


def _v_un2(df, th):
    x = df["x"].to_numpy(float)
    g = tril_to_full(th[:3], 2)
    zgz = g[0, 0] + g[1, 0] * (x[:, None] + x[None, :]) + g[1, 1] * np.outer(x, x)
    return same(df, "g") * zgz + th[3] * np.eye(len(df))


def _v_gcs(df, th):
    cs, v, resid = th
    return same(df, "g") * (cs + v * same(df, "k")) + resid * np.eye(len(df))


def _v_rvc(df, th):
    return th[0] * np.eye(len(df))


def _v_rcs(df, th):
    cs, v = th
    return same(df, "g") * cs + v * np.eye(len(df))


def _v_run(df, th):
    u = tril_to_full(th, N_VISITS)
    t = df["t"].to_numpy()
    return same(df, "g") * u[t[:, None], t[None, :]]


def _ar1(df, v, rho):
    t = df["t"].to_numpy()
    return same(df, "g") * v * rho ** np.abs(t[:, None] - t[None, :])


def _v_ar1(df, th):
    return _ar1(df, th[0], th[1])


def _v_g_ar1(df, th):
    return th[0] * same(df, "g") + _ar1(df, th[1], th[2])


def _v_nested(df, th):
    return th[0] * same(df, "a") + th[1] * same(df, "a", "b") + th[2] * np.eye(len(df))


def _v_crossed(df, th):
    return th[0] * same(df, "a") + th[1] * same(df, "c") + th[2] * np.eye(len(df))


def _s_vars(k):
    return lambda rng, df: np.array([var(rng) for _ in range(k)])


def _s_un2(rng, df):
    return np.concatenate([full_to_tril(random_un(rng, 2)), [var(rng)]])


def _s_gcs(rng, df):
    v = var(rng)
    return np.array([rng.uniform(-0.25, 1.5) * v, v, var(rng)])  # CS > −Variance/3 keeps G pd


def _s_rcs(rng, df):
    v = var(rng)
    return np.array([rng.uniform(-0.15, 1.5) * v, v])  # CS > −Variance/5 keeps R pd


def _s_run(rng, df):
    return full_to_tril(random_un(rng, N_VISITS))


def _s_ar1(rng, df):
    return np.array([var(rng), rng.uniform(-0.8, 0.9)])


def _s_g_ar1(rng, df):
    return np.array([var(rng), var(rng), rng.uniform(-0.8, 0.9)])


R = jm.Random
REP = jm.Repeated
UN2_NAMES = ("UN(1,1)", "UN(2,1)", "UN(2,2)")
RUN_NAMES = tuple(f"UN({i + 1},{j + 1})" for i in range(N_VISITS) for j in range(i + 1))

SPECS = [
    Spec("G-VC-1", longitudinal, FIXED, (R("1", subject="g"),), None, ("Intercept", None), _s_vars(2), _v_vc1),
    Spec("G-VC-2", longitudinal, FIXED, (R("1 + x", subject="g", type="VC"),), None,
         ("Intercept", "x", None), _s_vars(3), _v_vc2),
    Spec("G-UN-2", longitudinal, FIXED, (R("1 + x", subject="g", type="UN"),), None,
         UN2_NAMES + (None,), _s_un2, _v_un2),
    Spec("G-UN-2-bars", longitudinal, FIXED + " + (x | g)", (), None, UN2_NAMES + (None,), _s_un2, _v_un2),
    Spec("G-UN(1)-2", longitudinal, FIXED, (R("1 + x", subject="g", type="UN(1)"),), None,
         ("UN(1,1)", "UN(2,2)", None), _s_vars(3), _v_vc2),
    Spec("G-CS-C(k)", longitudinal, FIXED, (R("0 + C(k)", subject="g", type="CS"),), None,
         ("CS", "Variance", None), _s_gcs, _v_gcs),
    Spec("R-VC", longitudinal, FIXED, (), REP(subject="g", type="VC"), (None,), _s_vars(1), _v_rvc),
    Spec("R-CS", longitudinal, FIXED, (), REP(subject="g", type="CS"), ("CS", "Variance"), _s_rcs, _v_rcs),
    Spec("R-UN-index", longitudinal, FIXED, (), REP(subject="g", type="UN", index="t"), RUN_NAMES, _s_run, _v_run),
    Spec("R-AR(1)-index", longitudinal, FIXED, (), REP(subject="g", type="AR(1)", index="t"),
         ("Variance", "AR(1)"), _s_ar1, _v_ar1),
    Spec("G-VC+R-AR(1)", longitudinal, FIXED, (R("1", subject="g"),), REP(subject="g", type="AR(1)", index="t"),
         ("Intercept", "Variance", "AR(1)"), _s_g_ar1, _v_g_ar1),
    Spec("nested", nested, FIXED, (R("1", subject="a"), R("1", subject="a:b")), None,
         ("Intercept", "Intercept", None), _s_vars(3), _v_nested),
    Spec("crossed", crossed, FIXED, (R("1", subject="a"), R("1", subject="c")), None,
         ("Intercept", "Intercept", None), _s_vars(3), _v_crossed),
]
DATA_SEED = 11
N_DRAWS = 2  # parameter draws per structure (same data, so the compiled ops are reused)


def jax_m2ll(spec, df, theta, method):
    design = build_design(spec.fixed, df, list(spec.random) or None, spec.repeated)
    layout = make_layout(design, method)
    blocks = make_blocks(design, layout)
    buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)
    names = tuple(n for s in layout.structures for n in s.param_names())
    assert len(names) == len(spec.names) == len(theta), (names, spec.names)
    for got, want in zip(names, spec.names):
        if want is not None:
            assert got == want, (names, spec.names)
    return float(neg2ll_natural(jnp.asarray(theta, dtype=jnp.float64), buckets, layout))


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_neg2ll_matches_dense(spec, method):
    df = spec.data(DATA_SEED)
    y, x = df["y"].to_numpy(float), xmat(df)
    rng = np.random.default_rng([DATA_SEED, SPECS.index(spec), int(method == "ML")])
    for _ in range(N_DRAWS):
        theta = spec.sample(rng, df)
        v = spec.dense_v(df, theta)
        assert np.all(np.linalg.eigvalsh(v) > 0), "test bug: V not positive definite"
        want = dense_m2ll(y, x, v, method)
        got = jax_m2ll(spec, df, theta, method)
        assert got == pytest.approx(want, rel=1e-8), (spec.name, method, theta, got, want)


def test_dense_reference_is_not_trivial():
    """The dense formula itself: ML and REML differ, and V matters."""
    df = longitudinal(3)
    y, x = df["y"].to_numpy(float), xmat(df)
    v1 = _v_vc1(df, [1.0, 1.0])
    v2 = _v_vc1(df, [2.0, 1.0])
    assert dense_m2ll(y, x, v1, "ML") != pytest.approx(dense_m2ll(y, x, v1, "REML"))
    assert dense_m2ll(y, x, v1, "REML") != pytest.approx(dense_m2ll(y, x, v2, "REML"))
    # σ² I: ML −2ℓ in closed form, N log(2π σ²) + RSS/σ²
    n = len(y)
    rss = np.sum((y - x @ np.linalg.lstsq(x, y, rcond=None)[0]) ** 2)
    assert dense_m2ll(y, x, 2.5 * np.eye(n), "ML") == pytest.approx(n * np.log(2 * np.pi * 2.5) + rss / 2.5)


# --------------------------------------------------------------------------- full fits


def _cp(fit, name, subject=None):
    cp = fit.covparms
    hit = cp[(cp.CovParm == name) & ((cp.Subject == subject) if subject is not None else True)]
    assert len(hit) == 1, (name, subject, cp)
    return float(hit.Estimate.iloc[0])


FITS = [
    # spec name, method, covparms -> θ in the spec's order
    ("G-UN-2-bars", "ML", lambda f: [_cp(f, "UN(1,1)", "g"), _cp(f, "UN(2,1)", "g"), _cp(f, "UN(2,2)", "g"),
                                     _cp(f, "Residual")]),
    ("G-VC+R-AR(1)", "REML", lambda f: [_cp(f, "Intercept", "g"), _cp(f, "Residual"), _cp(f, "AR(1)", "g")]),
    ("crossed", "REML", lambda f: [_cp(f, "Intercept", "a"), _cp(f, "Intercept", "c"), _cp(f, "Residual")]),
]


def simulate(spec, df, rng):
    """y drawn from the model itself, so that the fit is well posed."""
    theta = spec.sample(rng, df)
    v = spec.dense_v(df, theta)
    y = xmat(df) @ np.array([10.0, 1.5, -2.0]) + np.linalg.cholesky(v) @ rng.normal(size=len(df))
    return df.assign(y=y)


@pytest.mark.parametrize("name,method,to_theta", FITS, ids=[f"{n}-{m}" for n, m, _ in FITS])
def test_fit_minus2ll_is_dense_at_reported_covparms(name, method, to_theta):
    spec = next(s for s in SPECS if s.name == name)
    # 12 subjects with 5 or 6 visits: unbalanced, with gaps, yet one block-size class
    # (so the fit compiles one program per size class, not four).
    base = longitudinal(5, n_sub=12, n_visits=6, min_visits=5) if spec.data is longitudinal else spec.data(5)
    df = simulate(spec, base, np.random.default_rng(99))
    fit = jm.mixed(spec.fixed, df, random=list(spec.random) or None, repeated=spec.repeated, method=method)
    assert fit.converged, fit.status
    theta = np.asarray(to_theta(fit), float)
    want = dense_m2ll(df["y"].to_numpy(float), xmat(df), spec.dense_v(df, theta), method)
    assert fit.minus2ll == pytest.approx(want, rel=1e-8, abs=1e-8)
    # and the GLS fixed effects at those parameters
    x, y, v = xmat(df), df["y"].to_numpy(float), spec.dense_v(df, theta)
    xvx = x.T @ np.linalg.solve(v, x)
    beta = np.linalg.solve(xvx, x.T @ np.linalg.solve(v, y))
    se = np.sqrt(np.diag(np.linalg.inv(xvx)))
    fx = fit.fixed.loc[["(Intercept)", "x", "trtB"]]
    np.testing.assert_allclose(fx.Estimate, beta, rtol=1e-7, atol=1e-10)
    if getattr(fit, "ddfm", "residual") != "kr":  # model-based standard errors
        np.testing.assert_allclose(fx.StdErr, se, rtol=1e-7)
