"""The ``jaxmixed`` command, run in-process with click's CliRunner.

The fits here are small; the first one in the process pays for JAX's compile.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

import jaxmixed as jm
from jaxmixed.cli import EXAMPLES, main, parse_random, parse_repeated
from jaxmixed.export import result_to_dict

SLEEP_UN_REML_M2LL = 1743.6283  # lme4 / PROC MIXED, tests/reference/cases/sleepstudy_un_reml.json


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run(*args):
    return _runner().invoke(main, list(args))


def _no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def sleep_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "sleepstudy.csv"
    jm.datasets.load("sleepstudy").to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- example


def test_example_sleepstudy_prints_summary():
    result = run("example", "sleepstudy")
    assert result.exit_code == 0, result.stderr
    assert "Covariance Parameter Estimates" in result.stdout
    assert "Solution for Fixed Effects" in result.stdout
    assert "251.4051" in result.stdout  # the intercept
    assert "1743.6283" in result.stdout  # −2 Res Log Likelihood


def test_example_list_names_every_example():
    result = run("example", "--list")
    assert result.exit_code == 0
    for name in ("sleepstudy", "dyestuff", "oats", "orthodont", "pastes", "ovary"):
        assert name in result.stdout
    assert set(EXAMPLES) == {"sleepstudy", "dyestuff", "oats", "orthodont", "pastes", "ovary"}


def test_examples_use_bundled_data():
    for ex in EXAMPLES.values():
        assert ex["data"] in jm.datasets.names()


@pytest.mark.parametrize("args", [["example", "nosuch"], ["example"], ["example", "sleepstudy", "--method", "XX"]])
def test_example_bad_input_exits_2(args):
    result = run(*args)
    assert result.exit_code == 2
    _no_traceback(result)
    assert result.stderr.startswith("jaxmixed: error:")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - {"sleepstudy"}))
def test_every_example_converges(name):
    result = run("example", name)
    assert result.exit_code == 0, result.stderr
    assert "Covariance Parameter Estimates" in result.stdout


# --------------------------------------------------------------------------- fit


def test_fit_csv_writes_json(sleep_csv, tmp_path):
    out = tmp_path / "fit.json"
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days", "--random", "1 + Days | Subject : UN",
                 "--out", str(out))
    assert result.exit_code == 0, result.stderr
    _no_traceback(result)
    assert "Covariance Parameter Estimates" in result.stdout
    doc = json.loads(out.read_text())
    assert abs(doc["minus2ll"] - SLEEP_UN_REML_M2LL) < 1e-4
    assert doc["converged"] is True
    assert doc["method"] == "REML"
    assert doc["n_used"] == 180 and doc["n_subjects"] == 18
    assert [r["Effect"] for r in doc["fixed"]] == ["(Intercept)", "Days"]
    assert abs(doc["fixed"][0]["Estimate"] - 251.4051) < 1e-3
    assert [r["CovParm"] for r in doc["covparms"]] == ["UN(1,1)", "UN(2,1)", "UN(2,2)", "Residual"]
    assert doc["model"]["random"] == [{"effects": "1 + Days", "subject": "Subject", "type": "UN"}]
    for key in ("jaxmixed_version", "jax_version", "fit_stats", "diagnostics", "iteration_history", "status",
                "aic", "aicc", "bic"):
        assert key in doc
    # strict JSON: no NaN / Infinity tokens
    json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_fit_accepts_lme4_bars(sleep_csv):
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days + (Days | Subject)")
    assert result.exit_code == 0, result.stderr
    assert "1743.6283" in result.stdout


def test_fit_bad_column_exits_2_naming_it(sleep_csv):
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days", "--random", "1 + Dayz | Subject : UN")
    assert result.exit_code == 2
    _no_traceback(result)
    assert "Dayz" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fit_bad_fixed_column_exits_2(sleep_csv):
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Hours")
    assert result.exit_code == 2
    _no_traceback(result)
    assert "Hours" in result.stderr


@pytest.mark.parametrize(
    "spec",
    ["1 + Days Subject", "| Subject", "1 + Days |", "1 + Days || Subject", "1 | Subject : NOTATYPE",
     "1 | Subject : colour=red", "1 | Subject ::UN"],
)
def test_fit_bad_random_syntax_exits_2(sleep_csv, spec):
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days", "--random", spec)
    assert result.exit_code == 2, result.stdout
    _no_traceback(result)
    assert "--random" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fit_unbalanced_formula_exits_2(sleep_csv):
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days + (Days | Subject")
    assert result.exit_code == 2
    _no_traceback(result)
    assert result.stderr.startswith("jaxmixed: error: unbalanced")


def test_fit_missing_file_and_unknown_format_exit_2(tmp_path):
    result = run("fit", str(tmp_path / "nope.csv"), "--fixed", "y ~ x")
    assert result.exit_code == 2
    assert "nope.csv" in result.stderr
    odd = tmp_path / "data.xlsx"
    odd.write_text("y,x\n1,2\n")
    result = run("fit", str(odd), "--fixed", "y ~ x")
    assert result.exit_code == 2
    assert ".csv" in result.stderr
    _no_traceback(result)


def test_fit_missing_fixed_exits_2(sleep_csv):
    result = run("fit", str(sleep_csv))
    assert result.exit_code == 2
    assert "--fixed" in result.stderr


def test_fit_not_converged_exits_1_and_still_writes(sleep_csv, tmp_path):
    out = tmp_path / "nc.json"
    result = run("fit", str(sleep_csv), "--fixed", "Reaction ~ Days", "--random", "1 + Days | Subject : VC",
                 "--maxiter", "0", "--out", str(out))
    assert result.exit_code == 1, result.stderr
    assert "Covariance Parameter Estimates" in result.stdout
    assert "warning" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["converged"] is False
    assert any(d["code"] == "not-converged" for d in doc["diagnostics"])


def test_fit_parquet(sleep_csv, tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    path = tmp_path / "sleep.parquet"
    pd.read_csv(sleep_csv).to_parquet(path)
    result = run("fit", str(path), "--fixed", "Reaction ~ Days", "--random", "1 + Days | Subject : UN")
    assert result.exit_code == 0, result.stderr
    assert "1743.6283" in result.stdout


# --------------------------------------------------------------------------- parsing


def test_parse_random():
    assert parse_random("1 + Days | Subject : UN") == dict(effects="1 + Days", subject="Subject", type="UN")
    assert parse_random("1|Subject") == dict(effects="1", subject="Subject", type="VC")
    assert parse_random("1 | batch:cask") == dict(effects="1", subject="batch:cask", type="VC")
    assert parse_random("1 | batch:cask : un(1)") == dict(effects="1", subject="batch:cask", type="UN(1)")
    assert parse_random("1 | g : CS : group=sex") == dict(effects="1", subject="g", type="CS", group="sex")
    # a column named like a type is a column when the data has it
    assert parse_random("1 | g : cs", columns={"g", "cs"}) == dict(effects="1", subject="g:cs", type="VC")


def test_parse_repeated():
    assert parse_repeated("Subject : UN : index=age") == dict(subject="Subject", type="UN", index="age")
    assert parse_repeated("Mare : AR(1) : index=t_index") == dict(subject="Mare", type="AR(1)", index="t_index")
    assert parse_repeated("Mare:ar( 1 )") == dict(subject="Mare", type="AR(1)")
    assert parse_repeated("Subject") == dict(subject="Subject", type="VC")
    with pytest.raises(click.UsageError):
        parse_repeated("Subject : UN : where=age")
    with pytest.raises(click.UsageError):
        parse_repeated("Subject : index=age : UN")


# --------------------------------------------------------------------------- export


def test_result_to_dict_round_trips_as_strict_json():
    fit = jm.mixed("Reaction ~ Days", data=jm.datasets.load("sleepstudy"),
                   random=[jm.Random("1 + Days", subject="Subject", type="UN")])
    doc = result_to_dict(fit)
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    assert back["minus2ll"] == pytest.approx(fit.minus2ll)
    assert back["aic"] == pytest.approx(fit.aic)
    assert len(back["covparms"]) == len(fit.covparms)
    assert len(back["G"]) == 2
