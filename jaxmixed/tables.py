"""Every table of a fit written to a folder, one file per table, as PROC MIXED's
ODS OUTPUT does (``ods output CovParms=... SolutionF=... Tests3=...``).

Files (CSV, or Parquet with ``format="parquet"``; Parquet needs the ``parquet``
extra, ``pip install 'jaxmixed[parquet]'``)::

    covparms          Covariance Parameter Estimates
    solution_f        Solution for Fixed Effects (Effect first)
    tests3            Type 3 Tests of Fixed Effects
    fit_stats         Fit Statistics
    iteration_history Iteration History
    diagnostics       code, severity, message, parameters, suggestion
    random_effects    Solution for Random Effects (EBLUPs, StdErrPred)
    summary.txt       the printed summary

For a BY job the tables of every group are stacked, the BY column(s) first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from .errors import DataError

TABLES = ("covparms", "solution_f", "tests3", "fit_stats", "iteration_history", "diagnostics", "random_effects")
FORMATS = ("csv", "parquet")


def fit_tables(fit) -> dict[str, pd.DataFrame]:
    """The tables of one fit, by ODS-style name."""
    diags = pd.DataFrame([dataclasses.asdict(d) for d in fit.diagnostics],
                         columns=["code", "severity", "message", "parameters", "suggestion"])
    diags["parameters"] = diags["parameters"].map(lambda p: "; ".join(p))
    return {
        "covparms": fit.covparms,
        "solution_f": fit.fixed.reset_index(),
        "tests3": fit.type3(),
        "fit_stats": fit.fit_stats,
        "iteration_history": fit.iteration_history,
        "diagnostics": diags,
        "random_effects": fit.random_effects,
    }


def _by_levels(res):
    """(BY values as a dict, MixedResult) for every fitted group of a BY result."""
    by = tuple(res.by)
    for key, fit in res:
        values = key if len(by) > 1 else (key,)
        yield dict(zip(by, values)), fit


def by_tables(res) -> dict[str, pd.DataFrame]:
    """The stacked tables of a BY job, BY column(s) first."""
    out: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for values, fit in _by_levels(res):
        for name, table in fit_tables(fit).items():
            t = table.copy()
            for i, (c, v) in enumerate(values.items()):
                t.insert(i, c, v)
            out[name].append(t)
    return {name: (pd.concat(ts, ignore_index=True) if ts else pd.DataFrame()) for name, ts in out.items()}


def has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _writer(fmt: str):
    if fmt not in FORMATS:
        raise DataError(f"format={fmt!r} is not known; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        if not has_pyarrow():
            raise DataError("writing Parquet needs pyarrow: pip install 'jaxmixed[parquet]'")
        return lambda df, path: df.to_parquet(path, index=False)
    return lambda df, path: df.to_csv(path, index=False)


def write_tables(result, folder, fmt: str = "csv", summary: str | None = None) -> list[Path]:
    """Write every table of ``result`` (a fit or a BY result) into ``folder`` (made if
    missing); returns the paths written."""
    write = _writer(fmt)
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot make the folder {str(folder)!r}: {exc.strerror or exc}") from exc
    tables = fit_tables(result) if hasattr(result, "covparms") and hasattr(result, "type3") else by_tables(result)
    paths = []
    for name, table in tables.items():
        path = folder / f"{name}.{fmt}"
        table = table.copy()
        table.columns = [str(c) for c in table.columns]
        write(table, path)
        paths.append(path)
    if summary is not None:
        path = folder / "summary.txt"
        path.write_text(summary, encoding="utf-8")
        paths.append(path)
    return paths
