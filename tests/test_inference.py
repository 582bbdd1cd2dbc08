"""Inference: DDFM= methods, Type III tests, ESTIMATE/CONTRAST/LSMEANS, EBLUPs, LRT.

References: tests/reference/cases (lme4 + lmerTest + pbkrtest), values below
made with R 4.2 from the same packages where a case file has none (the R code
is quoted next to them), hand derivations from the PROC MIXED documentation's
definitions, and independent finite-difference / dense-matrix computations.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import jaxmixed as jm
from conftest import case_model, load_case, load_data
from conftest import fit_case as shared_fit
from jaxmixed.errors import SpecificationError, UnsupportedOptionError
from jaxmixed.inference import InferenceContext
from jaxmixed.inference.ddf import fstat_ddf, satterthwaite_1d
from jaxmixed.inference.lrt import mixture_p
from jaxmixed.inference.type3 import type3_table
from jaxmixed.inference.blups import _v_and_g
from jaxmixed.optimize.information import trace_terms

_trace_terms = jax.jit(trace_terms, static_argnames=("layout", "identity_weight", "reml"))

ACCEPT = ("sleepstudy_un_reml", "oats_splitplot_reml")
LME4_CASES = ("dyestuff_reml", "dyestuff2_boundary_reml", "oats_splitplot_reml", "pastes_nested_reml",
              "penicillin_crossed_reml", "sleepstudy_un_ml", "sleepstudy_un_reml", "sleepstudy_vc_reml")


def case(name):
    return load_case(name)


def data(file):
    return load_data(file)


@lru_cache(maxsize=None)
def fit_case(name, ddfm=None):
    """The session's shared fit of a reference case (default DDFM), or a refit with ``ddfm``
    (cheap: the same compiled programs)."""
    if ddfm is None:
        return shared_fit(name)
    fixed, rnd, rep, method = case_model(load_case(name))
    return jm.mixed(fixed, load_data(load_case(name)["data"]), random=rnd or None, repeated=rep, method=method,
                    ddfm=ddfm)


def rel(a, b):
    return np.abs(np.asarray(a, float) / np.asarray(b, float) - 1.0)


def oats_fit(ddfm=None):
    return fit_case("oats_splitplot_reml", ddfm)


def sleep_fit(ddfm=None):
    return fit_case("sleepstudy_un_reml", ddfm)


# --------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("name", ACCEPT)
def test_fixed_table_matches_lmertest_and_pbkrtest(name):
    ref = pd.DataFrame(case(name)["fixed"]).set_index("effect")
    sat = fit_case(name, "satterthwaite").fixed.loc[ref.index]
    kr = fit_case(name, "kr").fixed.loc[ref.index]
    errs = {
        "se": rel(sat.StdErr, ref.se).max(),
        "df_satterthwaite": rel(sat.DF, ref.df_satterthwaite).max(),
        "se_kr": rel(kr.StdErr, ref.se_kr).max(),
        "df_kr": rel(kr.DF, ref.df_kr).max(),
    }
    print(name, errs)
    assert max(errs.values()) < 1e-3, errs


@pytest.mark.parametrize("name", ACCEPT)
def test_type3_matches_lmertest_and_pbkrtest(name):
    ref = pd.DataFrame(case(name)["type3"]).set_index("effect")
    fit = fit_case(name)
    sat = fit.type3("satterthwaite").set_index("Effect").loc[ref.index]
    kr = fit.type3("kr").set_index("Effect").loc[ref.index]
    assert (sat.NumDF.to_numpy() == ref.num_df.to_numpy()).all()
    assert (kr.NumDF.to_numpy() == ref.num_df.to_numpy()).all()
    errs = {
        "den_df_satterthwaite": rel(sat.DenDF, ref.den_df_satterthwaite).max(),
        "f_satterthwaite": rel(sat.FValue, ref.f_satterthwaite).max(),
        "den_df_kr": rel(kr.DenDF, ref.den_df_kr).max(),
        "f_kr": rel(kr.FValue, ref.f_kr).max(),
    }
    print(name, errs)
    assert max(errs.values()) < 1e-3, errs
    assert np.allclose(sat.ProbF, stats.f.sf(sat.FValue, sat.NumDF, sat.DenDF))


@pytest.mark.parametrize("name", [n for n in LME4_CASES if n != "sleepstudy_un_ml"])
def test_satterthwaite_df_other_lme4_cases(name):
    ref = pd.DataFrame(case(name)["fixed"]).set_index("effect")
    fit = fit_case(name)
    est = fit.estimate(np.eye(len(fit.fixed)), label=list(fit.fixed.index), ddfm="satterthwaite")
    est = est.set_index("Label").loc[ref.index]
    assert rel(est.DF, ref.df_satterthwaite).max() < 1e-3
    assert rel(est.StdErr, ref.se).max() < 1e-3


# --------------------------------------------------------------------------- Kenward–Roger, unbalanced


def _oats_unbalanced():
    # R: oats[setdiff(1:72, c(2, 9, 17, 30, 31, 50, 66)), ]
    return data("oats.csv").drop(index=[1, 8, 16, 29, 30, 49, 65]).reset_index(drop=True)


# lmer(yield ~ nitro_f * Variety + (1|Block) + (1|Block:Variety), data = <that subset>), lmerTest 3.1-3,
# pbkrtest 0.5.2: summary(m, ddf=...)$coefficients and anova(m, ddf=..., type=3).
UNBAL = {
    "satt_se": [9.7577827318, 9.2583593736, 8.5809605275, 8.0536015670, 10.7110485706, 10.3656014563,
                12.2629742236, 11.7637586071, 11.3883311889, 12.7139103609, 11.4536284518, 11.0640507653],
    "satt_df": [17.3019863127, 39.8429535536, 39.0609018177, 37.7526355353, 29.2660351729, 26.9583781715,
                38.9681016841, 38.4229888970, 37.6813726819, 38.9870533461, 38.2239680079, 37.4690953659],
    "kr_se": [9.7709390679, 9.3370525836, 8.6316384240, 8.0695368286, 10.7325987536, 10.3779872797,
              12.3329539457, 11.8103344913, 11.4086020964, 12.7908871362, 11.4916449223, 11.0756555456],
    "kr_df": [17.5403619588, 40.6017077307, 39.8580253185, 38.6089894230, 29.9269311429, 27.6612847417,
              39.7688899412, 39.2496087477, 38.5411637244, 39.7896170056, 39.0596980194, 38.3374603427],
    "t3_satt_df": [37.9858946686, 9.4507244133, 37.8547167515],
    "t3_satt_f": [33.5244604258, 1.4412534266, 0.5113112302],
    "t3_kr_df": [38.8285491712, 9.9882848211, 38.7075284017],
    "t3_kr_f": [33.4292321982, 1.4397609261, 0.5088556532],
}


def _with_expected_information(fit):
    """The fit's context with W = 2 I_E⁻¹ (expected information), as pbkrtest uses."""
    c = fit._inf
    t, _ = _trace_terms(jnp.asarray(c.theta), c.buckets, c.layout, reml=True)
    return InferenceContext(design=c.design, layout=c.layout, blocks=c.blocks, buckets=c.buckets, theta=c.theta,
                            at_bound=c.at_bound, asy=2 * np.linalg.inv(np.asarray(t)), cov_b=c.cov_b, beta=c.beta)


def test_unbalanced_satterthwaite_and_kenward_roger():
    rnd = [jm.Random("1", "Block"), jm.Random("1", "Block:Variety")]
    fit = jm.mixed("yield ~ C(nitro_f) * Variety", _oats_unbalanced(), random=rnd, ddfm="satterthwaite")
    # Satterthwaite (observed information, as lmerTest): one-row and Type III.
    assert rel(fit.fixed.StdErr, UNBAL["satt_se"]).max() < 1e-5
    assert rel(fit.fixed.DF, UNBAL["satt_df"]).max() < 1e-5
    t3 = fit.type3()
    assert rel(t3.DenDF, UNBAL["t3_satt_df"]).max() < 1e-5
    assert rel(t3.FValue, UNBAL["t3_satt_f"]).max() < 1e-5
    # Kenward–Roger with pbkrtest's W (expected information): the adjusted covariance Φ_A,
    # the df of each coefficient and the scaled F of the Type III tests.
    ctx = _with_expected_information(fit)
    se = np.sqrt(np.diag(ctx.kr_cov))
    df = [satterthwaite_1d(ctx, e) for e in np.eye(ctx.rank_x)]
    assert rel(se, UNBAL["kr_se"]).max() < 1e-5
    assert rel(df, UNBAL["kr_df"]).max() < 1e-5
    kr = type3_table(ctx, "kr")
    assert rel(kr.DenDF, UNBAL["t3_kr_df"]).max() < 1e-5
    assert rel(kr.FValue, UNBAL["t3_kr_f"]).max() < 1e-5
    # The fit's own KR (observed information, PROC MIXED's default) adjusts the SEs upwards too.
    kr_obs = fit.type3("kr")
    assert (kr_obs.DenDF > 0).all() and (np.sqrt(np.diag(fit._inf.kr_cov)) > fit.fixed.StdErr.to_numpy()).all()


# --------------------------------------------------------------------------- Satterthwaite by finite differences


def _random_data(seed=7):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(10):
        n = 5
        b0, b1 = rng.normal(0, [2.0, 0.7])
        g = rng.integers(0, 3, size=n)
        x = rng.uniform(0, 5, size=n)
        y = 1 + 0.5 * x + np.array([0.0, 1.0, -1.0])[g] + b0 + b1 * x + rng.normal(0, 1, size=n)
        rows += [dict(s=f"s{s}", x=x[i], g=f"g{g[i]}", y=y[i]) for i in range(n)]
    return pd.DataFrame(rows)


def test_satterthwaite_against_finite_differences():
    """Independent numpy: V(θ) = Z G Z' + σ² I by subject, REML −2ℓ, C(θ) = (X'V⁻¹X)⁻¹;
    W = 2 H⁻¹ from a central-difference Hessian, ∂(l'Cl)/∂θ by central differences."""
    d = _random_data()
    fit = jm.mixed("y ~ x + C(g)", d, random=jm.Random("1 + x", "s", "UN"), ddfm="satterthwaite")
    x = np.asarray(fit._inf.design.x)
    y = d.y.to_numpy()
    z = np.column_stack([np.ones(len(d)), d.x])
    groups = [np.flatnonzero(d.s.to_numpy() == s) for s in pd.unique(d.s)]

    def v_of(th):
        g = np.array([[th[0], th[1]], [th[1], th[2]]])
        v = np.zeros((len(y), len(y)))
        for r in groups:
            v[np.ix_(r, r)] = z[r] @ g @ z[r].T + th[3] * np.eye(len(r))
        return v

    def m2ll(th):
        v = v_of(th)
        vi = np.linalg.inv(v)
        xvx = x.T @ vi @ x
        r = y - x @ np.linalg.solve(xvx, x.T @ vi @ y)
        return np.linalg.slogdet(v)[1] + np.linalg.slogdet(xvx)[1] + r @ vi @ r

    def c_of(th):
        return np.linalg.inv(x.T @ np.linalg.inv(v_of(th)) @ x)

    th = fit._inf.theta  # UN(1,1), UN(2,1), UN(2,2), Residual
    k = len(th)
    h = 1e-4 * np.maximum(np.abs(th), 1.0)
    e = np.eye(k) * h
    hess = np.array([[(m2ll(th + e[i] + e[j]) - m2ll(th + e[i] - e[j]) - m2ll(th - e[i] + e[j])
                       + m2ll(th - e[i] - e[j])) / (4 * h[i] * h[j]) for j in range(k)] for i in range(k)])
    w = 2 * np.linalg.inv(hess)
    dc = np.array([(c_of(th + e[i]) - c_of(th - e[i])) / (2 * h[i]) for i in range(k)])
    c0 = c_of(th)

    def df_fd(lvec):
        g = np.einsum("i,kij,j->k", lvec, dc, lvec)
        return 2 * (lvec @ c0 @ lvec) ** 2 / (g @ w @ g)

    want = [df_fd(lvec) for lvec in np.eye(x.shape[1])]
    assert rel(fit.fixed.DF, want).max() < 1e-5
    # The two-df Type III test of g: per-direction df combined as lmerTest does.
    lg = fit._inf.type3_contrasts["g"]
    vals, vecs = np.linalg.eigh(lg @ c0 @ lg.T)
    nu = [df_fd(vecs[:, m] @ lg) for m in range(len(vals))]
    got = fit.type3().set_index("Effect").loc["g"]
    assert got.NumDF == 2
    assert rel(got.DenDF, fstat_ddf(np.array(nu))) < 1e-5


# --------------------------------------------------------------------------- KR with a nonlinear structure


def _dense_v(ctx, theta):
    n = ctx.n_obs
    v = np.zeros((n, n))
    vs, _ = _v_and_g(jnp.asarray(theta), ctx.buckets, ctx.layout)
    for bi, vb in enumerate(vs):
        vb = np.asarray(vb)
        for j, blk in enumerate(ctx.blocks.bucket_members[bi]):
            rows = ctx.blocks.rows_of_block[blk]
            v[np.ix_(rows, rows)] = vb[j][: len(rows), : len(rows)]
    return v


def _ar1_data(seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(12):
        e = 0.0
        g = rng.integers(0, 2)
        for t in range(5):
            e = 0.6 * e + rng.normal()
            x = rng.normal()
            rows.append(dict(s=f"s{s}", t=t, x=x, g=f"g{g}", y=1 + 0.5 * x + g + e))
    return pd.DataFrame(rows)


def test_kenward_roger_nonlinear_structure_against_definition():
    """AR(1) is nonlinear in ρ, so R_ij ≠ 0.  Φ_A from Kenward and Roger's definition
    with P_i, Q_ij, R_ij built from finite-difference derivatives of the dense V."""
    fit = jm.mixed("y ~ x + g", _ar1_data(), repeated=jm.Repeated("s", "AR(1)", index="t"), ddfm="kr")
    ctx = fit._inf
    assert ctx.sensitivity2.r is not None
    x = np.asarray(ctx.design.x)
    th = ctx.theta
    k = len(th)
    h = 1e-4 * np.maximum(np.abs(th), 1e-2)
    e = np.eye(k) * h
    v0 = _dense_v(ctx, th)
    vi = np.linalg.inv(v0)
    dv = [(_dense_v(ctx, th + e[i]) - _dense_v(ctx, th - e[i])) / (2 * h[i]) for i in range(k)]
    d2v = [[(_dense_v(ctx, th + e[i] + e[j]) - _dense_v(ctx, th + e[i] - e[j]) - _dense_v(ctx, th - e[i] + e[j])
             + _dense_v(ctx, th - e[i] - e[j])) / (4 * h[i] * h[j]) for j in range(k)] for i in range(k)]
    phi = np.linalg.inv(x.T @ vi @ x)
    p = [-x.T @ vi @ dv[i] @ vi @ x for i in range(k)]
    q = [[x.T @ vi @ dv[i] @ vi @ dv[j] @ vi @ x for j in range(k)] for i in range(k)]
    r = [[x.T @ vi @ d2v[i][j] @ vi @ x for j in range(k)] for i in range(k)]
    w = ctx.w
    s = sum(w[i, j] * (q[i][j] - p[i] @ phi @ p[j] - 0.25 * r[i][j]) for i in range(k) for j in range(k))
    phi_a = phi + 2 * phi @ s @ phi
    assert np.allclose(ctx.kr_cov, phi_a, rtol=1e-5, atol=1e-9 * np.abs(phi_a).max())
    assert rel(fit.fixed.StdErr, np.sqrt(np.diag(phi_a))).max() < 1e-5


# --------------------------------------------------------------------------- CONTAIN and BW


def test_containment_df_oats():
    """PROC MIXED's containment method on the split plot.  Random effects, in order: Block
    (Random("1", "Block")) and Block*Variety.  rank X = 12 (the 4 × 3 cells); Block adds
    6 − 1 = 5 columns of rank to [X Z]; Block*Variety, 18 cells spanning Block and Variety,
    adds 18 − (6 + 3 − 1) = 10; rank[X Z] = 27, so N − rank[X Z] = 72 − 27 = 45.
    Intercept: contained in Block and Block*Variety (classification only) -> min(5, 10) = 5.
    Variety: contained in Block*Variety -> 10.  nitro_f and nitro_f*Variety: contained in no
    random effect -> 45."""
    fit = oats_fit("contain")
    want = {"(Intercept)": 5, "nitro_f0.2": 45, "VarietyMarvellous": 10, "nitro_f0.2:VarietyVictory": 45}
    for name, df in want.items():
        assert fit.fixed.loc[name, "DF"] == df
    t3 = fit.type3().set_index("Effect")
    assert t3.DenDF.to_dict() == {"nitro_f": 45.0, "Variety": 10.0, "nitro_f:Variety": 45.0}
    assert fit.model_info.set_index("Descr").loc["Degrees of Freedom Method", "Value"] == "Containment"


def test_containment_df_sleepstudy():
    """Random("1 + Days", subject="Subject") is the random effects Subject and Days*Subject.
    rank X = 2; Subject adds 18 − 1 = 17; Days*Subject adds 18 − 1 = 17 (the common slope is
    in X).  Days (continuous Days) is contained in Days*Subject (same continuous variable,
    more classification variables) -> 17; the intercept is contained in Subject but not in
    Days*Subject (it has a continuous variable) -> 17."""
    fit = sleep_fit()  # the default: CONTAIN
    assert fit.ddfm == "contain"
    assert fit.fixed.DF.tolist() == [17.0, 17.0]
    assert fit.type3().DenDF.tolist() == [17.0]
    assert fit._inf.containment_df["residual"] == 180 - 36


def test_betwithin_df_sleepstudy():
    """BW, subjects = Subject (18).  Between-subject columns: the intercept only, so the
    between df is 18 − 1 = 17; within is N − rank X − 17 = 180 − 2 − 17 = 161.  Days changes
    within subjects -> 161; the intercept does not -> 17."""
    fit = sleep_fit("bw")
    assert fit.fixed.DF.tolist() == [17.0, 161.0]
    assert fit.type3().DenDF.tolist() == [161.0]


def test_betwithin_df_oats():
    """BW, subjects = Block (the model's independent blocks; 6).  Every fixed effect changes
    within a block, so between = 6 − rank[1] = 5 and within = 72 − 12 − 5 = 55.  Three
    within-subject effects involve classification variables, so the 55 are partitioned by the
    rank contributions of the subject-by-effect interactions, in model order after X (rank 12)
    and Block (+5): Block*nitro_f spans the 24 Block×nitro cells, of which 6 + 4 − 1 = 9
    dimensions are already in, so it adds 15 (= 5·3); Block*Variety likewise 18 − 8 = 10
    (= 5·2); Block*nitro_f*Variety, all 72 cells, adds the remaining 72 − 42 = 30 (= 5·6);
    15 + 10 + 30 = 55.  The intercept does not change within a block: 5."""
    fit = oats_fit("bw")
    t3 = fit.type3().set_index("Effect")
    assert t3.DenDF.to_dict() == {"nitro_f": 15.0, "Variety": 10.0, "nitro_f:Variety": 30.0}
    assert fit.fixed.loc["(Intercept)", "DF"] == 5


def test_betwithin_is_default_for_repeated_only_orthodont():
    """REPEATED subject=Subject, no RANDOM: PROC MIXED's default is BW.  27 children,
    108 rows, X = [1, age, Sex, age:Sex].  Between: 1 and Sex -> 27 − 2 = 25; within:
    108 − 4 − 25 = 79 for age and age:Sex (only one within effect has a classification
    variable, so no partition)."""
    fit = fit_case("orthodont_repeated_cs_reml")
    assert fit.ddfm == "bw"
    assert fit.fixed.DF.tolist() == [25.0, 79.0, 25.0, 79.0]
    assert fit.type3().set_index("Effect").DenDF.to_dict() == {"age": 79.0, "Sex": 25.0, "age:Sex": 79.0}


def test_residual_df_and_ddfm_errors():
    fit = oats_fit("residual")
    assert (fit.fixed.DF == 72 - 12).all()
    assert (fit.type3().DenDF == 60).all()
    with pytest.raises(SpecificationError, match="ddfm"):
        oats_fit().type3("wrong")
    with pytest.raises(UnsupportedOptionError, match="kr2"):
        jm.mixed("Reaction ~ Days", data("sleepstudy.csv"), ddfm="kr2")


# --------------------------------------------------------------------------- EBLUPs, predictions, residuals


# EBLUPs against lme4's conditional modes: tests/test_reference.py::test_blups.


def _oats_dense(fit):
    d = data("oats.csv")
    ctx = fit._inf
    x = np.asarray(ctx.design.x)
    zb = pd.get_dummies(d.Block).to_numpy(float)
    zbv = pd.get_dummies(d.Block + ":" + d.Variety).to_numpy(float)
    z = np.hstack([zb, zbv])
    sb, sbv, se = fit.covparms.Estimate
    g = np.diag([sb] * zb.shape[1] + [sbv] * zbv.shape[1])
    return d, x, z, g, se


def test_eblup_prediction_errors_and_residuals_against_mixed_model_equations():
    """Henderson's mixed-model equations: the inverse of [[X'X, X'Z], [Z'X, Z'Z + σ²G⁻¹]] σ²
    has Var(b̂ − b) in its lower-right block; b̂ solves them."""
    fit = oats_fit()
    d, x, z, g, s2 = _oats_dense(fit)
    y = d["yield"].to_numpy(float)
    c = np.block([[x.T @ x, x.T @ z], [z.T @ x, z.T @ z + s2 * np.linalg.inv(g)]])
    sol = np.linalg.solve(c, np.concatenate([x.T @ y, z.T @ y]))
    cinv = np.linalg.inv(c) * s2
    p = x.shape[1]
    re_ = fit.random_effects
    order = [("Block", b) for b in sorted(d.Block.unique())] + [
        ("Block:Variety", bv) for bv in sorted((d.Block + ":" + d.Variety).unique())]
    got = re_.set_index(["Subject", "Level"]).loc[order]
    assert np.allclose(got.Estimate, sol[p:], rtol=1e-8, atol=1e-8)
    assert np.allclose(got.StdErrPred, np.sqrt(np.diag(cinv)[p:]), rtol=1e-8)
    # predicted values and residuals
    beta = sol[:p]
    assert np.allclose(fit.predicted("marginal"), x @ beta)
    assert np.allclose(fit.predicted(), x @ beta + z @ sol[p:])
    v = z @ g @ z.T + s2 * np.eye(len(y))
    vi = np.linalg.inv(v)
    cb = np.linalg.inv(x.T @ vi @ x)
    rm = y - x @ beta
    assert np.allclose(fit.residuals("marginal"), rm)
    assert np.allclose(fit.residuals("marginal", "pearson"), rm / np.sqrt(np.diag(v)))
    assert np.allclose(fit.residuals("marginal", "studentized"), rm / np.sqrt(np.diag(v - x @ cb @ x.T)))
    pm = vi - vi @ x @ cb @ x.T @ vi
    rc = y - fit.predicted().to_numpy()
    assert np.allclose(fit.residuals("conditional", "pearson"), rc / np.sqrt(s2))
    assert np.allclose(fit.residuals("conditional", "studentized"), rc / np.sqrt(np.diag(s2 * s2 * pm)))
    with pytest.raises(SpecificationError):
        fit.residuals("sideways")


# --------------------------------------------------------------------------- ESTIMATE, CONTRAST, LSMEANS


def test_lsmeans_split_plot_by_hand():
    """Balanced split plot: the LS-mean of a variety is its raw mean, with variance
    (σ²_B + σ²_BV + σ²/4)/6; a difference of two varieties has variance 2(σ²_BV + σ²/4)/6
    (Block cancels).  DF under CONTAIN: that of Variety, 10."""
    fit = oats_fit()
    d = data("oats.csv")
    sb, sbv, se = fit.covparms.Estimate
    res = fit.lsmeans("Variety", diff=True, adjust="tukey")
    means = res.means.set_index("Variety")
    raw = d.groupby("Variety")["yield"].mean()
    assert np.allclose(means.Estimate.loc[raw.index], raw)
    assert np.allclose(means.StdErr, np.sqrt((sb + sbv + se / 4) / 6))
    assert (means.DF == 10).all()
    diffs = res.diffs
    assert len(diffs) == 3
    assert np.allclose(diffs.StdErr, np.sqrt(2 * (sbv + se / 4) / 6))
    gr_mv = diffs[(diffs.Variety == "Golden Rain") & (diffs._Variety == "Marvellous")].iloc[0]
    assert np.isclose(gr_mv.Estimate, raw["Golden Rain"] - raw["Marvellous"])
    assert np.allclose(diffs.AdjP, stats.studentized_range.sf(np.abs(diffs.tValue) * np.sqrt(2), 3, 10))
    assert (diffs.AdjP >= diffs.Probt).all()
    cells = fit.lsmeans("nitro_f:Variety")
    assert len(cells) == 12
    cell = cells[(cells.nitro_f == 0.2) & (cells.Variety == "Victory")].Estimate.iloc[0]
    assert np.isclose(cell, d[(d.nitro_f == 0.2) & (d.Variety == "Victory")]["yield"].mean())
    with pytest.raises(SpecificationError, match="not an effect"):
        fit.lsmeans("Block")


def test_estimate_and_contrast():
    fit = oats_fit()
    fx = fit.fixed
    est = fit.estimate({"(Intercept)": 1, "VarietyMarvellous": 1}, label="Marvellous at N 0")
    assert est.Label.iloc[0] == "Marvellous at N 0"
    assert np.isclose(est.Estimate.iloc[0], fx.Estimate["(Intercept)"] + fx.Estimate["VarietyMarvellous"])
    assert est.DF.iloc[0] == 10  # CONTAIN: the df of the last effect with a coefficient (Variety)
    q = stats.t.ppf(0.975, 10)
    assert np.isclose(est.Upper.iloc[0] - est.Lower.iloc[0], 2 * q * est.StdErr.iloc[0])
    # rows of the identity reproduce the fixed table under each method
    for ddfm in ("satterthwaite", "kr"):
        one = fit.estimate(np.eye(12)[:4], ddfm=ddfm)
        ref = fit_case("oats_splitplot_reml", ddfm).fixed.iloc[:4]
        assert np.allclose(one.StdErr, ref.StdErr) and np.allclose(one.DF, ref.DF)
    # CONTRAST with the Type III hypothesis of nitro_f is that test
    lmat = fit._inf.type3_contrasts["nitro_f"]
    for ddfm in ("contain", "satterthwaite", "kr"):
        con = fit.contrast(lmat, label="nitro", ddfm=ddfm).iloc[0]
        t3 = fit.type3(ddfm).set_index("Effect").loc["nitro_f"]
        assert con.NumDF == 3 and np.isclose(con.FValue, t3.FValue) and np.isclose(con.DenDF, t3.DenDF)
    with pytest.raises(SpecificationError, match="coefficients"):
        fit.estimate([1, 0])
    with pytest.raises(SpecificationError, match="not a fixed-effect column"):
        fit.estimate({"nitro": 1})


@lru_cache(maxsize=None)
def _sleep_aliased():
    # the same shapes as sleepstudy_un_reml, so the compiled programs are reused
    return jm.mixed("Reaction ~ Days + I(2 * Days)", data("sleepstudy.csv"),
                    random=jm.Random("1 + Days", "Subject", "UN"))


def test_estimability_with_aliased_columns():
    """``I(2 * Days)`` is 2·Days, so it is aliased (set to 0, as PROC MIXED does).  L = (l₁, l₂)
    is estimable when l₂ = 2·l_Days: (0, 1, 2) is (the Days slope), (0, 0, 1) is not."""
    fit = _sleep_aliased()
    assert fit.fixed.loc["I(2 * Days)", "Estimate"] == 0 and np.isnan(fit.fixed.loc["I(2 * Days)", "DF"])
    out = fit.estimate([[0, 0, 1], [0, 1, 2], [1, 0, 0]], label=["alone", "slope", "int"])
    assert np.isnan(out.Estimate.iloc[0])
    assert np.isclose(out.Estimate.iloc[1], fit.fixed.loc["Days", "Estimate"])
    assert np.isclose(out.StdErr.iloc[1], fit.fixed.loc["Days", "StdErr"])
    assert np.isfinite(out.Estimate.iloc[2])
    assert np.isclose(out.Estimate.iloc[1], sleep_fit().fixed.loc["Days", "Estimate"])
    assert np.isnan(fit.contrast([[0, 0, 1]]).FValue.iloc[0])


# --------------------------------------------------------------------------- COVTEST and LRT


def test_covtest_wald_z():
    fit = jm.mixed("Reaction ~ Days", data("sleepstudy.csv"), random=jm.Random("1 + Days", "Subject", "UN"),
                   covtest=True)
    cp = fit.covparms.set_index("CovParm")
    assert np.allclose(cp.ZValue, cp.Estimate / cp.StdErr)
    assert np.isclose(cp.ProbZ["UN(1,1)"], stats.norm.sf(cp.ZValue["UN(1,1)"]))  # variance: one-sided
    assert np.isclose(cp.ProbZ["UN(2,1)"], 2 * stats.norm.sf(abs(cp.ZValue["UN(2,1)"])))  # covariance: two-sided
    assert "ZValue" not in sleep_fit().covparms


def test_lrt_chi_bar_square():
    full = sleep_fit()
    # random intercept -> intercept and slope (UN): one variance and a covariance more, df 2,
    # ½ χ²₁ + ½ χ²₂ (Stram and Lee 1994)
    assert np.isclose(mixture_p(5.0, 2), 0.5 * stats.chi2.sf(5.0, 1) + 0.5 * stats.chi2.sf(5.0, 2))
    # VC → UN adds a covariance, not a variance: plain χ²₁
    vc = fit_case("sleepstudy_vc_reml")
    res_c = jm.lrt(vc, full)
    assert res_c.df == 1 and not res_c.mixture
    assert np.isclose(res_c.p_value, stats.chi2.sf(vc.minus2ll - full.minus2ll, 1))
    # one variance on its boundary: df 1, ½ χ²₁ (with χ²₀ the point mass at 0)
    batch = fit_case("dyestuff_reml")
    none = jm.mixed("Yield ~ 1", data("dyestuff.csv"))
    res1 = jm.lrt(none, batch)
    c1 = none.minus2ll - batch.minus2ll
    assert res1.df == 1 and res1.mixture and np.isclose(res1.p_value, 0.5 * stats.chi2.sf(c1, 1))
    assert res1.p_value < res1.p_value_naive
    assert jm.lrt(batch, none) == res1  # order does not matter
    assert jm.lrt(none, batch, mixture=False).p_value == pytest.approx(stats.chi2.sf(c1, 1))
    # REML fits with different fixed effects are not comparable
    with pytest.raises(SpecificationError, match="fixed effects"):
        jm.lrt(jm.mixed("Reaction ~ I(Days ** 2)", data("sleepstudy.csv"),
                        random=jm.Random("1 + Days", "Subject", "UN")), sleep_fit())
    with pytest.raises(SpecificationError, match="different observations"):
        jm.lrt(batch, full)


def test_results_stay_immutable():
    fit = oats_fit()
    re_ = fit.random_effects
    re_.loc[0, "Estimate"] = 1e9
    assert fit.random_effects.loc[0, "Estimate"] != 1e9
    with pytest.raises(Exception):
        fit.ddfm = "kr"
    assert "Type 3 Tests of Fixed Effects" in fit.summary()
