"""Shared test setup: float64 JAX, the reference cases, and a cache of fits.

CPU pinning
-----------
On a machine with few cores, jaxlib 0.10's CPU runtime can deadlock: the XLA
thunk executor runs two batched LAPACK custom calls (``lapack_dtrsm_ffi``,
``lapack_dpotrf_ffi``) at once on the two intra-op pool threads, and each of
them splits its batch with ``ParallelBatchMap`` onto the *same* pool and
blocks waiting for chunks that no free thread is left to run.  The process
then sleeps forever (seen with the ovary AR(1) case: 11 blocks of 32 rows,
2 CPUs).  With a one-thread pool ``ParallelBatchMap`` runs its batch inline
and cannot deadlock, so the test process is pinned to one CPU *before* JAX
is imported (the pool size is read from the CPU affinity when the backend
starts); parallel workers (``pytest -n 2``) are pinned to different CPUs.
Set ``JAXMIXED_TEST_ALL_CPUS=1`` to run unpinned.
"""

from __future__ import annotations

import os
import sys

if not os.environ.get("JAXMIXED_TEST_ALL_CPUS") and hasattr(os, "sched_setaffinity"):
    try:
        _cpus = sorted(os.sched_getaffinity(0))
        if len(_cpus) > 1:
            # pytest-xdist workers (gw0, gw1, ...) each take their own CPU
            _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
            _index = int(_worker) if _worker.isdigit() else 0
            os.sched_setaffinity(0, {_cpus[_index % len(_cpus)]})
    except OSError:  # pragma: no cover - a sandbox that forbids it
        pass

import json  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REF_DIR = Path(__file__).resolve().parent / "reference"
CASE_DIR = REF_DIR / "cases"
DATA_DIR = REF_DIR / "data"

#: data sets too large for the generic reference loop (InstEval's lme4 check is the slow
#: test in test_crossed.py)
EXCLUDED_DATA = {"insteval.csv"}


def case_names() -> list[str]:
    """Every reference case (file stem), except those on excluded data."""
    out = []
    for p in sorted(CASE_DIR.glob("*.json")):
        if json.loads(p.read_text())["data"] not in EXCLUDED_DATA:
            out.append(p.stem)
    return out


@lru_cache(maxsize=None)
def _case_text(name: str) -> str:
    return (CASE_DIR / f"{name}.json").read_text()


def load_case(name: str) -> dict:
    """The case JSON (a fresh dict each call, so tests cannot spoil each other)."""
    return json.loads(_case_text(name))


@lru_cache(maxsize=None)
def _data(file: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / file)


def load_data(file: str) -> pd.DataFrame:
    """A reference data file read with plain ``pd.read_csv`` (a copy)."""
    return _data(file).copy()


def case_model(c: dict):
    """(fixed, random statements, repeated statement, method) of a case."""
    import jaxmixed as jm

    m = c["model"]
    rnd = [jm.Random(r["effects"], subject=r.get("subject"), type=r.get("type", "VC")) for r in m.get("random", [])]
    rep = None
    if m.get("repeated"):
        r = m["repeated"]
        rep = jm.Repeated(**{k: v for k, v in r.items() if v is not None})
    return m["fixed"], rnd, rep, c.get("method", m.get("method", "REML"))


@lru_cache(maxsize=None)
def fit_case(name: str):
    """``jm.mixed`` on a reference case, fitted once per test session."""
    import jaxmixed as jm

    c = load_case(name)
    fixed, rnd, rep, method = case_model(c)
    return jm.mixed(fixed, load_data(c["data"]), random=rnd or None, repeated=rep, method=method)


@pytest.fixture(scope="session")
def reference_case_names() -> list[str]:
    return case_names()


@pytest.fixture
def ref_case(request) -> dict:
    """Indirect fixture: ``@pytest.mark.parametrize("ref_case", names, indirect=True)``."""
    return load_case(request.param)


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    import jaxmixed as jm

    return jm.datasets.load("sleepstudy")
