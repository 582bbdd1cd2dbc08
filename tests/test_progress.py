"""verbose=True reports every Newton iteration through the host callback, and the
reported −2ℓ and criterion are the iteration history's; BY progress counts."""

import io

import numpy as np

import jaxmixed as jm
from jaxmixed.progress import ByProgress, FitProgress


def test_verbose_reports_the_iteration_history(capsys):
    fit = jm.mixed("distance ~ age * Sex", data=jm.datasets.load("orthodont"),
                   repeated=jm.Repeated(subject="Subject", type="CS"), verbose=True)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("fit: iteration")]
    assert lines, err
    hist = fit.iteration_history
    label = "-2 Res Log Likelihood"
    for ln in lines:
        it, m2ll = int(ln.split()[2]), float(ln.split()[4])
        assert np.isclose(m2ll, hist[label].iloc[it], rtol=0, atol=1e-6)


def test_quiet_when_not_a_terminal():
    stream = io.StringIO()
    with FitProgress(stream=stream) as p:
        p.iteration(1, 10.0, 1e-3, -1)
    assert stream.getvalue() == "" and p.rows == [(1, 10.0, 1e-3)]


def test_by_progress_counts_done_and_failed():
    stream = io.StringIO()
    with ByProgress(3, stream=stream, force=True) as p:
        p.advance(True)
        p.advance(False)
        p.advance(True)
    assert (p.done, p.failed) == (2, 1)
    assert "3/3 (1 failed)" in stream.getvalue()


def test_by_job_reports_groups_done_and_failed(capsys):
    import numpy as np
    import pandas as pd

    import jaxmixed as jm

    rng = np.random.default_rng(1)
    rows = []
    for g in range(3):
        for s in range(4):
            b = rng.normal()
            rows += [dict(grp=f"G{g}", subj=f"{g}-{s}", t=t, y=1 + 0.5 * t + b + rng.normal()) for t in range(4)]
    rows += [dict(grp="tiny", subj="x", t=0, y=1.0)]  # one row: cannot be fitted, counted as failed
    res = jm.mixed("y ~ t", pd.DataFrame(rows), random=jm.Random("1", subject="subj"), by="grp", verbose=True)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    n_ok = int(res.converged["Converged"].sum())
    assert n_ok == 3 and line.startswith("BY groups: 4/4 (1 failed)")
