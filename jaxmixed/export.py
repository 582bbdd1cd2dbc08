"""A fit as plain JSON: every table as a list of records, and the versions that made it.

``result_to_dict(fit)`` gives a dict of plain Python values (str, int, float,
bool, None, lists and dicts) that ``json.dumps`` writes as strict JSON:
non-finite numbers (a p-value PROC MIXED prints as ".", the criterion of
iteration 0) become ``null``.  ``write_json(fit, path)`` writes it to a file.

The layout (``"schema": "jaxmixed.result/1"``)::

    schema, jaxmixed_version, jax_version, jaxlib_version, numpy_version, python_version
    model            what was fitted, when the caller says (the CLI does)
    method, converged, status, iterations, n_obs, n_used, n_subjects
    minus2ll, loglik, aic, aicc, bic
    fit_stats        [{Descr, Value}, ...]
    covparms         [{CovParm, Subject, ..., Estimate, StdErr, Bound}, ...]
    fixed            [{Effect, Estimate, StdErr, DF, tValue, Probt}, ...]
    iteration_history, dimensions, model_info   records, as the tables
    asycov           [{CovParm, <one key per covariance parameter>}, ...]
    G                [{Effect, <one key per effect>}, ...]   (first subject)
    diagnostics      [{code, severity, message, parameters, suggestion}, ...]
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SCHEMA = "jaxmixed.result/1"


def _plain(value: Any) -> Any:
    """``value`` as plain JSON-ready Python: numpy scalars unwrapped, NaN/inf as None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    return str(value)


def _records(df: pd.DataFrame, index_name: str | None = None) -> list[dict]:
    """Rows of ``df`` as dicts; a named (or ``index_name``d) index becomes the first key."""
    if index_name is not None or df.index.name is not None:
        df = df.copy()
        df.index = df.index.rename(df.index.name or index_name)
        df = df.reset_index()
    return [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _versions() -> dict[str, str]:
    import jax
    import jaxlib

    from . import __version__

    return {
        "jaxmixed_version": __version__,
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jaxlib, "__version__", "unknown"),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


def result_to_dict(fit, *, model: dict | None = None) -> dict:
    """A :class:`~jaxmixed.MixedResult` as a JSON-serialisable dict.

    ``model``, when given (a dict describing what was fitted: formula, RANDOM
    and REPEATED statements, data source), is stored under ``"model"``.
    """
    out: dict[str, Any] = {"schema": SCHEMA, **_versions()}
    if model is not None:
        out["model"] = _plain(model)
    out.update(
        method=fit.method,
        converged=bool(fit.converged),
        status=str(fit.status),
        iterations=int(fit.iterations),
        n_obs=int(fit.n_obs),
        n_used=int(fit.n_used),
        n_subjects=int(fit.n_subjects),
        minus2ll=_plain(fit.minus2ll),
        loglik=_plain(fit.loglik),
        aic=_plain(fit.aic),
        aicc=_plain(fit.aicc),
        bic=_plain(fit.bic),
        fit_stats=_records(fit.fit_stats),
        covparms=_records(fit.covparms),
        fixed=_records(fit.fixed, "Effect"),
        iteration_history=_records(fit.iteration_history),
        dimensions=_records(fit.dimensions),
        model_info=_records(fit.model_info),
        asycov=_records(fit.asycov, "CovParm"),
        G=_records(fit.G, "Effect"),
        diagnostics=[_plain(d) for d in fit.diagnostics],
    )
    return out


def to_json(fit, *, model: dict | None = None, indent: int | None = 2) -> str:
    """The fit as a strict JSON string (see :func:`result_to_dict`)."""
    return json.dumps(result_to_dict(fit, model=model), indent=indent, allow_nan=False)


def write_json(fit, path, *, model: dict | None = None, indent: int | None = 2) -> Path:
    """Write the fit to ``path`` as JSON (replacing the file whole); returns the path."""
    path = Path(path)
    text = to_json(fit, model=model, indent=indent) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


__all__ = ["SCHEMA", "result_to_dict", "to_json", "write_json"]
