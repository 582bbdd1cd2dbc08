"""Checks of the data and the specification made before any arithmetic.

Every check raises a :mod:`jaxmixed.errors` exception whose message names the
column, the value, the row count or the option at fault, or returns
:class:`~jaxmixed.diagnostics.Diagnostic` findings for what is allowed but
worth knowing.  Nothing here changes the data: rows with a missing or
infinite value in a model column are excluded (never imputed) by
``design.build_design`` and only counted here.

Decisions, with the reason a statistician would give:

* Missing (NaN/None) and infinite values are both excluded; PROC MIXED treats
  both as missing.  They are counted separately, per column, in the
  ``rows-excluded`` diagnostic, so that an overflowed transformation (an
  ``inf``) is not mistaken for a gap in the data.
* A response with no variation among the rows used cannot be fitted: the
  residual variance would be 0 and −2ℓ −∞.  :class:`DataError`.
* A RANDOM statement whose subjects each have a single row, whose effects
  include the intercept, with the default R = σ²I (no REPEATED structure,
  GROUP= or WEIGHT): every V_i is then (σ²_u + σ²) on a 1 x 1 block, so the
  two variances are one parameter and neither is estimable.  :class:`DataError`,
  as lme4 does (its ``check.nobs.vs.nlev``).  With any other R the split can
  be identified by the data and the fit goes ahead, with a warning.
* A RANDOM subject with one level only: the fit goes ahead (PROC MIXED does),
  with a warning that the variance of that effect rests on a single draw and
  is confounded with the fixed effects of the same columns; REML usually puts
  it on its bound 0.
* More covariance parameters than observations used: :class:`DataError`
  naming both counts.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

from .diagnostics import Diagnostic
from .errors import DataError, FormulaError

# ----------------------------------------------------------------------------- names


def close_matches(name: str, candidates) -> list[str]:
    """Up to three column names that look like ``name`` (difflib ratio >= 0.6,
    case differences forgiven)."""
    cands = [str(c) for c in candidates]
    lower = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(str(name).lower(), list(lower), n=3, cutoff=0.6)
    return [lower[h] for h in hits]


def unknown_column_error(column: str, where: str, columns) -> DataError:
    hint = close_matches(column, columns)
    text = f"column {column!r} (used in {where}) is not in the data"
    if hint:
        text += f" (did you mean {' or '.join(repr(h) for h in hint)}?)"
    cols = [str(c) for c in columns]
    shown = ", ".join(cols[:20]) + (f", ... ({len(cols)} columns)" if len(cols) > 20 else "")
    return DataError(f"{text}; columns are: {shown}")


# ----------------------------------------------------------------------------- formula text

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MARKED = re.compile(r"^(?P<pre>.*?)⧛(?P<bad>.*?)⧚(?P<post>.*)$", re.M)


def caret_message(text: str) -> str:
    """A formulaic message with its ``⧛token⧚`` marks turned into a caret line
    under the bad token (terminal colour codes removed)."""
    text = _ANSI.sub("", text)

    def mark(m):
        line = m.group("pre") + m.group("bad") + m.group("post")
        width = max(len(m.group("bad")), 1)
        return f"  {line}\n  {' ' * len(m.group('pre'))}{'^' * width}"

    return _MARKED.sub(mark, text)


def formula_error(what: str, formula: str, exc: Exception) -> FormulaError:
    return FormulaError(f"cannot parse the {what} {formula!r}: {caret_message(str(exc))}")


# ----------------------------------------------------------------------------- data


def _nonfinite_counts(data: pd.DataFrame, cols) -> tuple[dict[str, int], dict[str, int]]:
    """Per column: rows with a missing value, rows with ±inf."""
    missing, infinite = {}, {}
    for c in cols:
        s = data[c]
        na = s.isna().to_numpy()
        inf = np.zeros(len(s), bool)
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            inf = np.isinf(vals)
        if na.any():
            missing[str(c)] = int(na.sum())
        if inf.any():
            infinite[str(c)] = int(inf.sum())
    return missing, infinite


def excluded_rows_diagnostic(data: pd.DataFrame, cols, n_used: int) -> Diagnostic | None:
    """The ``rows-excluded`` finding: how many rows were not used and why."""
    n_read = len(data)
    if n_used == n_read:
        return None
    missing, infinite = _nonfinite_counts(data, cols)
    parts = []
    if missing:
        parts.append("missing values in " + ", ".join(f"{c!r} ({k} row{'s' if k != 1 else ''})" for c, k in missing.items()))
    if infinite:
        parts.append("infinite values in " + ", ".join(f"{c!r} ({k} row{'s' if k != 1 else ''})" for c, k in infinite.items()))
    return Diagnostic(
        "rows-excluded", "warning" if infinite else "info",
        f"{n_read - n_used} of {n_read} rows were not used (Number of Observations Used: {n_used}): "
        + "; ".join(parts) + ". Such rows are excluded, never imputed; infinite values are treated as missing.",
        tuple(sorted(set(missing) | set(infinite))),
        "Check the infinite values: they usually come from a transformation (log of 0, division by 0)."
        if infinite else "",
    )


def no_complete_row_error(data: pd.DataFrame, cols) -> DataError:
    missing, infinite = _nonfinite_counts(data, cols)
    worst = sorted(set(missing) | set(infinite), key=lambda c: -(missing.get(c, 0) + infinite.get(c, 0)))
    detail = ", ".join(f"{c!r}: {missing.get(c, 0) + infinite.get(c, 0)} of {len(data)} missing or infinite"
                       for c in worst[:5])
    return DataError(f"no row has a finite value in every column the model uses ({detail}); nothing to fit")


def check_response(y: np.ndarray, response: str) -> None:
    """A response with no variation among the rows used cannot be fitted."""
    if y.size and np.all(y == y[0]):
        raise DataError(
            f"the response {response!r} has the same value ({y[0]:g}) in all {y.size} rows used; "
            "a mixed model needs variation in the response"
        )


def _has_constant_column(z: np.ndarray) -> bool:
    return bool(z.shape[0]) and any(np.all(z[:, j] == z[0, j]) and z[0, j] != 0 for j in range(z.shape[1]))


def check_subjects(design) -> list[Diagnostic]:
    """Subject columns with one level or only single-row levels (see the module docstring)."""
    found = []
    rep = design.repeated
    default_r = (
        rep.statement.type == "VC" and not rep.statement.group and getattr(design, "weights", None) is None
    )
    for k, r in enumerate(design.randoms):
        st = r.statement
        if not st.subject_parts:
            continue
        counts = np.bincount(r.subject)
        counts = counts[counts > 0]
        label = f"RANDOM statement {k + 1} (subject={st.subject!r})"
        if len(counts) == 1:
            found.append(Diagnostic(
                "one-subject", "warning",
                f"{label}: the subject column has a single level in the {design.n_used} rows used, so the variance "
                "of these random effects rests on one draw and is confounded with the fixed effects of the same "
                "columns; it is usually estimated on its bound 0.",
                (st.subject,),
                "Drop the RANDOM statement, or check that the subject column is the one intended.",
            ))
        elif counts.max() == 1:
            if default_r and _has_constant_column(r.z):
                raise DataError(
                    f"{label}: each of the {len(counts)} subject levels has a single row, so the random intercept "
                    "variance and the residual variance are the same parameter and cannot be estimated separately; "
                    "remove the RANDOM statement (its effect is already the residual), or check the subject column"
                )
            found.append(Diagnostic(
                "singleton-subjects", "warning",
                f"{label}: each of the {len(counts)} subject levels has a single row; the random-effect variance "
                "is identified only through the residual structure and may be poorly determined.",
                (st.subject,),
            ))
    return found


def check_parameter_count(n_params: int, n_used: int, rank_x: int, method: str) -> None:
    """More covariance parameters than the data can carry is an error (REML counts N − rank X)."""
    n_eff = n_used - (rank_x if method == "REML" else 0)
    if n_params > n_eff:
        what = f"{n_used} observations used" + (f" less rank(X) = {rank_x}" if method == "REML" else "")
        raise DataError(
            f"the model has {n_params} covariance parameters but only {n_eff} residual degrees of freedom "
            f"({what}); simplify the covariance structure or supply more data"
        )


def check_block_sizes(design, limit: int) -> None:
    """One subject larger than the dense per-subject path allows, named by column and level
    (before block building, which would only see one large block)."""
    subjects = [(f"RANDOM subject={r.statement.subject!r}", r.subject, r.subject_levels)
                for r in design.randoms if r.statement.subject_parts]
    rep = design.repeated
    if rep.statement.subject_parts:
        subjects.append((f"REPEATED subject={rep.statement.subject!r}", rep.subject, rep.subject_levels))
    elif rep.statement.type != "VC":
        subjects.append(("REPEATED without subject= (the whole data is one subject)", rep.subject, ("all rows",)))
    for r in design.randoms:
        if not r.statement.subject_parts:
            subjects.append((f"RANDOM {r.statement.effects!r} without subject= (the whole data is one subject)",
                             r.subject, ("all rows",)))
    from .errors import UnsupportedOptionError

    for label, codes, levels in subjects:
        counts = np.bincount(codes[codes >= 0]) if codes.size else np.zeros(0, int)
        if counts.size and counts.max() > limit:
            top = int(np.argmax(counts))
            raise UnsupportedOptionError(
                f"{label}: level {levels[top]!r} has {int(counts.max())} rows; the dense per-subject path "
                f"handles at most {limit} rows per subject (its V_i is stored as a dense matrix)"
            )


def precision_diagnostic(dtype) -> Diagnostic | None:
    """A fit computed in single precision (JAX x64 turned off) is flagged."""
    if np.dtype(dtype) == np.float64:
        return None
    return Diagnostic(
        "low-precision", "warning",
        f"The fit was computed in {np.dtype(dtype).name} because JAX's 64-bit mode is off; estimates carry about "
        "7 significant digits and the convergence criterion may not be reachable.",
        suggestion="Leave jax_enable_x64 on (jaxmixed turns it on at import) for results comparable with PROC MIXED.",
    )


# ----------------------------------------------------------------------------- BY groups


def levels_across_groups(data: pd.DataFrame, by, columns) -> dict[str, dict[str, list]]:
    """For BY processing: the levels of each classification column absent from some BY group.

    Returns ``{column: {by_group_label: [levels missing from that group]}}``
    (empty when every group has every level).  PROC MIXED fits each BY group
    on its own levels, so this is information, not an error: a level absent
    from a group has no fixed-effect column there, and tables of different
    groups then have different rows.  Raises :class:`DataError` for an
    unknown column.
    """
    by = [by] if isinstance(by, str) else list(by)
    for c in list(by) + list(columns):
        if c not in data.columns:
            raise unknown_column_error(c, "the BY check", data.columns)
    out: dict[str, dict[str, list]] = {}
    groups = data.groupby(by, sort=True, dropna=False, observed=True)
    for c in columns:
        every = set(data[c].dropna().unique())
        gaps = {}
        for key, sub in groups:
            key = key if isinstance(key, tuple) else (key,)
            absent = every - set(sub[c].dropna().unique())
            if absent:
                label = ", ".join(f"{b}={v}" for b, v in zip(by, key))
                gaps[label] = sorted(absent, key=str)
        if gaps:
            out[str(c)] = gaps
    return out


# ----------------------------------------------------------------------------- the fit's entry


def check_model(design, layout) -> list[Diagnostic]:
    """The checks that need both the design and the layout, run before block
    building; returns the findings to attach to the result."""
    from .blocks import MAX_DENSE_BLOCK

    check_parameter_count(layout.n_params, design.n_used, int(design.x.shape[1]), layout.method)
    if getattr(layout, "path", "blocks") == "blocks":
        check_block_sizes(design, MAX_DENSE_BLOCK)
    return list(design.notes) + check_subjects(design)


def with_findings(result, findings, dtype):
    """``result`` with the validation findings (and a precision warning) added to its diagnostics."""
    import dataclasses

    extra = list(findings)
    low = precision_diagnostic(dtype)
    if low is not None:
        extra.append(low)
    if not extra:
        return result
    return dataclasses.replace(result, diagnostics=tuple(extra) + tuple(result.diagnostics))
