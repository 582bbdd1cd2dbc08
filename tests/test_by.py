"""BY-group fits equal the separate fits, group by group; failures stay in their
row; ragged groups compile a few programs; a same-shaped refit compiles none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax import monitoring

import jaxmixed as jm
from jaxmixed.byresult import ByResult

LOWERINGS = "/jax/core/compile/jaxpr_to_mlir_module_duration"


class CompileCounter:
    """Counts lowerings (one per jit cache miss) while active."""

    def __init__(self):
        self.names: list[str] = []

    def _listen(self, event, duration, **kw):
        if event == LOWERINGS:
            self.names.append(str(kw.get("fun_name", "")))

    def __enter__(self):
        monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc):
        monitoring.unregister_event_duration_listener(self._listen)


def _ragged(sizes, seed=0, aliased_group=None):
    """Groups of (subjects, visits); in ``aliased_group`` x2 is constant (aliased with the intercept)."""
    rng = np.random.default_rng(seed)
    parts = []
    for gi, (ns, nv) in enumerate(sizes):
        s = np.repeat(np.arange(ns), nv)
        t = np.tile(np.arange(nv, dtype=float), ns)
        y = 2 + 0.5 * t + rng.normal(0, 1, ns)[s] + rng.normal(0, 0.7, ns * nv)
        x2 = np.full(ns * nv, 3.0) if gi == aliased_group else rng.normal(size=ns * nv)
        parts.append(pd.DataFrame({"g": f"G{gi}", "h": gi % 2, "subj": [f"s{gi}_{k}" for k in s], "t": t,
                                   "x2": x2, "y": y + 0.3 * x2}))
    return pd.concat(parts, ignore_index=True)


RANDOM = jm.Random("1", subject="subj")


def _assert_matches_separate(res: ByResult, data, by, formula="y ~ t + x2", random=RANDOM, **kw):
    for key, sub in data.groupby(by, sort=True):
        key = key if isinstance(by, list) else (key[0] if isinstance(key, tuple) else key)
        sep = jm.mixed(formula, sub, random=random, **kw)
        one = res[key]
        assert one.minus2ll == pytest.approx(sep.minus2ll, abs=1e-6)
        np.testing.assert_allclose(one.fixed["Estimate"], sep.fixed["Estimate"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(one.fixed["StdErr"], sep.fixed["StdErr"], rtol=1e-6)
        np.testing.assert_allclose(one.fixed["DF"], sep.fixed["DF"], rtol=1e-12)
        np.testing.assert_allclose(one.covparms["Estimate"], sep.covparms["Estimate"], rtol=1e-6)
        np.testing.assert_allclose(one.covparms["StdErr"], sep.covparms["StdErr"], rtol=1e-5)
        # the batched tables agree with the separate fit too
        keys = key if isinstance(key, tuple) else (key,)
        hit = np.ones(len(res.fixed), bool)
        for c, v in zip(res.by, keys):
            hit &= (res.fixed[c] == v).to_numpy()
        fx = res.fixed[hit].set_index("Effect")
        np.testing.assert_allclose(fx["Estimate"], sep.fixed["Estimate"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(fx["StdErr"], sep.fixed["StdErr"], rtol=1e-6)
        np.testing.assert_allclose(fx["DF"], sep.fixed["DF"], rtol=1e-12)
        hit = np.ones(len(res.fit_stats), bool)
        for c, v in zip(res.by, keys):
            hit &= (res.fit_stats[c] == v).to_numpy()
        np.testing.assert_allclose(res.fit_stats[hit]["Value"], sep.fit_stats["Value"], rtol=1e-8)


def test_by_equals_separate_fits_on_ragged_groups():
    data = _ragged([(6, 5), (9, 4), (12, 6), (5, 3)], aliased_group=1)
    res = jm.mixed("y ~ t + x2", data, random=RANDOM, by="g")
    assert isinstance(res, ByResult) and len(res) == 4
    assert res.converged["Converged"].all()
    aliased = res.fixed[(res.fixed.g == "G1") & (res.fixed.Effect == "x2")]
    assert aliased["Estimate"].item() == 0 and np.isnan(aliased["DF"].item())
    _assert_matches_separate(res, data, "g")


def test_by_residual_ddfm_and_ml():
    data = _ragged([(7, 4), (4, 6), (10, 3)], seed=3)
    res = jm.mixed("y ~ t + x2", data, random=RANDOM, by="g", method="ML", ddfm="residual")
    _assert_matches_separate(res, data, "g", method="ML", ddfm="residual")


def test_several_by_columns():
    data = _ragged([(6, 4), (5, 5), (8, 3), (7, 4)], seed=1)
    data["h"] = np.where(data.subj.str.len() % 2 == 0, "a", "b")  # splits groups in two, ragged
    res = jm.mixed("y ~ t", data, random=RANDOM, by=["g", "h"])
    assert res.by == ("g", "h")
    assert len(res) == data.groupby(["g", "h"]).ngroups
    _assert_matches_separate(res, data, ["g", "h"], formula="y ~ t")


def test_failing_group_reported_without_stopping_others():
    data = _ragged([(6, 4), (1, 1), (7, 4)], seed=2)
    data.loc[len(data)] = {"g": None, "h": 0, "subj": "sx", "t": 0.0, "x2": 0.0, "y": 1.0}  # missing BY value
    res = jm.mixed("y ~ t + x2", data, random=RANDOM, by="g")
    groups = res.groups.set_index("g")
    assert res.n_missing_by == 1
    assert not groups.loc["G1", "Fitted"] and "too few" in groups.loc["G1", "Reason"]
    assert groups.loc[["G0", "G2"], "Fitted"].all()
    assert set(res.fixed.g) == {"G0", "G2"}
    with pytest.raises(jm.errors.DataError, match="G1"):
        res["G1"]
    _assert_matches_separate(res, data[data.g.isin(["G0", "G2"])], "g")


@pytest.mark.slow
def test_ragged_groups_compile_few_programs():
    rng = np.random.default_rng(5)
    sizes = [(int(rng.integers(3, 12)), int(rng.integers(2, 7))) for _ in range(40)]
    data = _ragged(sizes, seed=5)
    with CompileCounter() as cc:
        res = jm.mixed("y ~ t + x2", data, random=RANDOM, by="g")
        res.fixed
    newton_programs = [n for n in cc.names if "newton" in n]
    assert res.converged["Converged"].all()
    assert 1 <= len(newton_programs) <= 4, newton_programs
    # the same shapes again, other data: nothing is compiled
    data2 = data.assign(y=data.y * 1.7 + 1.0)
    with CompileCounter() as cc:
        jm.mixed("y ~ t + x2", data2, random=RANDOM, by="g").fixed
    assert cc.names == []


def test_second_same_shaped_fit_does_not_compile():
    d = jm.datasets.load("sleepstudy")
    model = dict(random=jm.Random("1 + Days", subject="Subject", type="UN"))
    jm.mixed("Reaction ~ Days", d, **model)
    other = d.assign(Reaction=d.Reaction[::-1].to_numpy())
    with CompileCounter() as cc:
        jm.mixed("Reaction ~ Days", other, **model).fixed
    assert cc.names == []


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(3, 8), st.integers(2, 5)), min_size=2, max_size=4), st.integers(0, 10**6))
def test_by_equals_separate_property(sizes, seed):
    data = _ragged(sizes, seed=seed)
    res = jm.mixed("y ~ t", data, random=RANDOM, by="g")
    fitted = res.groups.set_index("g")["Fitted"]
    assert fitted.all()
    for key, sub in data.groupby("g"):
        sep = jm.mixed("y ~ t", sub, random=RANDOM)
        if not (sep.converged and res[key].converged):
            continue
        assert res[key].minus2ll == pytest.approx(sep.minus2ll, abs=1e-6)
        np.testing.assert_allclose(res[key].fixed["Estimate"], sep.fixed["Estimate"], rtol=1e-6, atol=1e-9)
