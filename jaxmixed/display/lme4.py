"""The fit printed as lme4's ``summary(lmer(...))`` lays it out.

Sections: the method line, the REML criterion (−2ℓ), quantiles of the scaled
residuals (conditional residuals over the residual standard deviation, lme4's
``resid(fit, scaled = TRUE)``; quantiles by R's default type 7), the random
effects as variances, standard deviations and correlations per grouping factor,
the number of observations and groups, the fixed effects with t values, and the
correlation of the fixed effects.

Numbers are shown with the digits lme4 prints: in the Variance and Std.Dev.
columns enough decimals that the smallest entry has 4 significant digits; the
estimates and standard errors share the decimals that give the smallest
standard error 4 significant digits; t values and correlations 3 and 2
decimals.
"""

from __future__ import annotations

import math

import numpy as np


def _decimals(values, digits: int = 4, most: int = 7) -> int:
    """Decimals that give the smallest nonzero |value| ``digits`` significant digits (R's ``format``)."""
    vals = [abs(v) for v in values if v is not None and np.isfinite(v) and v != 0]
    if not vals:
        return 0
    small = min(vals)
    # Significant digits actually needed: trailing zeros are dropped, as R does.
    need = digits - 1 - math.floor(math.log10(small))
    need = max(0, min(most, need))
    while need > 0 and round(small, need) == round(small, need - 1):
        need -= 1
    return need


def _col(values, dec: int) -> list[str]:
    return ["" if v is None or not np.isfinite(v) else f"{v:.{dec}f}" for v in values]


def _grid(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append(" " + " ".join(cells).rstrip())
    return out


def _random_formula(design) -> str:
    terms = []
    for r in design.randoms:
        st = r.statement
        effects = " + ".join("1" if n in ("Intercept", "(Intercept)") else str(n) for n in r.names)
        if "1" not in effects.split(" + "):
            effects = "0 + " + effects
        bar = "||" if (st.type.upper() == "VC" and len(r.names) > 1) else "|"
        terms.append(f"({effects} {bar} {st.subject})")
    return " + ".join(terms)


def _r_label(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else name


def _random_rows(fit) -> list[tuple]:
    """(group, name, value, correlations with the earlier names of the group, is a variance)
    per G entry, then the REPEATED side's parameters."""
    import jax.numpy as jnp

    from ..design import effect_label
    from ..likelihood import _g_stack

    inf = fit._inf
    layout, design = inf.layout, inf.design
    rows = []
    if layout.g_kinds:
        gstack = np.asarray(_g_stack(jnp.asarray(inf.theta), layout))
        for k, gk in enumerate(layout.g_kinds):
            names = [effect_label(n) for n in design.randoms[gk.statement].names]
            g = gstack[k][: len(names), : len(names)]
            sd = np.sqrt(np.clip(np.diag(g), 0, None))
            group = gk.subject or "(none)"
            if gk.group_level not in ("", None):
                group += f" {gk.group_level}"
            for i, name in enumerate(names):
                corr = []
                for j in range(i):
                    den = sd[i] * sd[j]
                    corr.append(g[i, j] / den if den > 0 else math.nan)
                rows.append((group, _r_label(name), float(g[i, i]), corr, True))
    cp = fit.covparms
    n_g = sum(gk.structure.n_params for gk in layout.g_kinds)
    for row, is_var in zip(cp.iloc[n_g:].itertuples(), _r_variance_mask(layout, n_g)):
        label = row.CovParm if row.CovParm != "Residual" else ""
        if "Group" in cp.columns and row.Group:
            label = f"{label} {row.Group}".strip()
        rows.append(("Residual", label, float(row.Estimate), [], bool(is_var)))
    return rows


def _r_variance_mask(layout, n_g: int) -> np.ndarray:
    """Which REPEATED-side rows of ``covparms`` are variances."""
    from ._order import covparm_order

    return layout.variance_mask()[covparm_order(layout)][n_g:]


def _scaled_residual_quantiles(fit) -> np.ndarray:
    r = fit.residuals(kind="conditional", type="pearson").to_numpy(float)
    return np.quantile(r[np.isfinite(r)], [0.0, 0.25, 0.5, 0.75, 1.0])


def lme4_text(fit) -> str:
    """The fit as lme4's ``print(summary(fit))`` shows it."""
    design = fit._inf.design
    method = "REML" if fit.method == "REML" else "maximum likelihood"
    rnd = _random_formula(design)
    formula = design.fixed_formula + (f" + {rnd}" if rnd else "")
    lines = [f"Linear mixed model fit by {method} (jaxmixed)", f"Formula: {formula}", ""]
    if fit.method == "REML":
        lines.append(f"REML criterion at convergence: {fit.minus2ll:.1f}")
    else:
        n_par = len(fit.theta) + int(np.sum(~design.aliased))
        lines.append("     AIC      BIC   logLik deviance")
        aic = fit.minus2ll + 2 * n_par
        bic = fit.minus2ll + n_par * math.log(fit.n_used)
        lines.append(f"{aic:8.1f} {bic:8.1f} {fit.loglik:8.1f} {fit.minus2ll:8.1f}")
    if not fit.converged:
        lines.append(f"Warning: {fit.status}")
    lines.append("")

    q = _scaled_residual_quantiles(fit)
    lines.append("Scaled residuals:")
    lines += _grid([["Min", "1Q", "Median", "3Q", "Max"], [f"{v:.4f}" for v in q]], right={0, 1, 2, 3, 4})
    lines.append("")

    rows = _random_rows(fit)
    var = [r[2] for r in rows]
    sd = [math.sqrt(max(v, 0.0)) if r[4] else math.nan for v, r in zip(var, rows)]
    vcol, scol = _col(var, _decimals(var)), _col(sd, _decimals(sd))
    ncorr = max((len(r[3]) for r in rows), default=0)
    table = [["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (ncorr - 1) if ncorr else [])]
    last = None
    for (group, name, _, corr, _), v, s in zip(rows, vcol, scol):
        cells = [group if group != last else "", name, v, s]
        cells += [f"{c:.2f}" if np.isfinite(c) else "NaN" for c in corr] + [""] * (ncorr - len(corr))
        table.append(cells)
        last = group
    lines.append("Random effects:")
    lines += _grid(table, right=set(range(2, 4 + ncorr)))
    groups = []
    for r in design.randoms:
        name = r.statement.subject
        if name and name not in [g[0] for g in groups]:
            groups.append((name, len(r.subject_levels)))
    gtext = "; ".join(f"{n}, {k}" for n, k in groups)
    lines.append(f"Number of obs: {fit.n_used}" + (f", groups:  {gtext}" if gtext else ""))
    lines.append("")

    fx = fit.fixed
    dec = _decimals(fx["StdErr"].to_numpy(float))
    ftab = [["", "Estimate", "Std. Error", "t value"]]
    for name, row in fx.iterrows():
        ftab.append([str(name), *_col([row.Estimate, row.StdErr], dec), *_col([row.tValue], 3)])
    lines.append("Fixed effects:")
    lines += [ln[1:] for ln in _grid(ftab, right={1, 2, 3})]

    names = [str(n) for n, a in zip(fx.index, design.aliased) if not a]
    cov = np.asarray(fit.cov_beta)
    if len(names) > 12:  # lme4 leaves large ones out too
        lines += ["", f"Correlation matrix not shown, as p = {len(names)} > 12; see fit.cov_beta."]
    elif len(names) > 1:
        sdb = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sdb, sdb)
        short = [n[:6] for n in names]
        ctab = [[""] + short[:-1]]
        for i in range(1, len(names)):
            ctab.append([names[i]] + [f"{corr[i, j]:.3f}" for j in range(i)] + [""] * (len(names) - 1 - i))
        lines.append("")
        lines.append("Correlation of Fixed Effects:")
        lines += [ln[1:] for ln in _grid(ctab, right=set(range(1, len(names))))]
    return "\n".join(lines) + "\n"
