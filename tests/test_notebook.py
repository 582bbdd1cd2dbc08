"""The walkthrough notebook runs from top to bottom (its code cells, in order, in one namespace)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_walkthrough_runs(monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    import matplotlib

    matplotlib.use("Agg")
    nb = jupytext.read(ROOT / "notebooks" / "walkthrough.py")
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    assert len(cells) >= 10
    namespace = {"__name__": "__walkthrough__"}
    for i, source in enumerate(cells):
        exec(compile(source, f"walkthrough cell {i}", "exec"), namespace)
    assert namespace["fit"].converged and namespace["ortho"].converged
    assert namespace["prof"].attrs["lower"] < namespace["fit"].covparms["Estimate"].iloc[2] < namespace["prof"].attrs["upper"]
