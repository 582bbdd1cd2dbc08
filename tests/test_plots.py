"""Every plot renders to PNG (Agg), and the profile-likelihood interval is right:
checked against a brute-force dense −2ℓ minimised over the other parameter, and
against lme4's ``confint(method = "profile")`` (tests/reference/extra/profile_ci.csv)."""

from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import jaxmixed as jm
from dense import dense_m2ll
from jaxmixed import plots

HERE = Path(__file__).parent
PNG = b"\x89PNG"


@lru_cache(maxsize=None)
def sleep_fit():
    return jm.mixed("Reaction ~ Days", data=jm.datasets.load("sleepstudy"),
                    random=[jm.Random("1 + Days", subject="Subject", type="UN")])


@lru_cache(maxsize=None)
def dyestuff(method):
    return jm.mixed("Yield ~ 1", data=jm.datasets.load("dyestuff"), random=[jm.Random("1", subject="Batch")],
                    method=method)


def _png(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert path.read_bytes()[:4] == PNG
    return path


@pytest.mark.parametrize("name", ["residuals_vs_fitted", "qq", "caterpillar", "iteration_history"])
def test_fit_plots_render(name, tmp_path):
    from matplotlib.figure import Figure

    fig = getattr(plots, name)(sleep_fit())
    assert isinstance(fig, Figure)
    _png(fig, tmp_path, name)


def test_caterpillar_has_a_panel_per_effect_and_a_row_per_subject():
    fig = plots.caterpillar(sleep_fit())
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["Intercept", "Days"]
    assert all(len(ax.get_yticks()) == 18 for ax in axes)


def test_qq_points_are_the_sorted_residuals():
    fig = plots.qq(sleep_fit())
    pts = fig.axes[0].collections[0].get_offsets()
    r = np.sort(sleep_fit().residuals("conditional", "pearson").to_numpy())
    assert np.allclose(pts[:, 1], r)
    n = r.size
    assert np.allclose(pts[:, 0], stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25)))


def _dense_profile(method, j, value):
    """min over the other of (Batch variance, residual variance) of the dense −2ℓ, θⱼ = value."""
    d = jm.datasets.load("dyestuff")
    y = d["Yield"].to_numpy(float)
    x = np.ones((len(y), 1))
    z = pd.get_dummies(d["Batch"]).to_numpy(float)

    def m2ll(other):
        theta = [value, other] if j == 0 else [other, value]
        return dense_m2ll(y, x, theta[0] * z @ z.T + theta[1] * np.eye(len(y)), method)

    return optimize.minimize_scalar(m2ll, bounds=(1e-8, 1e5), method="bounded", options=dict(xatol=1e-9)).fun


@pytest.mark.parametrize("method", ["REML", pytest.param("ML", marks=pytest.mark.slow)])
@pytest.mark.parametrize("parm", [0, "Residual"])
def test_profile_interval_ends_cross_the_chi_square_cutoff_in_a_dense_brute_force(method, parm):
    fit = dyestuff(method)
    t = plots.profile_table(fit, parm)
    j = 0 if parm == 0 else 1
    best = _dense_profile(method, j, fit.covparms["Estimate"].iloc[j])
    assert abs(best - fit.minus2ll) < 1e-6
    for end in ("lower", "upper"):
        assert _dense_profile(method, j, t.attrs[end]) - best == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-5)
    for v, m in zip(t["Value"].iloc[::5], t["Minus2LL"].iloc[::5]):
        assert m == pytest.approx(_dense_profile(method, j, v), abs=1e-5)


def _r_ci():
    return pd.read_csv(HERE / "reference" / "extra" / "profile_ci.csv").set_index("parm")


@pytest.mark.parametrize("parm,r_name,end", [("Residual", "sigma", "lower"), ("Residual", "sigma", "upper"),
                                             (0, "sd_(Intercept)|Batch", "upper")])
def test_profile_interval_agrees_with_lme4(parm, r_name, end):
    """lme4's interval is for the standard deviation; the likelihood-ratio interval
    is invariant, so it is the square root of the variance's."""
    t = plots.profile_table(dyestuff("ML"), parm)
    assert np.sqrt(t.attrs[end]) == pytest.approx(_r_ci().loc[r_name, end], rel=1e-5)


@pytest.mark.xfail(strict=True, reason=(
    "lme4 interpolates its profile with a spline: its lower end for the Batch SD, 12.19854, is 1.7e-4 "
    "above the exact crossing 12.19651, which the dense brute-force test above confirms"))
def test_profile_lower_end_of_batch_sd_agrees_with_lme4():
    t = plots.profile_table(dyestuff("ML"), 0)
    assert np.sqrt(t.attrs["lower"]) == pytest.approx(_r_ci().loc["sd_(Intercept)|Batch", "lower"], rel=1e-5)


def test_profile_plot_renders(tmp_path):
    fig = plots.profile(dyestuff("REML"), "Residual", n=9)
    _png(fig, tmp_path, "profile")
    assert "95% CI" in fig.axes[0].get_title()


def _halves_fixed():
    """A BY-shaped fixed table: the sleepstudy model fitted to each half of the subjects."""
    d = jm.datasets.load("sleepstudy")
    subjects = sorted(d["Subject"].unique())
    d["half"] = np.where(d["Subject"].isin(subjects[:9]), "first", "second")
    tables = []
    for level, part in d.groupby("half"):
        fit = jm.mixed("Reaction ~ Days", data=part, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
        tables.append(fit.fixed.reset_index().assign(half=level))
    t = pd.concat(tables, ignore_index=True)
    return t[["half", "Effect", "Estimate", "StdErr", "DF", "tValue", "Probt"]]


def test_forest_plot_of_a_by_table(tmp_path):
    table = _halves_fixed()
    fig = plots.forest(table, "Days")
    _png(fig, tmp_path, "forest")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first", "second"]
    with pytest.raises(jm.errors.SpecificationError, match="no fixed effect 'Nights'"):
        plots.forest(table, "Nights")


@pytest.mark.skipif("by" not in inspect.signature(jm.mixed).parameters,
                    reason="jm.mixed(by=...) (the BY path) is not in this build")
def test_forest_plot_of_a_by_result(tmp_path):
    d = jm.datasets.load("sleepstudy")
    d["half"] = np.where(d["Subject"].astype(str) < "340", "a", "b")
    res = jm.mixed("Reaction ~ Days", data=d, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                   by="half")
    _png(plots.forest(res, "Days"), tmp_path, "forest_by")
