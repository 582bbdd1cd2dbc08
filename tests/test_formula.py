"""Model specification: lme4 bars, error messages, missing values, REPEATED index checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm
from jaxmixed.errors import DataError, FormulaError, JaxMixedError, SpecificationError
from jaxmixed.formula import split_bars


def R(effects, subject, type_):
    return jm.Random(effects, subject=subject, type=type_)


# --------------------------------------------------------------------------- lme4 bars


@pytest.mark.parametrize(
    "formula, fixed, randoms",
    [
        ("Reaction ~ Days + (Days | Subject)", "Reaction ~ Days", [R("1 + Days", "Subject", "UN")]),
        ("Reaction ~ Days + (1 + Days | Subject)", "Reaction ~ Days", [R("1 + Days", "Subject", "UN")]),
        ("y ~ x + (1 | g)", "y ~ x", [R("1", "g", "VC")]),
        ("y ~ x + (1|g)", "y ~ x", [R("1", "g", "VC")]),
        ("y ~ (1 | g)", "y ~ 1", [R("1", "g", "VC")]),
        ("y ~ (1 | g) + x", "y ~ x", [R("1", "g", "VC")]),
        ("y ~ x + (x || g)", "y ~ x", [R("1 + x", "g", "VC")]),
        ("y ~ x + (0 + x | g)", "y ~ x", [R("0 + x", "g", "UN")]),
        ("y ~ x + (1 | a/b)", "y ~ x", [R("1", "a", "VC"), R("1", "a:b", "VC")]),
        ("y ~ x + (1 | a/b/c)", "y ~ x", [R("1", "a", "VC"), R("1", "a:b", "VC"), R("1", "a:b:c", "VC")]),
        ("y ~ x + (1 | a) + (1 | b) + z", "y ~ x + z", [R("1", "a", "VC"), R("1", "b", "VC")]),
        ("y~x+(1+x+z|g)", "y ~ x", [R("1 + x + z", "g", "UN")]),
        ("y ~ x", "y ~ x", []),
    ],
)
def test_split_bars(formula, fixed, randoms):
    got_fixed, got_randoms = split_bars(formula)
    assert " ".join(got_fixed.split()) == fixed
    assert [(r.effects, r.subject, r.type) for r in got_randoms] == [(r.effects, r.subject, r.type) for r in randoms]


def test_bars_fit_like_random_statements(sleepstudy):
    a = jm.mixed("Reaction ~ Days + (Days | Subject)", sleepstudy)
    b = jm.mixed("Reaction ~ Days", sleepstudy, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
    assert a.minus2ll == pytest.approx(b.minus2ll, rel=1e-10)
    pd.testing.assert_frame_equal(a.covparms, b.covparms)


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + (1 | g",  # unbalanced (
        "y ~ x) + (1 | g)",  # unbalanced )
        "y ~ x + ( | g)",  # no effects
        "y ~ x + (1 | )",  # no grouping factor
        "y ~ x + (x || )",
        "y ~ x + (1 | a//b)",  # empty level of a nesting chain
        "y ~ x + (1 | /b)",
        "y x",  # no ~
        "",
    ],
)
def test_bad_bars_raise_formula_error(formula):
    with pytest.raises(FormulaError):
        split_bars(formula)


@pytest.mark.parametrize(
    "formula",
    [
        "Reaction ~ Days + (1 | Subject",
        "Reaction ~ Days + (Days | )",
        "Reaction ~ Days +* Subject",
        "Reaction ~ Days ~ Subject",
        "Reaction ~ Days + $",
        "Reaction ~ Days + log(",
        "~ Days",
    ],
)
def test_bad_formulas_raise_formula_error_from_mixed(formula, sleepstudy):
    with pytest.raises(FormulaError):
        jm.mixed(formula, sleepstudy)


def test_error_hierarchy():
    assert issubclass(FormulaError, SpecificationError)
    assert issubclass(SpecificationError, JaxMixedError)
    assert issubclass(DataError, JaxMixedError)


# --------------------------------------------------------------------------- unknown names


@pytest.mark.parametrize("type_", ["FOO", "toeplitz", "AR(2)"])
def test_unknown_random_type_names_it(type_, sleepstudy):
    with pytest.raises(SpecificationError) as info:
        jm.mixed("Reaction ~ Days", sleepstudy, random=[jm.Random("1", subject="Subject", type=type_)])
    assert type_.upper() in str(info.value).upper()


def test_unknown_repeated_type_names_it(sleepstudy):
    with pytest.raises(SpecificationError, match="BAR"):
        jm.mixed("Reaction ~ Days", sleepstudy, repeated=jm.Repeated(subject="Subject", type="BAR"))


@pytest.mark.parametrize(
    "kwargs, column",
    [
        (dict(fixed="Reaction ~ Dayz"), "Dayz"),
        (dict(fixed="Reaktion ~ Days"), "Reaktion"),
        (dict(fixed="Reaction ~ Days + (1 | Subjekt)"), "Subjekt"),
        (dict(random=[jm.Random("1 + Nope", subject="Subject")]), "Nope"),
        (dict(random=[jm.Random("1", subject="Subjekt")]), "Subjekt"),
        (dict(random=[jm.Random("1", subject="Subject:Grp")]), "Grp"),
        (dict(repeated=jm.Repeated(subject="Subject", type="AR(1)", index="Visit")), "Visit"),
        (dict(repeated=jm.Repeated(subject="Patient", type="CS")), "Patient"),
    ],
)
def test_unknown_column_raises_data_error_naming_it(kwargs, column, sleepstudy):
    kwargs = dict(kwargs)
    fixed = kwargs.pop("fixed", "Reaction ~ Days")
    with pytest.raises(DataError) as info:
        jm.mixed(fixed, sleepstudy, **kwargs)
    assert repr(column) in str(info.value) or f'"{column}"' in str(info.value), str(info.value)


def test_unknown_method(sleepstudy):
    with pytest.raises(SpecificationError, match="MIVQUE"):
        jm.mixed("Reaction ~ Days", sleepstudy, method="MIVQUE")


# --------------------------------------------------------------------------- missing values


def test_rows_with_missing_values_are_excluded_and_counted(sleepstudy):
    df = sleepstudy.copy()
    df["Note"] = "ok"
    # one row each from nine different subjects (rows 10·s + s), three per kind of gap;
    # "unused" rows are in other subjects.  Every subject keeps >= 9 of its 10 rows.
    rows = np.arange(9) * 11
    drop_y, drop_x, drop_s = rows[0:3], rows[3:6], rows[6:9]
    unused = np.array([95, 125, 177])
    df = df.astype({"Days": float, "Subject": object})
    df.loc[drop_y, "Reaction"] = np.nan
    df.loc[drop_x, "Days"] = np.nan
    df.loc[drop_s, "Subject"] = None
    df.loc[unused, "Note"] = None  # not a model column: these rows stay
    bad = set(drop_y) | set(drop_x) | set(drop_s)
    expected_used = 180 - len(bad)

    fit = jm.mixed("Reaction ~ Days", df, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
    assert fit.n_obs == 180
    assert fit.n_used == expected_used
    assert fit.n_subjects == 18

    clean = sleepstudy.drop(index=sorted(bad)).reset_index(drop=True)
    ref = jm.mixed("Reaction ~ Days", clean, random=[jm.Random("1 + Days", subject="Subject", type="UN")])
    assert ref.n_obs == ref.n_used == expected_used
    assert fit.minus2ll == pytest.approx(ref.minus2ll, rel=1e-10)
    np.testing.assert_allclose(fit.fixed.Estimate, ref.fixed.Estimate, rtol=1e-8)
    text = fit.summary()
    assert str(180) in text and str(expected_used) in text


def test_no_complete_row_is_a_data_error(sleepstudy):
    df = sleepstudy.copy()
    df["Reaction"] = np.nan
    with pytest.raises(DataError):
        jm.mixed("Reaction ~ Days", df)


# --------------------------------------------------------------------------- REPEATED index


def test_repeated_index_duplicate_within_subject_names_the_subject(sleepstudy):
    df = sleepstudy.copy()
    df["Subject"] = "S" + df["Subject"].astype(str)
    rows = np.flatnonzero(df.Subject == "S309")
    df.loc[rows[4], "Days"] = df.loc[rows[3], "Days"]  # two rows of S309 at the same day
    with pytest.raises(DataError) as info:
        jm.mixed("Reaction ~ Days", df, repeated=jm.Repeated(subject="Subject", type="AR(1)", index="Days"))
    assert "S309" in str(info.value)
    assert "Days" in str(info.value)


def test_repeated_index_may_repeat_across_subjects():
    # the same index values in different subjects are fine (positive control, tiny data)
    df = pd.DataFrame({"y": [1.0, 2.0, 2.5, 0.5, 1.5, 3.0], "t": [1, 2, 3, 1, 2, 3], "s": list("aaabbb")})
    from jaxmixed.design import build_design

    d = build_design("y ~ 1", df, None, jm.Repeated(subject="s", type="UN", index="t"))
    assert d.n_used == 6


def test_bar_with_one_factor_term_is_unstructured_as_in_lme4():
    from jaxmixed.blocks import make_layout
    from jaxmixed.design import build_design

    df = pd.DataFrame({"y": [1.0, 2.0, 0.5, 1.5, 2.5, 3.0, 0.2, 1.1, 2.2],
                       "k": list("pqrpqrpqr"), "g": list("aaabbbccc")})
    layout = make_layout(build_design("y ~ 1 + (0 + k | g)", df), "REML")
    (kind,) = layout.g_kinds
    assert kind.structure.dim == 3
    assert kind.structure.name == "UN" and kind.structure.n_params == 6


def test_bar_with_factor_and_intercept_is_unstructured():
    from jaxmixed.blocks import make_layout
    from jaxmixed.design import build_design

    df = pd.DataFrame({"y": [1.0, 2.0, 0.5, 1.5, 2.5, 3.0, 0.2, 1.1, 2.2],
                       "k": list("pqrpqrpqr"), "g": list("aaabbbccc")})
    layout = make_layout(build_design("y ~ 1 + (k | g)", df), "REML")
    (kind,) = layout.g_kinds
    assert kind.structure.dim == 3 and kind.structure.name == "UN" and kind.structure.n_params == 6
