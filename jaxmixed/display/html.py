"""The fit as HTML for notebooks (``MixedResult._repr_html_``): the headline
numbers, then Covariance Parameter Estimates, Fit Statistics and Solution for
Fixed Effects as tables."""

from __future__ import annotations

import html

import numpy as np


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "."
        return f"{v:.4E}" if v != 0 and (abs(v) >= 1e8 or abs(v) < 1e-4) else f"{v:.4f}"
    return html.escape(str(v))


def _table(title: str, df, index: bool = False) -> str:
    df = df.reset_index() if index else df
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False)
    )
    return (f"<table><caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def result_html(fit) -> str:
    status = "converged" if fit.converged else "NOT converged"
    colour = "#2a7" if fit.converged else "#c33"
    label = "-2 Res Log Likelihood" if fit.method == "REML" else "-2 Log Likelihood"
    head = (f"<p><b>jaxmixed MixedResult</b> — {html.escape(fit.method)}, "
            f"<span style='color:{colour}'>{status}</span> after {fit.iterations} iterations; "
            f"{label} = {fit.minus2ll:.4f}; {fit.n_used} of {fit.n_obs} observations used, "
            f"{fit.n_subjects} subjects.</p>")
    parts = [head, _table("Covariance Parameter Estimates", fit.covparms),
             _table("Fit Statistics", fit.fit_stats), _table("Solution for Fixed Effects", fit.fixed, index=True)]
    if fit.diagnostics:
        items = "".join(f"<li>{html.escape(str(d))}</li>" for d in fit.diagnostics)
        parts.append(f"<p><b>Diagnostics</b></p><ul>{items}</ul>")
    return "<div class='jaxmixed-result'>" + "".join(parts) + "</div>"
