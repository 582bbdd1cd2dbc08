"""``jaxmixed fit ... --out FOLDER`` (the tables, ODS OUTPUT style), ``--plots``,
``--ddfm``, ``diagnose`` and ``--by``, run in-process with click's CliRunner."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from click.testing import CliRunner

import jaxmixed as jm
from jaxmixed.cli import main
from jaxmixed.tables import TABLES

DYESTUFF_M2LL = 319.6543  # lme4, tests/reference/cases/dyestuff_reml.json
MODEL = ["--fixed", "Yield ~ 1", "--random", "1 | Batch"]


def run(*args):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def dye_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "dyestuff.csv"
    jm.datasets.load("dyestuff").to_csv(path, index=False)
    return path


def test_out_folder_holds_every_table_and_plots(dye_csv, tmp_path):
    out, plots = tmp_path / "tables", tmp_path / "plots"
    r = run("fit", dye_csv, *MODEL, "--ddfm", "kr", "--out", out, "--plots", plots, "--profile", "Residual")
    assert r.exit_code == 0, r.stderr
    for name in TABLES:
        assert (out / f"{name}.csv").is_file(), name
    assert (out / "summary.txt").read_text() == r.stdout
    stats = pd.read_csv(out / "fit_stats.csv").set_index("Descr")["Value"]
    assert abs(stats["-2 Res Log Likelihood"] - DYESTUFF_M2LL) < 1e-4
    sol = pd.read_csv(out / "solution_f.csv")
    assert list(sol.columns[:2]) == ["Effect", "Estimate"] and sol["Effect"][0] == "(Intercept)"
    assert len(pd.read_csv(out / "random_effects.csv")) == 6  # six batches
    assert "Kenward-Roger" in r.stdout
    assert sorted(p.name for p in plots.iterdir()) == sorted(
        ["residuals_vs_fitted.png", "qq.png", "caterpillar.png", "iteration_history.png", "profile.png"])


def test_parquet_tables(dye_csv, tmp_path):
    pytest.importorskip("pyarrow")
    r = run("fit", dye_csv, *MODEL, "--out", tmp_path, "--format", "parquet", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    cp = pd.read_parquet(tmp_path / "covparms.parquet")
    assert list(cp["CovParm"]) == ["Intercept", "Residual"]


def test_parquet_without_pyarrow_names_the_extra(dye_csv, tmp_path, monkeypatch):
    import jaxmixed.tables

    monkeypatch.setattr(jaxmixed.tables, "has_pyarrow", lambda: False)
    r = run("fit", dye_csv, *MODEL, "--out", tmp_path, "--format", "parquet")
    assert r.exit_code == 2
    assert "jaxmixed[parquet]" in r.stderr and "Traceback" not in r.stderr


def test_diagnose_reports_a_boundary_variance(tmp_path):
    path = tmp_path / "dyestuff2.csv"
    jm.datasets.load("dyestuff2").to_csv(path, index=False)
    r = run("diagnose", path, *MODEL)
    assert r.exit_code == 0, r.stderr
    assert "Convergence criteria met." in r.stdout
    assert "on its lower bound" in r.stdout or "boundary" in r.stdout.lower()


def test_out_is_a_file_not_a_folder(dye_csv, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("")
    r = run("fit", dye_csv, *MODEL, "--out", f)
    assert r.exit_code == 2 and "is a file" in r.stderr


HAS_BY = "by" in inspect.signature(jm.mixed).parameters


@pytest.mark.skipif(HAS_BY, reason="the BY path is present")
def test_by_without_the_by_path_is_a_clear_error(dye_csv):
    r = run("fit", dye_csv, *MODEL, "--by", "Batch")
    assert r.exit_code == 2 and "--by" in r.stderr


@pytest.mark.skipif(not HAS_BY, reason="jm.mixed(by=...) (the BY path) is not in this build")
def test_by_job_writes_stacked_tables_and_forest_plots(tmp_path):
    d = jm.datasets.load("sleepstudy")
    d["half"] = (d["Subject"].astype(str) >= "340").map({False: "a", True: "b"})
    path = tmp_path / "ss.csv"
    d.to_csv(path, index=False)
    r = run("fit", path, "--fixed", "Reaction ~ Days", "--random", "1 + Days | Subject : UN", "--by", "half",
            "--out", tmp_path / "t", "--plots", tmp_path / "p")
    assert r.exit_code == 0, r.stderr
    sol = pd.read_csv(tmp_path / "t" / "solution_f.csv")
    assert list(sol.columns[:2]) == ["half", "Effect"] and set(sol["half"]) == {"a", "b"}
    assert (tmp_path / "p" / "forest_Days.png").is_file()
