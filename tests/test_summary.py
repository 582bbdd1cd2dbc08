"""The printed summary and the fit statistics of the sleepstudy REML fit with
``RANDOM 1 + Days / SUBJECT=Subject TYPE=UN`` (PROC MIXED conventions)."""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pytest

import jaxmixed as jm
from conftest import load_case

TITLES = (
    "Model Information",
    "Dimensions",
    "Iteration History",
    "Covariance Parameter Estimates",
    "Fit Statistics",
    "Solution for Fixed Effects",
)


@lru_cache(maxsize=None)
def sleep_fit():
    df = jm.datasets.load("sleepstudy")
    return jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                    method="REML")


def test_summary_has_the_proc_mixed_tables():
    text = sleep_fit().summary()
    assert isinstance(text, str)
    for title in TITLES:
        assert title in text, title
    positions = [text.index(t) for t in TITLES]
    assert positions == sorted(positions), "tables out of PROC MIXED's order"
    assert str(sleep_fit()) == text


def test_summary_shows_the_r_reference_numbers():
    """Numbers rounded to 4 decimals from the R reference (lme4), far enough from a
    rounding boundary that the fit's own small differences cannot flip them."""
    c = load_case("sleepstudy_un_reml")
    text = sleep_fit().summary()
    ref_m2ll = c["minus2ll"]
    expected = [f"{f['estimate']:.4f}" for f in c["fixed"]] + [f"{f['se']:.4f}" for f in c["fixed"]]
    expected += [f"{ref_m2ll:.4f}", f"{ref_m2ll + 8:.4f}", f"{ref_m2ll + 4 * math.log(18):.4f}"]
    assert expected == ["251.4051", "10.4673", "6.8246", "1.5458", "1743.6283", "1751.6283", "1755.1898"]
    for s in expected:
        assert s in text, s


def section(text, title, next_title):
    start = text.index(title)
    end = text.index(next_title, start) if next_title else len(text)
    return text[start:end]


def test_summary_tables_show_the_fit():
    fit = sleep_fit()
    text = fit.summary()
    cov_section = section(text, "Covariance Parameter Estimates", "Fit Statistics")
    for row in fit.covparms.itertuples():
        line = next((ln for ln in cov_section.splitlines() if ln.strip().startswith(row.CovParm + " ")), None)
        assert line is not None, row.CovParm
        assert f"{row.Estimate:.4f}" in line, (line, row.Estimate)
    fixed_section = section(text, "Solution for Fixed Effects", None)
    for name, row in fit.fixed.iterrows():
        line = next(ln for ln in fixed_section.splitlines() if ln.strip().startswith(name + " "))
        assert f"{row.Estimate:.4f}" in line and f"{row.StdErr:.4f}" in line, line
    assert re.search(r"-2 Res Log Likelihood\s+1743\.6283", text)
    assert re.search(r"Subjects\s+18\b", text)
    assert re.search(r"Covariance Parameters\s+4\b", text)
    assert re.search(r"Number of Observations Used\s+180\b", text)


def test_information_criteria_follow_proc_mixed():
    fit = sleep_fit()
    m2ll = fit.minus2ll
    d, n_star, s = 4, 180 - 2, 18  # 4 covariance parameters, none on a bound; REML: N − p; 18 subjects
    assert fit.n_subjects == s
    assert fit.aic == pytest.approx(m2ll + 2 * d, rel=1e-12)
    assert fit.bic == pytest.approx(m2ll + d * math.log(s), rel=1e-12)
    assert fit.aicc == pytest.approx(m2ll + 2 * d * n_star / (n_star - d - 1), rel=1e-12)
    ref = load_case("sleepstudy_un_reml")["minus2ll"]
    assert abs(fit.aic - (ref + 8)) < 1e-4
    assert abs(fit.bic - (ref + 4 * math.log(18))) < 1e-4
    assert fit.loglik == pytest.approx(-m2ll / 2)


def test_ml_information_criteria_count_fixed_effects():
    """Under ML PROC MIXED's d also counts rank X, and n* = N."""
    df = jm.datasets.load("sleepstudy")
    fit = jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                   method="ML")
    d, n_star = 4 + 2, 180
    assert fit.aic == pytest.approx(fit.minus2ll + 2 * d, rel=1e-12)
    assert fit.bic == pytest.approx(fit.minus2ll + d * math.log(18), rel=1e-12)
    assert fit.aicc == pytest.approx(fit.minus2ll + 2 * d * n_star / (n_star - d - 1), rel=1e-12)
    assert "-2 Log Likelihood" in fit.summary()


def test_boundary_fit_counts_only_free_parameters():
    """A variance on its bound is not counted in d (dyestuff2: Batch variance 0)."""
    from conftest import fit_case

    fit = fit_case("dyestuff2_boundary_reml")
    assert fit.aic == pytest.approx(fit.minus2ll + 2 * 1, rel=1e-12)
    assert fit.bic == pytest.approx(fit.minus2ll + 1 * math.log(6), rel=1e-12)


def test_summary_has_class_levels_convergence_and_type3():
    """Class Level Information (18 subjects in sleepstudy, as R's nlevels), the
    convergence status line and the Type 3 tests, in PROC MIXED's order."""
    text = sleep_fit().summary()
    order = ["Model Information", "Class Level Information", "Dimensions", "Number of Observations",
             "Iteration History", "Convergence status: Convergence criteria met.",
             "Covariance Parameter Estimates", "Fit Statistics", "Solution for Fixed Effects",
             "Type 3 Tests of Fixed Effects"]
    positions = [text.index(t) for t in order]
    assert positions == sorted(positions)
    assert re.search(r"^Subject\s+18\s+308 309 310", section(text, "Class Level Information", "Dimensions"), re.M)


def test_class_levels_of_oats():
    from jaxmixed.display.text import class_levels

    fit = jm.mixed("yield ~ C(nitro_f) * Variety", data=jm.datasets.load("oats"),
                   random=[jm.Random("1", subject="Block"), jm.Random("1", subject="Block:Variety")])
    levels = class_levels(fit._inf.design).set_index("Class")["Levels"].to_dict()
    assert levels == {"Block": 6, "Variety": 3, "nitro_f": 4}
