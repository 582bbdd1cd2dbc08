"""Saving a fit to one file and loading it back, exactly.

``save(fit, path)`` writes a zip archive (any name; ``.jmfit`` by
convention) that can be inspected with ordinary tools::

    manifest.json        schema, versions (jaxmixed, JAX, jaxlib, numpy, pandas,
                         Python), the scalars of the result, its diagnostics, the
                         model specification, the data fingerprint, the file list
    tables/<name>.parquet  every table of the result (covparms, fixed, fit_stats,
                         iteration history, dimensions, model info, asycov, G...)
    arrays.npz           θ̂, β̂, Cov(β̂) and the fit-time quantities inference needs
                         (natural θ in the likelihood's order, bound flags, 2H⁻¹)
    data.parquet         the rows used, model columns only

No pickle is involved: numbers are Parquet, NPZ (``allow_pickle=False``) and
JSON, whose float repr round-trips exactly, so a reloaded result compares equal
to the saved one, table by table, bit for bit.

``load(path)`` rebuilds the design, layout and blocks from the stored rows and
specification, without refitting: θ̂ and β̂ are the stored ones.  Every method
of the fitted result therefore works on the loaded one (``type3``,
``estimate``, ``contrast``, ``lsmeans``, ``random_effects``, ``predicted``,
``residuals``, ``V``, ``R``...).  The data fingerprint (SHA-256 over the
column names, dtypes and values of the rows used) is checked on load.  An
archive written with ``with_data=False`` holds tables only; on such a result
the methods that need the data raise :class:`~jaxmixed.errors.SavedResultError`.

The archive is written to a temporary file and renamed into place, so a crash
or Ctrl-C during ``save`` never leaves a truncated file under ``path``; a BY
loop can therefore save each group's result as soon as it is fitted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import platform
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .diagnostics import Diagnostic
from .errors import SavedResultError

SCHEMA = "jaxmixed.saved/1"

#: result fields rebuilt on load rather than stored
_REBUILT = {"_inf", "_v_block", "provenance"}


# ----------------------------------------------------------------------------- fingerprint


def model_columns(design) -> list[str]:
    """The data columns a design uses, in the order of the data."""
    import formulaic

    used = set(formulaic.Formula(design.fixed_formula).required_variables)
    for r in design.randoms:
        st = r.statement
        used |= set(formulaic.Formula(st.effects).required_variables)
        used |= set(st.subject_parts) | ({st.group} if st.group else set())
    rep = design.repeated.statement
    used |= set(rep.subject_parts) | set(rep.coordinates)
    used |= {c for c in (rep.index, rep.group) if c}
    weights = design.weights_column
    if weights:
        used.add(weights)
    return [c for c in design.frame.columns if c in used]


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names and values (not the index) of ``frame``.

    The dtype is left out on purpose: a text column is ``object`` in one
    pandas and ``str`` in another, with the same values and the same hash."""
    h = hashlib.sha256()
    for c in frame.columns:
        col = frame[c]
        h.update(f"{c}\0".encode())
        h.update(pd.util.hash_pandas_object(col, index=False).to_numpy().tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- versions


def _versions() -> dict[str, str]:
    import jax
    import jaxlib

    from . import __version__

    return {
        "jaxmixed": __version__,
        "jax": jax.__version__,
        "jaxlib": getattr(jaxlib, "__version__", "unknown"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


# ----------------------------------------------------------------------------- spec


def _spec(design, layout) -> dict:
    return {
        "fixed": design.fixed_formula,
        "random": [dataclasses.asdict(r.statement) for r in design.randoms],
        "repeated": dataclasses.asdict(design.repeated.statement),
        "weights": design.weights_column,
        "method": layout.method,
        "profile": bool(layout.profile),
    }


def _parquet(df: pd.DataFrame) -> bytes:
    """Parquet of ``df``; column labels (which may repeat, as in G) go by position
    into the file's metadata and come back through :func:`_read_parquet`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = [_json_value(c) for c in df.columns]
    flat = df.set_axis([f"c{i}" for i in range(df.shape[1])], axis=1)
    # an object column mixing types (Dimensions: counts and the likelihood path) goes as JSON text
    mixed = [i for i in range(flat.shape[1]) if flat.dtypes.iloc[i] == object
             and len({type(v) for v in flat.iloc[:, i] if v is not None}) > 1]
    for i in mixed:
        flat[f"c{i}"] = [json.dumps(v.item() if hasattr(v, "item") else v) for v in flat.iloc[:, i]]
    table = pa.Table.from_pandas(flat)
    meta = dict(table.schema.metadata or {})
    meta[b"jaxmixed.columns"] = json.dumps({"labels": labels, "name": df.columns.name, "json": mixed}).encode()
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()


def _read_parquet(raw: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(raw))
    info = json.loads((table.schema.metadata or {}).get(b"jaxmixed.columns", b"null"))
    df = table.to_pandas()
    for i in (info or {}).get("json", []):
        df[f"c{i}"] = pd.Series([json.loads(v) for v in df[f"c{i}"]], index=df.index, dtype=object)
    if info is not None:
        df.columns = pd.Index(info["labels"], name=info["name"], dtype=df.columns.dtype if len(df.columns) else None)
    return df


def _json_value(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# ----------------------------------------------------------------------------- save


def save(fit, path, *, with_data: bool = True) -> Path:
    """Write ``fit`` to the archive ``path`` (replaced whole); returns the path.

    ``with_data=False`` leaves out the rows used (for data that must not
    travel): the tables load, the methods that need the data do not.
    """
    path = Path(path)
    files: dict[str, bytes] = {}
    scalars, tables, arrays, diagnostics = {}, {}, {}, []
    for f in dataclasses.fields(fit):
        name, value = f.name, getattr(fit, f.name)
        if name in _REBUILT:
            continue
        if isinstance(value, pd.DataFrame):
            tables[name] = f"tables/{name.lstrip('_')}.parquet"
            files[tables[name]] = _parquet(value)
        elif isinstance(value, np.ndarray):
            arrays[name] = value
        elif name == "diagnostics":
            diagnostics = [dataclasses.asdict(d) for d in value]
        elif isinstance(value, tuple) and all(isinstance(v, pd.DataFrame) for v in value):
            tables[name] = [f"tables/{name.lstrip('_')}_{i}.parquet" for i in range(len(value))]
            for where, v in zip(tables[name], value):
                files[where] = _parquet(v)
        elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
            scalars[name] = _json_value(value)
        else:
            raise SavedResultError(f"cannot save the result field {name!r} of type {type(value).__name__}")

    manifest = {"schema": SCHEMA, "versions": _versions(), "scalars": scalars, "tables": tables,
                "arrays": sorted(arrays), "diagnostics": diagnostics}
    inf = getattr(fit, "_inf", None)
    if inf is not None:
        design, layout = inf.design, inf.layout
        frame = design.frame[model_columns(design)].reset_index(drop=True)
        manifest["spec"] = _spec(design, layout)
        manifest["fingerprint"] = data_fingerprint(frame)
        manifest["n_read"] = int(design.n_read)
        for k in ("theta", "at_bound", "asy", "cov_b", "beta"):
            arrays[f"inf.{k}"] = np.asarray(getattr(inf, k))
        arrays["inf.used_rows"] = np.asarray(design.used_rows)
        if with_data:
            files["data.parquet"] = _parquet(frame)
    manifest["arrays"] = sorted(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    files["arrays.npz"] = buf.getvalue()
    # repr of a float round-trips exactly; NaN/inf are written as JSON's NaN/Infinity tokens
    files["manifest.json"] = json.dumps(manifest, indent=2, default=_json_value).encode()

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for name in ["manifest.json"] + sorted(k for k in files if k != "manifest.json"):
                z.writestr(name, files[name])
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ----------------------------------------------------------------------------- load


class _TablesOnly:
    """Stands in for the inference context of a result saved without its data."""

    def __init__(self, reason: str):
        self._reason = reason

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise SavedResultError(self._reason)


def read_manifest(path) -> dict:
    """The manifest of a saved result (versions, spec, fingerprint, ...), without loading it."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("manifest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise SavedResultError(f"{str(path)!r} is not a saved jaxmixed result: {exc}") from exc


def load(path):
    """Read a result written by :func:`save` (or ``MixedResult.save``)."""
    from .results import MixedResult

    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("schema") != SCHEMA:
        raise SavedResultError(f"{str(path)!r} has schema {manifest.get('schema')!r}; this version reads {SCHEMA!r}")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())

        def table(where):
            return _read_parquet(z.read(where))

        with np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        data = table("data.parquet") if "data.parquet" in names else None

    kwargs = dict(manifest["scalars"])
    with zipfile.ZipFile(path) as z:
        for name, where in manifest["tables"].items():
            kwargs[name] = (tuple(_read_parquet(z.read(w)) for w in where)
                            if isinstance(where, list) else _read_parquet(z.read(where)))
    for name in (f.name for f in dataclasses.fields(MixedResult)):
        if name in arrays:
            kwargs[name] = arrays[name]
    kwargs["diagnostics"] = tuple(Diagnostic(**{**d, "parameters": tuple(d["parameters"])})
                                  for d in manifest["diagnostics"])

    if data is None or "spec" not in manifest:
        reason = (f"the result in {str(path)!r} was saved without its data, so it holds tables only; "
                  "refit the model to compute this")
        kwargs["_inf"] = _TablesOnly(reason)
        kwargs["_v_block"] = lambda *a, **k: _TablesOnly(reason).v
    else:
        if data_fingerprint(data) != manifest["fingerprint"]:
            raise SavedResultError(f"the data stored in {str(path)!r} do not match its fingerprint; the file is damaged")
        inf = _rebuild_context(manifest, data, arrays)
        kwargs["_inf"] = inf
        kwargs["_v_block"] = _v_block_of(inf)
    known = {f.name for f in dataclasses.fields(MixedResult)}
    if "provenance" in known:
        kwargs["provenance"] = {k: manifest.get(k) for k in ("versions", "spec", "fingerprint")}
    return MixedResult(**{k: v for k, v in kwargs.items() if k in known})


def _rebuild_context(manifest, data, arrays):
    """Design, layout and blocks from the stored rows: the same arrays the fit used."""
    import jax.numpy as jnp

    from .blocks import make_blocks, make_layout
    from .design import build_design
    from .formula import Random, Repeated
    from .inference import InferenceContext

    spec = manifest["spec"]
    rep = dict(spec["repeated"])
    if isinstance(rep.get("coordinate"), list):
        rep["coordinate"] = tuple(rep["coordinate"])
    design = build_design(spec["fixed"], data, [Random(**r) for r in spec["random"]], Repeated(**rep),
                          weights=spec.get("weights"))
    design = dataclasses.replace(design, used_rows=arrays["inf.used_rows"], n_read=manifest["n_read"])
    layout = make_layout(design, spec["method"], noprofile=not spec["profile"])
    blocks = make_blocks(design, layout)
    buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)
    return InferenceContext(design=design, layout=layout, blocks=blocks, buckets=buckets,
                            theta=arrays["inf.theta"], at_bound=arrays["inf.at_bound"], asy=arrays["inf.asy"],
                            cov_b=arrays["inf.cov_b"], beta=arrays["inf.beta"])


def _v_block_of(inf):
    from .results import _block_of_level, _v_of_block

    layout, design, blocks, buckets, theta = inf.layout, inf.design, inf.blocks, inf.buckets, inf.theta

    def v_block(i, r_only=False):
        if isinstance(i, str):
            i = _block_of_level(design, blocks, i)
        if r_only:
            n_g = int(layout.offsets[len(layout.g_kinds)])
            return _v_of_block(layout, blocks, buckets, np.concatenate([np.zeros(n_g), theta[n_g:]]), i)
        return _v_of_block(layout, blocks, buckets, theta, i)

    return v_block
