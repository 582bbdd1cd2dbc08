"""Validation at the edge: each bad input raises a jaxmixed error naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm
from jaxmixed.errors import DataError, FormulaError, SpecificationError, UnsupportedOptionError
from jaxmixed.validate import caret_message, close_matches, levels_across_groups


def test_unknown_column_suggests_close_matches(sleepstudy):
    with pytest.raises(DataError, match=r"'Dayz' .*did you mean 'Days'\?"):
        jm.mixed("Reaction ~ Dayz", sleepstudy)
    with pytest.raises(DataError, match=r"did you mean 'Subject'\?"):
        jm.mixed("Reaction ~ Days", sleepstudy, random=[jm.Random("1", subject="subjct")])
    assert close_matches("zzz", ["Days", "Subject"]) == []


def test_formula_error_marks_the_token_with_a_caret(sleepstudy):
    with pytest.raises(FormulaError) as info:
        jm.mixed("Reaction ~ Days +* Subject", sleepstudy)
    lines = str(info.value).splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip() == "Reaction ~ Days +* Subject")
    assert lines[i + 1].index("^") == lines[i].index("+*") and lines[i + 1].strip() == "^^"
    assert "\x1b" not in str(info.value) and "⧛" not in str(info.value)
    assert caret_message("Bad.\n\ny ~ ⧛$⧚ + x") == "Bad.\n\n  y ~ $ + x\n      ^"


def test_response_checks(sleepstudy):
    with pytest.raises(DataError, match=r"'Reaction' has the same value \(250\) in all 180 rows"):
        jm.mixed("Reaction ~ Days", sleepstudy.assign(Reaction=250.0))
    with pytest.raises(DataError, match="'Reaction' must be numeric"):
        jm.mixed("Reaction ~ Days", sleepstudy.assign(Reaction="high"))
    with pytest.raises(DataError, match=r"'Reaction': 180 of 180 missing or infinite"):
        jm.mixed("Reaction ~ Days", sleepstudy.assign(Reaction=np.inf))


def test_all_singleton_random_intercept_is_confounded(sleepstudy):
    df = sleepstudy.assign(Row=np.arange(180))
    with pytest.raises(DataError, match=r"subject='Row'.*180 subject levels has a single row"):
        jm.mixed("Reaction ~ Days", df, random=[jm.Random("1", subject="Row")])
    with pytest.raises(DataError, match="single row"):
        jm.mixed("Reaction ~ Days + (1 | Row)", df)


def test_more_parameters_than_observations_names_both_counts(sleepstudy):
    with pytest.raises(DataError, match=r"10 covariance parameters but only 2 residual degrees of freedom \(4 obs"):
        jm.mixed("Reaction ~ Days", sleepstudy.head(4), repeated=jm.Repeated(subject="Subject", type="UN"))


def test_subject_too_large_names_column_and_level():
    df = pd.DataFrame({"y": np.arange(4100.0) % 7, "x": np.arange(4100.0), "g": ["big"] * 4001 + ["s"] * 99})
    with pytest.raises(UnsupportedOptionError, match=r"subject='g'.*'big' has 4001 rows"):
        jm.mixed("y ~ x", df, random=[jm.Random("1", subject="g")], path="blocks")


def test_string_random_argument(sleepstudy):
    with pytest.raises(SpecificationError, match=r"got the string '1 \| Subject'"):
        jm.mixed("Reaction ~ Days", sleepstudy, random="1 | Subject")


def test_duplicate_index_message_shows_plain_value(sleepstudy):
    df = sleepstudy.copy()
    df.loc[4, "Days"] = df.loc[3, "Days"]
    with pytest.raises(DataError) as info:
        jm.mixed("Reaction ~ Days", df, repeated=jm.Repeated(subject="Subject", type="AR(1)", index="Days"))
    assert "value 3 twice within subject '308'" in str(info.value)


def test_nan_and_inf_excluded_and_counted_separately(sleepstudy):
    df = sleepstudy.astype({"Days": float})
    df.loc[[3, 4], "Reaction"] = [np.nan, np.inf]
    df.loc[7, "Days"] = -np.inf
    fit = jm.mixed("Reaction ~ Days", df, random=[jm.Random("1", subject="Subject")])
    clean = jm.mixed("Reaction ~ Days", df.drop(index=[3, 4, 7]), random=[jm.Random("1", subject="Subject")])
    assert (fit.n_obs, fit.n_used) == (180, 177)
    assert fit.minus2ll == clean.minus2ll
    (d,) = [d for d in fit.diagnostics if d.code == "rows-excluded"]
    assert d.severity == "warning"
    assert "missing values in 'Reaction' (1 row)" in d.message
    assert "infinite values in 'Reaction' (1 row), 'Days' (1 row)" in d.message
    assert "Number of Observations Used: 177" in d.message
    assert not [d for d in clean.diagnostics if d.code == "rows-excluded"]


def test_one_level_subject_fits_with_a_warning(sleepstudy):
    fit = jm.mixed("Reaction ~ Days", sleepstudy.assign(One="a"), random=[jm.Random("1", subject="One")])
    assert any(d.code == "one-subject" and "'One'" in d.message for d in fit.diagnostics)


def test_levels_across_groups():
    df = pd.DataFrame({"site": ["a", "a", "b", "b"], "dose": ["lo", "hi", "lo", "lo"], "arm": ["x", "y", "x", "y"]})
    assert levels_across_groups(df, "site", ["dose", "arm"]) == {"dose": {"site=b": ["hi"]}}
    assert levels_across_groups(df, ["site"], ["arm"]) == {}
    with pytest.raises(DataError, match="did you mean 'dose'"):
        levels_across_groups(df, "site", ["doze"])
