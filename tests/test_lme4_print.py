"""The lme4-style print (``fit.lme4()``) and the notebook HTML of the sleepstudy fit.

The golden text (tests/golden/sleepstudy_lme4.txt) fixes the layout; its numbers
are checked against lme4's own printed summary of the same fit
(tests/reference/extra/sleepstudy_lme4_summary.txt, made by make_lme4_print.R),
digit for digit as lme4 prints them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest

import jaxmixed as jm

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "sleepstudy_lme4.txt"
R_PRINT = HERE / "reference" / "extra" / "sleepstudy_lme4_summary.txt"
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


@lru_cache(maxsize=None)
def sleep_fit():
    df = jm.datasets.load("sleepstudy")
    return jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")])


def _section(text: str, start: str, end: str) -> list[str]:
    body = text[text.index(start) + len(start): text.index(end, text.index(start))]
    return NUMBER.findall(body)


def _r_text() -> str:
    return R_PRINT.read_text().split("\n# quantile")[0]


# (section start, section end) pairs whose numbers must agree with lme4's print.
SECTIONS = [
    ("REML criterion at convergence:", "Scaled residuals"),
    ("Max", "Random effects"),
    ("Fixed effects:", "Correlation of Fixed Effects"),
]


def test_lme4_print_matches_golden_text():
    assert sleep_fit().lme4() == GOLDEN.read_text()


@pytest.mark.parametrize("start,end", SECTIONS)
def test_golden_numbers_agree_with_lme4_print(start, end):
    golden, r = GOLDEN.read_text(), _r_text()
    assert _section(golden, start, end) == _section(r, start, end)


def test_fixed_effect_correlation_agrees_with_lme4():
    assert GOLDEN.read_text().rstrip().splitlines()[-1].split()[-1] == _r_text().rstrip().splitlines()[-1].split()[-1]


def _random_numbers(text):
    return _section(text, "Random effects:", "Number of obs")


def test_random_effects_agree_with_lme4_except_the_intercept_variance():
    """Every number of the Random effects table but the intercept's variance and SD
    (see the xfail below) is as lme4 prints it; so are the obs and group counts."""
    golden, r = _random_numbers(GOLDEN.read_text()), _random_numbers(_r_text())
    assert len(golden) == len(r) == 7
    assert golden[2:] == r[2:]  # Days 35.07 5.922 corr 0.07; Residual 654.94 25.592
    assert "Number of obs: 180, groups:  Subject, 18" in GOLDEN.read_text()
    assert "Number of obs: 180, groups:  Subject, 18" in _r_text()


@pytest.mark.xfail(strict=True, reason=(
    "lme4 stops 1.5e-9 above the REML optimum: its intercept variance 612.1002 against 612.0899 at "
    "jaxmixed's optimum (relative 1.7e-5, inside the 1e-4 tolerance) prints 612.10 / 24.741 where "
    "jaxmixed prints 612.09 / 24.740"))
def test_intercept_variance_prints_as_lme4():
    assert _random_numbers(GOLDEN.read_text())[:2] == _random_numbers(_r_text())[:2]


def test_jaxmixed_is_at_least_as_low_as_lme4_where_they_differ():
    """The reason for the xfail above: −2ℓ at lme4's estimates is not below jaxmixed's."""
    import json

    case = json.loads((HERE / "reference" / "cases" / "sleepstudy_un_reml.json").read_text())
    parms = [c["estimate"] for c in case["covparms"]]
    at_r = jm.mixed("Reaction ~ Days", data=jm.datasets.load("sleepstudy"),
                    random=[jm.Random("1 + Days", subject="Subject", type="UN")], parms=parms, maxiter=0)
    assert sleep_fit().minus2ll <= at_r.minus2ll + 1e-10


def test_scaled_residual_quantiles_match_r():
    r = [float(v) for v in R_PRINT.read_text().split("to 8 digits:\n")[1].split()]
    from jaxmixed.display.lme4 import _scaled_residual_quantiles

    assert _scaled_residual_quantiles(sleep_fit()) == pytest.approx(r, abs=1e-5)  # scaled residuals are O(1): 1e-5 of one SD


def test_ml_print_and_repeated_side():
    fit = jm.mixed("distance ~ age * Sex", data=jm.datasets.load("orthodont"),
                   repeated=jm.Repeated(subject="Subject", type="CS"), method="ML")
    text = fit.lme4()
    assert text.startswith("Linear mixed model fit by maximum likelihood")
    assert "logLik" in text and f"{fit.loglik:.1f}" in text
    assert "Residual" in text


def test_repr_html_has_the_tables():
    html = sleep_fit()._repr_html_()
    for title in ("Covariance Parameter Estimates", "Fit Statistics", "Solution for Fixed Effects"):
        assert title in html
    assert "1743.6283" in html and "<table>" in html
