"""Formula and data -> design arrays (the last stage that sees formulas).

Rows with a missing value in any column the model uses are excluded and
counted, as PROC MIXED reports "Number of Observations Read/Used".  Fixed-effect
columns that are linear combinations of earlier ones are marked aliased (PROC
MIXED prints them with estimate 0 and DF "."); they take no part in the fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import formulaic
import numpy as np
import pandas as pd

from .errors import DataError, SpecificationError
from .formula import Random, Repeated, split_bars
from .validate import (
    check_response,
    excluded_rows_diagnostic,
    formula_error,
    no_complete_row_error,
    unknown_column_error,
)

_LEVEL = re.compile(r"^(?P<var>.+?)\[(?:T\.)?(?P<level>.*)\]$")
_CALL = re.compile(r"^C\((?P<inner>[^,()]+)(?:,.*)?\)$")


def r_name(formulaic_name: str) -> str:
    """R's coefficient name for a formulaic column: ``C(a)[T.x]:b[T.y]`` -> ``ax:by``."""
    if formulaic_name == "Intercept":
        return "(Intercept)"
    parts = []
    for part in formulaic_name.split(":"):
        m = _LEVEL.match(part)
        if m:
            var, level = m.group("var"), m.group("level")
            c = _CALL.match(var)
            parts.append((c.group("inner").strip() if c else var) + level)
        else:
            parts.append(part)
    return ":".join(parts)


def effect_label(name: str) -> str:
    """PROC MIXED's label for a random effect (``Intercept`` without R's parentheses)."""
    return "Intercept" if name == "(Intercept)" else name


def _model_matrix(rhs: str, data: pd.DataFrame, what: str):
    try:
        return formulaic.model_matrix(rhs, data, na_action="ignore")
    except Exception as exc:  # formulaic raises many types; show one of ours
        raise formula_error(what, rhs, exc) from exc


def _required(formula: str, what: str) -> set[str]:
    try:
        return set(formulaic.Formula(formula).required_variables)
    except Exception as exc:
        raise formula_error(what, formula, exc) from exc


def aliased_columns(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Columns of ``x`` that are linear combinations of earlier columns (sweep order):
    the part of a column orthogonal to the earlier kept ones is below ``tol``·‖column‖·√N."""
    keep: list[int] = []
    aliased = np.zeros(x.shape[1], bool)
    q = np.zeros((x.shape[0], 0))
    for j in range(x.shape[1]):
        col = x[:, j]
        norm = np.linalg.norm(col)
        resid = col - q @ (q.T @ col) if q.shape[1] else col
        resid = resid - q @ (q.T @ resid) if q.shape[1] else resid
        rn = np.linalg.norm(resid)
        # relative to the column's own norm (as PROC MIXED's SINGULAR=), so that
        # rescaling a predictor, even by 1e-12, never changes what is aliased
        if norm == 0 or rn <= tol * norm * np.sqrt(x.shape[0]):
            aliased[j] = True
            continue
        keep.append(j)
        q = np.column_stack([q, resid / rn])
    return aliased


@dataclass(frozen=True)
class RandomDesign:
    statement: Random
    names: tuple[str, ...]  # effect names, R style
    z: np.ndarray  # (N, d) effect columns
    subject: np.ndarray  # (N,) integer subject codes (all 0 when no subject)
    subject_levels: tuple[str, ...]
    group: np.ndarray  # (N,) integer group codes
    group_levels: tuple[str, ...]


@dataclass(frozen=True)
class RepeatedDesign:
    statement: Repeated
    subject: np.ndarray  # (N,) codes; -1 where each row is its own subject
    subject_levels: tuple[str, ...]
    pos: np.ndarray  # (N,) position within subject (index level rank, else order)
    dim: int
    index_levels: tuple[str, ...]
    coords: np.ndarray  # (N, k)
    group: np.ndarray
    group_levels: tuple[str, ...]
    #: levels per index column (dim is their product); () without index=
    index_shape: tuple[int, ...] = ()
    #: the index columns
    index_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Design:
    response: str
    fixed_formula: str
    y: np.ndarray
    x: np.ndarray  # (N, p) non-aliased columns only
    fixed_names: tuple[str, ...]  # every column, aliased ones included
    aliased: np.ndarray
    randoms: tuple[RandomDesign, ...]
    repeated: RepeatedDesign
    n_read: int
    n_used: int
    used_rows: np.ndarray  # positions (in the input frame) of the rows used
    model_spec: object = field(default=None, repr=False)
    #: the rows used, as a frame (Type III contrasts, LS-means and containment need the variables)
    frame: object = field(default=None, repr=False)
    #: WEIGHT statement: per-row weights w (R_i -> W^-1/2 R_i W^-1/2), None without one
    weights: np.ndarray | None = field(default=None, repr=False)
    #: the WEIGHT statement's column name
    weights_column: str | None = None
    #: findings about the data made while building the design (rows excluded, ...)
    notes: tuple = field(default=(), repr=False)


def _codes(frame: pd.DataFrame, cols: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    if not cols:
        return np.zeros(len(frame), np.int64), ("",)
    keys = frame[list(cols)].astype(str).agg(":".join, axis=1) if len(cols) > 1 else frame[cols[0]]
    codes, uniques = pd.factorize(keys, sort=True)
    return codes.astype(np.int64), tuple(str(u) for u in uniques)


def _check_columns(data: pd.DataFrame, cols: set[str], where: dict[str, str]):
    missing = sorted(c for c in cols if c not in data.columns)
    if missing:
        c = missing[0]
        raise unknown_column_error(c, where.get(c, "the model"), data.columns)


def build_design(
    fixed: str, data: pd.DataFrame, random=None, repeated: Repeated | None = None, weights: str | None = None
) -> Design:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    fixed_formula, bar_randoms = split_bars(fixed)
    if isinstance(random, str):
        raise SpecificationError(
            f"random= takes jm.Random statements, got the string {random!r}; write lme4 bars in the formula "
            "('y ~ x + (1 | g)') or use jm.Random('1', subject='g')"
        )
    if random is None:
        random = []
    elif isinstance(random, Random):
        random = [random]
    for r in random:
        if not isinstance(r, Random):
            raise SpecificationError(f"random= takes jm.Random statements, got {r!r}")
    randoms = list(random) + bar_randoms
    if repeated is None:
        repeated = Repeated()
    if not isinstance(repeated, Repeated):
        raise SpecificationError(f"repeated= takes a jm.Repeated statement, got {repeated!r}")

    response = fixed_formula.partition("~")[0].strip()
    where: dict[str, str] = {}
    used: set[str] = set()

    def need(cols, label):
        for c in cols:
            used.add(c)
            where.setdefault(c, label)

    need(_required(fixed_formula, "fixed formula"), "the fixed formula")
    for k, r in enumerate(randoms):
        need(_required(r.effects, "random effects"), f"RANDOM statement {k + 1} effects")
        need(r.subject_parts, f"RANDOM statement {k + 1} subject=")
        need([r.group] if r.group else [], f"RANDOM statement {k + 1} group=")
    need(repeated.subject_parts, "REPEATED subject=")
    need(repeated.index_columns, "REPEATED index=")
    need(repeated.coordinates, "REPEATED coordinate=")
    need([repeated.group] if repeated.group else [], "REPEATED group=")
    need([weights] if weights else [], "weights= (the WEIGHT statement)")
    _check_columns(data, used, where)

    n_read = len(data)
    cols = [c for c in data.columns if c in used]
    complete = ~data[cols].isna().any(axis=1).to_numpy()
    for c in cols:
        if pd.api.types.is_numeric_dtype(data[c]):
            complete &= np.isfinite(data[c].to_numpy(dtype=float, na_value=np.nan))
    frame = data.loc[complete].reset_index(drop=True)
    used_rows = np.flatnonzero(complete)
    if len(frame) == 0:
        raise no_complete_row_error(data, cols)

    wts = None
    if weights:
        if not pd.api.types.is_numeric_dtype(frame[weights]):
            raise DataError(f"the weights column {weights!r} must be numeric, it has type {frame[weights].dtype}")
        wts = frame[weights].to_numpy(dtype=float)
        if (wts <= 0).any():
            bad = int(used_rows[np.flatnonzero(wts <= 0)[0]])
            raise DataError(
                f"the weights column {weights!r} has the non-positive value {float(wts[wts <= 0][0]):g} (row {bad} of the data); "
                "weights must be positive"
            )

    if response in frame.columns and not pd.api.types.is_numeric_dtype(frame[response]):
        raise DataError(f"the response {response!r} must be numeric, it has type {frame[response].dtype}")

    mm = _model_matrix(fixed_formula, frame, "fixed-effects design")
    y = np.asarray(mm.lhs, float).ravel()
    check_response(y, response)
    xdf = mm.rhs
    names = tuple(r_name(c) for c in xdf.columns)
    x_all = np.asarray(xdf, float)
    aliased = aliased_columns(x_all)

    rdesigns = []
    for r in randoms:
        zdf = _model_matrix(r.effects, frame, f"random effects {r.effects!r}")
        subj, subj_levels = _codes(frame, r.subject_parts)
        grp, grp_levels = _codes(frame, (r.group,) if r.group else ())
        rdesigns.append(
            RandomDesign(r, tuple(r_name(c) for c in zdf.columns), np.asarray(zdf, float), subj, subj_levels, grp, grp_levels)
        )

    rep = _repeated_design(repeated, frame)
    return Design(
        response=response,
        fixed_formula=fixed_formula,
        y=y,
        x=x_all[:, ~aliased],
        fixed_names=names,
        aliased=aliased,
        randoms=tuple(rdesigns),
        repeated=rep,
        n_read=n_read,
        n_used=len(frame),
        used_rows=used_rows,
        model_spec=xdf.model_spec,
        frame=frame,
        weights=wts,
        weights_column=weights or None,
        notes=tuple(n for n in [excluded_rows_diagnostic(data, cols, len(frame))] if n is not None),
    )


def _plain(value):
    """A numpy scalar as the Python value it holds (so messages read ``3``, not ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _repeated_design(rep: Repeated, frame: pd.DataFrame) -> RepeatedDesign:
    n = len(frame)
    if rep.subject_parts:
        subj, subj_levels = _codes(frame, rep.subject_parts)
    elif rep.type == "VC":
        subj, subj_levels = np.arange(n), ()  # independent rows
    else:
        subj, subj_levels = np.zeros(n, np.int64), ("",)  # the whole data is one subject
    shape: tuple[int, ...] = ()
    if rep.index_columns:
        pos, shape, index_levels = _index_positions(frame, rep.index_columns)
        dup = pd.DataFrame({"s": subj, "p": pos}).duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            who = subj_levels[subj[row]] if subj_levels else str(row)
            value = ", ".join(repr(_plain(frame[c].iloc[row])) for c in rep.index_columns)
            raise DataError(
                f"REPEATED index={rep.index!r} has the value {value} twice within subject {who!r}; "
                "each observation of a subject needs its own index value"
            )
        dim = len(index_levels)
    else:
        order = pd.Series(np.arange(n)).groupby(subj).cumcount().to_numpy()
        pos = order
        dim = int(order.max()) + 1
        index_levels = tuple(str(k + 1) for k in range(dim))
    coords = frame[list(rep.coordinates)].to_numpy(float) if rep.coordinates else np.zeros((n, 0))
    grp, grp_levels = _codes(frame, (rep.group,) if rep.group else ())
    return RepeatedDesign(rep, subj.astype(np.int64), subj_levels, pos.astype(np.int64), dim, index_levels, coords, grp, grp_levels,
                          index_shape=shape, index_names=rep.index_columns)


def _index_positions(frame: pd.DataFrame, cols: tuple[str, ...]):
    """Position of each row within its subject from the repeated effect: the
    rank of its level in each index column, combined row-major (the last
    column varies fastest), so that index=["var", "time"] puts (i, t) at
    i n_time + t.  Returns the positions, the levels per column and a label
    per position ("a:b" for several columns)."""
    pos = np.zeros(len(frame), np.int64)
    shape, per_col = [], []
    for c in cols:
        values = frame[c]
        levels = np.sort(values.unique())
        pos = pos * len(levels) + np.searchsorted(levels, values.to_numpy())
        shape.append(len(levels))
        per_col.append([str(v) for v in levels])
    labels = [""]
    for levels in per_col:
        labels = [f"{a}:{b}" if a else b for a in labels for b in levels]
    return pos, tuple(shape), tuple(labels)
