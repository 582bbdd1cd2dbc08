"""save/load: a reloaded result equals the saved one, table by table, and its inference methods work."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

import jaxmixed as jm
from jaxmixed.errors import JaxMixedError, SavedResultError
from jaxmixed.persist import data_fingerprint, read_manifest

TABLES = ["covparms", "fixed", "fit_stats", "iteration_history", "dimensions", "model_info", "asycov", "G"]


@pytest.fixture(scope="module")
def oats_fit():
    df = jm.datasets.load("oats").copy()
    df["nitro_f"] = df["nitro"].astype(str)
    df["yield_"] = df["yield"].astype(float)
    df.loc[[3, 40], "yield_"] = [np.nan, np.inf]  # excluded rows: n_obs != n_used, used_rows not 0..N-1
    df["wt"] = 1.0 + (np.arange(len(df)) % 3) / 4
    return jm.mixed("yield_ ~ C(nitro_f) * C(Variety)", df, random=[jm.Random("1", subject="Block"),
                    jm.Random("1", subject="Block:Variety")], weights="wt", ddfm="kr")


@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return jm.mixed("Reaction ~ Days", sleepstudy, repeated=jm.Repeated(subject="Subject", type="AR(1)", index="Days"),
                    random=[jm.Random("1", subject="Subject")])


def _same(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        elif isinstance(va, (int, float, str, bool)):
            assert va == vb or (va != va and vb != vb), f.name
    assert a.diagnostics == b.diagnostics


@pytest.mark.parametrize("which", ["oats_fit", "sleep_fit"])
def test_round_trip_is_exact(which, request, tmp_path):
    fit = request.getfixturevalue(which)
    path = fit.save(tmp_path / "fit.jmfit")
    back = jm.load(path)
    _same(fit, back)
    assert back.summary() == fit.summary()
    pd.testing.assert_frame_equal(back.V(0), fit.V(0), check_exact=True)
    pd.testing.assert_frame_equal(back.R(1), fit.R(1), check_exact=True)


def test_inference_after_load(oats_fit, tmp_path):
    back = jm.load(oats_fit.save(tmp_path / "oats.jmfit"))
    pd.testing.assert_frame_equal(back.type3(), oats_fit.type3(), rtol=1e-12)
    pd.testing.assert_frame_equal(back.type3("satterthwaite"), oats_fit.type3("satterthwaite"), rtol=1e-12)
    L = np.zeros(len(oats_fit.fixed))
    L[0], L[1] = 1.0, 1.0
    pd.testing.assert_frame_equal(back.estimate(L), oats_fit.estimate(L), rtol=1e-12)
    pd.testing.assert_frame_equal(back.lsmeans("Variety"), oats_fit.lsmeans("Variety"), rtol=1e-12)
    pd.testing.assert_frame_equal(back.random_effects, oats_fit.random_effects, rtol=1e-12)
    pd.testing.assert_series_equal(back.predicted(), oats_fit.predicted(), rtol=1e-12)
    pd.testing.assert_series_equal(back.residuals("marginal", "studentized"),
                                   oats_fit.residuals("marginal", "studentized"), rtol=1e-12)


def test_manifest_holds_spec_versions_and_fingerprint(oats_fit, tmp_path):
    path = oats_fit.save(tmp_path / "oats.jmfit")
    m = read_manifest(path)
    assert m["versions"]["jax"] == __import__("jax").__version__
    assert m["versions"]["jaxmixed"] == jm.__version__
    assert m["spec"]["fixed"] == "yield_ ~ C(nitro_f) * C(Variety)"
    assert [r["subject"] for r in m["spec"]["random"]] == ["Block", "Block:Variety"]
    assert m["spec"]["weights"] == "wt" and m["spec"]["method"] == "REML"
    frame = oats_fit._inf.design.frame
    frame = frame[[c for c in frame.columns if c in {"yield_", "nitro_f", "Variety", "Block", "wt"}]]
    assert m["fingerprint"] == data_fingerprint(frame.reset_index(drop=True))
    back = jm.load(path)
    assert back.provenance["fingerprint"] == m["fingerprint"]
    with zipfile.ZipFile(path) as z:  # inspectable: no pickle anywhere
        names = z.namelist()
        assert not any(n.endswith((".pkl", ".pickle")) for n in names)
        assert "data.parquet" in names and "tables/fixed.parquet" in names


def test_tables_only_archive_says_so(oats_fit, tmp_path):
    back = jm.load(oats_fit.save(tmp_path / "t.jmfit", with_data=False))
    _same(oats_fit, back)
    for call in (lambda: back.type3(), lambda: back.random_effects, lambda: back.lsmeans("Variety"),
                 lambda: back.V(0)):
        with pytest.raises(SavedResultError, match="tables only"):
            call()


def test_damaged_or_foreign_files_raise_our_error(oats_fit, tmp_path):
    bad = tmp_path / "not.jmfit"
    bad.write_text("hello")
    with pytest.raises(SavedResultError):
        jm.load(bad)
    with pytest.raises(SavedResultError):
        jm.load(tmp_path / "missing.jmfit")
    # a tampered data file fails the fingerprint check
    path = oats_fit.save(tmp_path / "ok.jmfit")
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    m = json.loads(files["manifest.json"])
    m["fingerprint"] = "0" * 64
    files["manifest.json"] = json.dumps(m).encode()
    with zipfile.ZipFile(tmp_path / "tampered.jmfit", "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    with pytest.raises(SavedResultError, match="fingerprint"):
        jm.load(tmp_path / "tampered.jmfit")
    assert issubclass(SavedResultError, JaxMixedError)


def test_save_replaces_whole_and_leaves_no_temporary(oats_fit, sleep_fit, tmp_path):
    path = tmp_path / "same.jmfit"
    oats_fit.save(path)
    sleep_fit.save(path)
    assert jm.load(path).fixed.index.tolist() == sleep_fit.fixed.index.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["same.jmfit"]
