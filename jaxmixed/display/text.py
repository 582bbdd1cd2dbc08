"""Plain-text summary laid out as PROC MIXED prints its tables."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "."
        if v != 0 and (abs(v) >= 1e8 or abs(v) < 1e-4):
            return f"{v:.4E}"
        return f"{v:.4f}"
    return str(v)


def _table(title: str, df: pd.DataFrame, index: bool = False, pvals=()) -> str:
    df = df.reset_index() if index else df
    cols = list(df.columns)
    cells = [[str(c) for c in cols]]
    for row in df.itertuples(index=False):
        out = []
        for c, v in zip(cols, row):
            if c in pvals and isinstance(v, (float, np.floating)) and not np.isnan(v):
                out.append("<.0001" if v < 1e-4 else f"{v:.4f}")
            else:
                out.append(_fmt(v))
        cells.append(out)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = [title.center(max(len(title), sum(widths) + 2 * (len(cols) - 1))), ""]
    for k, r in enumerate(cells):
        parts = []
        for i, v in enumerate(r):
            numeric = k > 0 and not isinstance(df.iloc[k - 1, i], str)
            parts.append(v.rjust(widths[i]) if numeric or (k == 0 and i > 0) else v.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def class_levels(design) -> pd.DataFrame:
    """Class Level Information: each classification variable (subjects, string or
    ``C(...)`` columns of the fixed formula), its number of levels and the levels."""
    import re

    frame = design.frame
    if frame is None:
        return pd.DataFrame(columns=["Class", "Levels", "Values"])
    names: list[str] = []
    for st in [r.statement for r in design.randoms] + [design.repeated.statement]:
        for col in (st.subject or "").split(":"):
            if col:
                names.append(col.strip())
        if getattr(st, "group", None):
            names.append(st.group)
    fixed = design.fixed_formula.partition("~")[2]
    names += re.findall(r"C\(\s*([A-Za-z_][A-Za-z0-9_.]*)", fixed)
    for col in frame.columns:
        if re.search(rf"(?<![A-Za-z0-9_.]){re.escape(str(col))}(?![A-Za-z0-9_.])", fixed) and not \
                pd.api.types.is_numeric_dtype(frame[col]):
            names.append(str(col))
    rows = []
    for col in dict.fromkeys(n for n in names if n in frame.columns):
        levels = sorted(pd.unique(frame[col].dropna()), key=lambda v: (str(type(v)), v))
        shown = " ".join(map(str, levels[:20])) + (" ..." if len(levels) > 20 else "")
        rows.append({"Class": col, "Levels": len(levels), "Values": shown})
    return pd.DataFrame(rows, columns=["Class", "Levels", "Values"])


def summary_text(res) -> str:
    """The summary: Model Information through Type 3 Tests, as PROC MIXED orders them."""
    parts = ["The Mixed Procedure (jaxmixed)", ""]
    parts.append(_table("Model Information", res.model_info))
    inf = getattr(res, "_inf", None)
    levels = class_levels(inf.design) if inf is not None else None
    if levels is not None and len(levels):
        parts.append(_table("Class Level Information", levels))
    parts.append(_table("Dimensions", res.dimensions))
    nobs = pd.DataFrame({"Descr": ["Number of Observations Read", "Number of Observations Used",
                                   "Number of Observations Not Used"],
                         "Value": [res.n_obs, res.n_used, res.n_obs - res.n_used]})
    parts.append(_table("Number of Observations", nobs))
    hist = res.iteration_history.drop(columns=["Ridge"])
    if "Note" in hist and not hist["Note"].astype(bool).any():
        hist = hist.drop(columns=["Note"])
    parts.append(_table("Iteration History", hist))
    parts.append(f"Convergence status: {res.status}")
    cp = res.covparms.drop(columns=["Bound"])
    parts.append(_table("Covariance Parameter Estimates", cp, pvals=("ProbZ",)))
    parts.append(_table("Fit Statistics", res.fit_stats))
    parts.append(_table("Solution for Fixed Effects", res.fixed, index=True, pvals=("Probt",)))
    type3 = res.type3() if getattr(res, "_inf", None) is not None else None
    if type3 is not None and len(type3):
        parts.append(_table("Type 3 Tests of Fixed Effects", type3, pvals=("ProbF",)))
    if res.diagnostics:
        parts.append("Diagnostics (fit.diagnose() for details)\n\n" + "\n".join(d.brief() for d in res.diagnostics))
    return "\n\n".join(parts) + "\n"
