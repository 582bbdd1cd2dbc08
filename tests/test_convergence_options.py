"""PROC MIXED's convergence and PARMS options, each against an independent value.

One-way random model y_ij = μ + b_i + e_ij on the balanced Dyestuff data
(6 batches × 5): the ANOVA estimators σ̂²_e = MSW and σ̂²_b = (MSB − MSW)/n
are MIVQUE0 (and REML without bounds), so they check METHOD=MIVQUE0 and
NOBOUND in closed form; −2ℓ at given parameters is checked against the
brute-force dense formula (tests/dense.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from dense import dense_m2ll
from scipy import optimize

import jaxmixed as jm
from jaxmixed.errors import SpecificationError, UnsupportedOptionError

RANDOM = [jm.Random("1", subject="Batch")]


@lru_cache(maxsize=None)
def data(name="dyestuff"):
    return jm.datasets.load(name)


def anova(name):
    df = data(name)
    groups = [g.Yield.to_numpy() for _, g in df.groupby("Batch")]
    n, a = len(groups[0]), len(groups)
    grand = df.Yield.mean()
    msb = n * sum((g.mean() - grand) ** 2 for g in groups) / (a - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (a * (n - 1))
    return (msb - msw) / n, msw


def dense_oneway(name, sb, se, method="REML"):
    df = data(name).sort_values("Batch")
    y = df.Yield.to_numpy()
    same = df.Batch.to_numpy()[:, None] == df.Batch.to_numpy()[None, :]
    v = sb * same + se * np.eye(len(y))
    return dense_m2ll(y, np.ones((len(y), 1)), v, method)


def fit(name="dyestuff", **kw):
    return jm.mixed("Yield ~ 1", data(name), random=RANDOM, **kw)


def test_mivque0_method_is_the_anova_estimator():
    sb, se = anova("dyestuff")
    f = fit(method="MIVQUE0")
    assert f.method == "MIVQUE0"
    assert "MIVQUE0" in f.model_info.set_index("Descr").Value["Estimation Method"]
    np.testing.assert_allclose(f.covparms.Estimate, [sb, se], rtol=1e-8)
    assert f.minus2ll == pytest.approx(dense_oneway("dyestuff", sb, se), abs=1e-6)
    assert f.iterations == 0


def test_mivque0_method_sets_a_negative_variance_to_zero():
    f = fit("dyestuff2", method="MIVQUE0")
    assert anova("dyestuff2")[0] < 0
    assert f.covparms.Estimate.iloc[0] == 0.0


def test_nobound_gives_the_negative_anova_estimate():
    sb, se = anova("dyestuff2")
    f = fit("dyestuff2", nobound=True)
    assert f.converged, f.status
    np.testing.assert_allclose(f.covparms.Estimate, [sb, se], rtol=1e-6)
    assert f.minus2ll == pytest.approx(dense_oneway("dyestuff2", sb, se), abs=1e-6)
    assert any(d.code == "negative-variance" for d in f.diagnostics)


@pytest.mark.parametrize("crit", [dict(convf=1e-12), dict(convg=1e-7), dict(convh=1e-10, absolute=True)])
def test_other_criteria_reach_the_same_optimum(crit):
    sb, se = anova("dyestuff")  # REML = ANOVA when the variance estimate is positive
    f = fit(**crit)
    assert f.converged, f.status
    np.testing.assert_allclose(f.covparms.Estimate, [sb, se], rtol=1e-5)


def test_iteration_limit_is_a_result_and_can_be_resumed():
    df = jm.datasets.load("sleepstudy")
    model = dict(random=[jm.Random("1 + Days", subject="Subject", type="UN")], parms=[1.0, 0.0, 1.0, 1.0])
    stopped = jm.mixed("Reaction ~ Days", df, maxiter=1, **model)
    assert not stopped.converged
    diag = next(d for d in stopped.diagnostics if d.code == "not-converged")
    assert "maxiter" in diag.message and "parms=fit" in diag.suggestion
    assert np.all(np.isfinite(stopped.covparms.Estimate))
    resumed = jm.mixed("Reaction ~ Days", df, random=model["random"], parms=stopped)
    full = jm.mixed("Reaction ~ Days", df, random=model["random"])
    assert resumed.converged
    assert resumed.minus2ll == pytest.approx(full.minus2ll, abs=1e-6)


def test_parms_grid_is_evaluated_at_every_point_and_starts_at_the_best():
    grid = {"Intercept": [100.0, 1000.0, 3000.0], "Residual": [1000.0, 2500.0]}
    f = fit(parms=grid)
    g = f.parms_grid
    assert len(g) == 6
    for row in g.itertuples(index=False):
        assert row[-1] == pytest.approx(dense_oneway("dyestuff", row[0], row[1]), abs=1e-6)
    assert f.model_info.set_index("Descr").Value["Starting Values"] == "PARMS"
    sb, se = anova("dyestuff")
    np.testing.assert_allclose(f.covparms.Estimate, [sb, se], rtol=1e-5)


def test_grid_parameter_not_named_takes_mivque0():
    f = fit(parms={"Residual": [2000.0, 3000.0]})
    sb, _ = anova("dyestuff")
    np.testing.assert_allclose(f.parms_grid.iloc[:, 0], sb, rtol=1e-8)


def test_noiter_fixes_everything():
    f = fit(parms=[1500.0, 2400.0], noiter=True)
    np.testing.assert_allclose(f.covparms.Estimate, [1500.0, 2400.0])
    assert f.minus2ll == pytest.approx(dense_oneway("dyestuff", 1500.0, 2400.0), abs=1e-6)
    assert f.covparms.StdErr.isna().all()


@pytest.mark.parametrize("key", ["Residual", 1])
def test_hold_fixes_one_parameter_and_profiles_the_rest(key):
    f = fit(parms=[1000.0, 2000.0], hold=[key])
    assert f.converged, f.status
    assert f.covparms.Estimate.iloc[1] == 2000.0
    best = optimize.minimize_scalar(lambda sb: dense_oneway("dyestuff", sb, 2000.0), bounds=(1.0, 1e4),
                                    method="bounded", options=dict(xatol=1e-8))
    assert f.covparms.Estimate.iloc[0] == pytest.approx(best.x, rel=1e-5)
    assert f.minus2ll == pytest.approx(best.fun, abs=1e-6)
    assert np.isnan(f.covparms.StdErr.iloc[1]) and np.isfinite(f.covparms.StdErr.iloc[0])


def test_bad_parms_are_named():
    with pytest.raises(SpecificationError, match="Nonesuch"):
        fit(parms={"Nonesuch": [1.0]})
    with pytest.raises(SpecificationError, match="2 covariance"):
        fit(parms=[1.0])
    with pytest.raises(SpecificationError, match="noiter"):
        fit(noiter=True)
    with pytest.raises(UnsupportedOptionError, match="lowerb"):
        fit(lowerb=[0.0, 1.0])
    with pytest.raises(SpecificationError, match="convf"):
        fit(convf=-1.0)


def test_history_notes_a_parameter_reaching_its_bound():
    f = fit("dyestuff2")
    notes = f.iteration_history["Note"]
    assert notes.str.contains("Intercept Batch on bound").any()


def test_newton_vmaps_over_data_sets():
    """The BY path vmaps ``newton``: it must trace without host-side control flow."""
    import jax
    import jax.numpy as jnp

    from jaxmixed.blocks import make_blocks, make_layout
    from jaxmixed.design import build_design
    from jaxmixed.optimize.newton import newton

    d = build_design("Yield ~ 1", data("dyestuff"), RANDOM)
    layout = make_layout(d, "REML")
    b = tuple({k: jnp.asarray(v) for k, v in bb.items()} for bb in make_blocks(d, layout).buckets)
    b2 = jax.tree.map(lambda a: jnp.stack([a, a]), b)
    w0 = jnp.ones((2, 1))
    out = jax.vmap(lambda w, bk: newton(w, bk, layout, convf=1e-10))(w0, b2)
    assert np.all(np.asarray(out.status) == 0)
