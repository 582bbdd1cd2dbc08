"""The immutable result of a fit, with tables named and laid out as PROC MIXED's.

Fit statistics follow PROC MIXED's conventions (documentation, "Information
Criteria"): with d the number of covariance parameters not on a bound (plus
rank X under ML), n* = N − rank X under REML and N under ML, and s the number
of subjects,

    AIC = −2ℓ + 2d,  AICC = −2ℓ + 2d n*/(n* − d − 1),  BIC = −2ℓ + d log s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .diagnostics import Diagnostic  # noqa: F401  (re-exported for older imports)

#: a variance this small relative to the largest one is reported on its bound 0
BOUND_TOL = 1e-9


@dataclass(frozen=True)
class MixedResult:
    """Everything a fit produced.  Tables are returned as copies, so the result
    cannot be changed after the fact."""

    method: str
    minus2ll: float
    converged: bool
    status: str
    n_obs: int
    n_used: int
    n_subjects: int
    iterations: int
    theta: np.ndarray
    beta: np.ndarray
    cov_beta: np.ndarray
    _covparms: pd.DataFrame = field(repr=False)
    _fixed: pd.DataFrame = field(repr=False)
    _fit_stats: pd.DataFrame = field(repr=False)
    _history: pd.DataFrame = field(repr=False)
    _dimensions: pd.DataFrame = field(repr=False)
    _model_info: pd.DataFrame = field(repr=False)
    _asycov: pd.DataFrame = field(repr=False)
    _g_blocks: tuple = field(repr=False)
    _v_block: object = field(repr=False)
    diagnostics: tuple[Diagnostic, ...] = ()
    #: denominator degrees of freedom method of the ``fixed`` table (DDFM=)
    ddfm: str = "residual"
    _inf: object = field(default=None, repr=False, compare=False)
    #: PROC MIXED's Parameter Search table of a ``parms=`` grid (None without a grid)
    parms_grid: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    #: for a result read by ``jm.load``: versions, model specification and data fingerprint
    provenance: dict | None = field(default=None, repr=False, compare=False)

    def save(self, path, *, with_data: bool = True):
        """Write the result to one file that ``jm.load`` reads back exactly (jaxmixed.persist)."""
        from .persist import save

        return save(self, path, with_data=with_data)

    @property
    def loglik(self) -> float:
        return -0.5 * self.minus2ll

    def _stat(self, name):
        return float(self._fit_stats.set_index("Descr").loc[name, "Value"])

    @property
    def aic(self) -> float:
        return self._stat("AIC (Smaller is Better)")

    @property
    def aicc(self) -> float:
        return self._stat("AICC (Smaller is Better)")

    @property
    def bic(self) -> float:
        return self._stat("BIC (Smaller is Better)")

    @property
    def covparms(self) -> pd.DataFrame:
        """Covariance Parameter Estimates: CovParm, Subject, Group, Estimate, StdErr."""
        return self._covparms.copy()

    @property
    def fixed(self) -> pd.DataFrame:
        """Solution for Fixed Effects, indexed by R-style coefficient name."""
        return self._fixed.copy()

    @property
    def fit_stats(self) -> pd.DataFrame:
        return self._fit_stats.copy()

    @property
    def iteration_history(self) -> pd.DataFrame:
        return self._history.copy()

    @property
    def dimensions(self) -> pd.DataFrame:
        return self._dimensions.copy()

    @property
    def model_info(self) -> pd.DataFrame:
        return self._model_info.copy()

    @property
    def asycov(self) -> pd.DataFrame:
        """Asymptotic covariance of the covariance parameters (2 H⁻¹, observed)."""
        return self._asycov.copy()

    @property
    def G(self) -> pd.DataFrame:
        """G for the first subject (block), rows and columns labelled effect/subject."""
        return self._g_blocks[0].copy()

    @property
    def gcorr(self) -> pd.DataFrame:
        """G of the first subject as a correlation matrix (PROC MIXED's GCORR)."""
        return _cov_to_corr(self.G)

    def R(self, subject: int | str = 0) -> pd.DataFrame:
        """R_i, the REPEATED-side covariance of one subject (by position or level)."""
        return self._v_block(subject, r_only=True)

    def rcorr(self, subject: int | str = 0) -> pd.DataFrame:
        """R_i as a correlation matrix (RCORR)."""
        return _cov_to_corr(self.R(subject))

    def vcorr(self, subject: int | str = 0) -> pd.DataFrame:
        """V_i as a correlation matrix (VCORR)."""
        return _cov_to_corr(self.V(subject))

    def V(self, subject: int | str = 0) -> pd.DataFrame:
        """Marginal covariance V_i of one subject: by position (default the
        first) or by a level of a RANDOM or REPEATED subject column."""
        return self._v_block(subject)

    # ---- inference (jaxmixed.inference) --------------------------------
    def _ddfm(self, ddfm):
        from .inference import normalize

        return self.ddfm if ddfm is None else normalize(ddfm)

    def type3(self, ddfm: str | None = None) -> pd.DataFrame:
        """Type 3 Tests of Fixed Effects: Effect, NumDF, DenDF, FValue, ProbF.

        ``ddfm`` (default: the fit's) is one of "residual", "contain", "bw",
        "satterthwaite", "kr"."""
        from .inference.type3 import type3_table

        return type3_table(self._inf, self._ddfm(ddfm))

    def estimate(self, L, label=None, ddfm: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
        """ESTIMATE: L'β with its standard error, t test and confidence limits.

        ``L``: coefficients over the columns of ``fixed`` (a sequence, a matrix
        with one row per estimate, or a dict/Series by name)."""
        from .inference.estimate import estimate

        return estimate(self._inf, L, label=label, ddfm=self._ddfm(ddfm), alpha=alpha)

    def contrast(self, L, label=None, ddfm: str | None = None) -> pd.DataFrame:
        """CONTRAST: the F test of Lβ = 0 for the rows of L together."""
        from .inference.estimate import contrast

        return contrast(self._inf, L, label=label, ddfm=self._ddfm(ddfm))

    def lsmeans(self, effect: str, diff: bool = False, adjust: str | None = None, ddfm: str | None = None,
                alpha: float = 0.05):
        """LSMEANS for a classification effect (``"Variety"``, ``"nitro_f:Variety"``).

        Returns the Least Squares Means table; with ``diff=True`` an object with
        ``.means`` and ``.diffs`` (all pairwise differences; ``adjust="tukey"``
        or ``"bonferroni"`` adds adjusted p-values)."""
        from .inference.estimate import lsmeans

        return lsmeans(self._inf, effect, diff=diff, adjust=adjust, ddfm=self._ddfm(ddfm), alpha=alpha)

    @property
    def random_effects(self) -> pd.DataFrame:
        """Solution for Random Effects: EBLUPs b̂ = G Z'V⁻¹(y − Xβ̂) per effect and
        subject level, with prediction standard errors."""
        return self._inf.random_solution["table"].copy()

    def predicted(self, kind: str = "conditional") -> pd.Series:
        """Predicted values, ``"conditional"`` (Xβ̂ + Zb̂) or ``"marginal"`` (Xβ̂),
        indexed by the row of the input data."""
        from .inference.blups import predicted

        return predicted(self._inf, kind)

    def residuals(self, kind: str = "conditional", type: str = "raw") -> pd.Series:
        """Residuals, conditional or marginal; ``type`` "raw", "pearson" or "studentized"."""
        from .inference.blups import residuals

        return residuals(self._inf, kind, type)

    def diagnose(self, file=None) -> str:
        """Print (and return) a short plain-language report of ``diagnostics``."""
        from .diagnostics.report import report

        text = report(self)
        print(text, file=file)
        return text

    def summary(self) -> str:
        from .display.text import summary_text

        return summary_text(self)

    def lme4(self) -> str:
        """The fit as lme4's ``summary()`` prints it (``print(fit.lme4())``)."""
        from .display.lme4 import lme4_text

        return lme4_text(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from .display.html import result_html

        return result_html(self)


# ---------------------------------------------------------------------------


def _covparm_table(layout, design, theta, se, at_bound):
    rows = []
    for kind, sl in zip(layout.g_kinds, layout.slices()):
        for name in kind.structure.param_names():
            rows.append({"CovParm": name, "Subject": kind.subject, "Group": _group_label(design.randoms[kind.statement].statement.group, kind.group_level)})
    r_rows = []
    for lvl, s in zip(layout.r_group_levels, layout.r_structures):
        names = list(s.param_names())
        if s.scale_index is not None:
            names[s.scale_index] = "Residual"
        for name in names:
            r_rows.append({"CovParm": name, "Subject": "" if name == "Residual" else layout.r_subject, "Group": _group_label(design.repeated.statement.group, lvl)})
    rows += r_rows
    table = pd.DataFrame(rows)
    table["Estimate"] = theta
    table["StdErr"] = se
    table["Bound"] = at_bound
    # PROC MIXED lists the residual scale after the structure's other parameters.
    order = list(range(len(rows) - len(r_rows)))
    off = len(order)
    r_order = []
    for lvl, s in zip(layout.r_group_levels, layout.r_structures):
        idx = list(range(off, off + s.n_params))
        if s.scale_index is not None:
            sc = idx.pop(s.scale_index)
            idx.append(sc)
        r_order += idx
        off += s.n_params
    table = table.iloc[order + r_order].reset_index(drop=True)
    if not (table["Group"] != "").any():
        table = table.drop(columns="Group")
    return table, np.array(order + r_order)


def _group_label(col, level):
    return f"{col} {level}" if col else ""


def build_result(*, design, layout, blocks, buckets, theta, minus2ll, opt, status_text, start_source,
                 theta_start, natural_hessian, gls_sums, ddfm, covtest=False, held=None,
                 theta_scale=None):
    var = layout.variance_mask()
    # "Tiny" is judged on the internally scaled data, where variances are comparable
    # (a slope variance in per-second units is not small for being 1e-10 of another).
    rel = theta if theta_scale is None else theta / np.asarray(theta_scale)
    ref = np.max(np.abs(rel[var]), initial=0.0)
    at_bound = var & (rel <= BOUND_TOL * max(ref, 1e-300))
    at_bound = at_bound | _tied_to_bound(layout, at_bound, theta)
    theta = np.where(at_bound, 0.0, theta)
    converged = int(opt.status) == 0

    # Asymptotic covariance of θ: 2 H⁻¹ on the parameters not on a bound.
    k = len(theta)
    asy = np.full((k, k), np.nan)
    # held parameters (HOLD=, NOITER) are known constants: no standard error, not in the ASYCOV
    fixed_par = at_bound if held is None else (at_bound | np.asarray(held, bool))
    free = ~fixed_par
    notes = []
    if free.any():
        h = natural_hessian
        hf = h[np.ix_(free, free)]
        try:
            vals = np.linalg.eigvalsh(hf)
            if vals.min() > 1e-10 * max(abs(vals).max(), 1e-300):
                asy[np.ix_(free, free)] = 2.0 * np.linalg.inv(hf)
            else:
                notes.append("hessian-not-pd")
        except np.linalg.LinAlgError:
            notes.append("hessian-not-pd")
    se = np.sqrt(np.where(np.diag(asy) >= 0, np.diag(asy), np.nan))

    covparms, order = _covparm_table(layout, design, theta, se, at_bound)
    if covtest:
        # Wald Z; one-sided p for variances (bounded below by 0), two-sided otherwise.
        z = covparms["Estimate"].to_numpy() / covparms["StdErr"].to_numpy()
        var_o = layout.variance_mask()[order]
        covparms["ZValue"] = z
        covparms["ProbZ"] = np.where(var_o, stats.norm.sf(z), 2 * stats.norm.sf(np.abs(z)))
    labels = [f"{r.CovParm} {r.Subject}".strip() for r in covparms.itertuples()]
    asycov = pd.DataFrame(asy[np.ix_(order, order)], index=labels, columns=labels)

    # Fixed effects by generalised least squares at θ̂.
    _, xvx, xvy, _ = gls_sums
    p_all = len(design.fixed_names)
    cov_b = np.linalg.inv(xvx) if xvx.size else np.zeros((0, 0))
    b = cov_b @ xvy
    est = np.zeros(p_all)
    sev = np.full(p_all, np.nan)
    from .inference import LABELS, InferenceContext, fixed_inference

    inf = InferenceContext(design=design, layout=layout, blocks=blocks, buckets=buckets, theta=theta,
                           at_bound=fixed_par, asy=asy, cov_b=cov_b, beta=b)
    est[~design.aliased] = b
    dfv = np.full(p_all, np.nan)
    sev[~design.aliased], dfv[~design.aliased] = fixed_inference(inf, ddfm)
    t = est / sev
    fixed = pd.DataFrame(
        {"Estimate": est, "StdErr": sev, "DF": dfv, "tValue": t, "Probt": 2 * stats.t.sf(np.abs(t), dfv)},
        index=pd.Index(design.fixed_names, name="Effect"),
    )

    # Fit statistics, PROC MIXED conventions.
    rank_x = int(design.x.shape[1])
    n_star = design.n_used - (rank_x if layout.method == "REML" else 0)
    d = int((~at_bound).sum()) + (rank_x if layout.method == "ML" else 0)
    s = blocks.n_blocks
    label = "-2 Res Log Likelihood" if layout.method == "REML" else "-2 Log Likelihood"
    aicc = minus2ll + 2 * d * n_star / (n_star - d - 1) if n_star - d - 1 > 0 else np.nan
    fit_stats = pd.DataFrame(
        {
            "Descr": [label, "AIC (Smaller is Better)", "AICC (Smaller is Better)", "BIC (Smaller is Better)"],
            "Value": [minus2ll, minus2ll + 2 * d, aicc, minus2ll + d * np.log(s)],
        }
    )

    n_it = int(opt.iterations)
    hist = pd.DataFrame(
        {
            "Iteration": np.arange(n_it + 1),
            "Evaluations": np.asarray(opt.hist_evals)[: n_it + 1].astype(int),
            label: np.asarray(opt.hist_f)[: n_it + 1],
            "Criterion": np.asarray(opt.hist_crit)[: n_it + 1],
            "Ridge": np.asarray(opt.hist_ridge)[: n_it + 1],
        }
    )

    if layout.path == "mme":
        # Crossed subjects: one subject holding all of Z, as PROC MIXED reports it.
        dims = pd.DataFrame(
            {
                "Descr": ["Covariance Parameters", "Columns in X", "Columns in Z", "Subjects", "Max Obs per Subject",
                          "Likelihood Path", "Eliminated Levels", "Columns in Schur Complement"],
                "Value": [k, p_all, blocks.z_columns, s, blocks.max_rows, "sparse MME",
                          blocks.factors[blocks.eliminated].n_levels, blocks.q_rest],
            }
        )
    else:
        dims = pd.DataFrame(
            {
                "Descr": ["Covariance Parameters", "Columns in X", "Columns in Z per Subject", "Subjects",
                          "Max Obs per Subject", "Likelihood Path"],
                "Value": [k, p_all, blocks.max_cols, s, blocks.max_rows, "dense blocks"],
            }
        )
    info = pd.DataFrame(
        {
            "Descr": ["Dependent Variable", "Covariance Structures", "Estimation Method", "Residual Variance Method",
                      "Fixed Effects SE Method", "Degrees of Freedom Method", "Starting Values"],
            "Value": [
                design.response,
                ", ".join(dict.fromkeys(st.name for st in layout.structures)),
                layout.method,
                "Profile" if layout.profile else "Parameter",
                "Kenward-Roger" if ddfm == "kr" else "Model-Based",
                LABELS[ddfm],
                start_source,
            ],
        }
    )

    # Findings about the fit are added by jaxmixed.diagnostics (they need the whole result).
    diags = []

    g_blocks = (_g_first(layout, design, blocks, buckets, theta) if layout.path != "mme"
                else _g_statements(layout, design, theta),)

    def v_block(i, r_only=False):
        if layout.path == "mme":
            from .errors import UnsupportedOptionError

            raise UnsupportedOptionError(
                "V(subject), R(subject), vcorr and rcorr need per-subject blocks of V, which the sparse "
                "mixed-model-equations path (crossed random effects) never forms"
            )
        if isinstance(i, str):
            i = _block_of_level(design, blocks, i)
        if r_only:  # with every G parameter at 0, V_i is R_i
            n_g = int(layout.offsets[len(layout.g_kinds)])
            return _v_of_block(layout, blocks, buckets, np.concatenate([np.zeros(n_g), theta[n_g:]]), i)
        return _v_of_block(layout, blocks, buckets, theta, i)

    return MixedResult(
        method=layout.method,
        minus2ll=float(minus2ll),
        converged=converged,
        status=status_text,
        n_obs=design.n_read,
        n_used=design.n_used,
        n_subjects=s,
        iterations=n_it,
        theta=theta[order],
        beta=est,
        cov_beta=cov_b,
        _covparms=covparms,
        _fixed=fixed,
        _fit_stats=fit_stats,
        _history=hist,
        _dimensions=dims,
        _model_info=info,
        _asycov=asycov,
        _g_blocks=g_blocks,
        _v_block=v_block,
        diagnostics=tuple(diags),
        ddfm=ddfm,
        _inf=inf,
    )


def _tied_to_bound(layout, at_bound, theta):
    """Covariances UN(i,j) of a UN block whose variance UN(i,i) or UN(j,j) is on
    its bound 0: positive semi-definiteness forces them to 0 as well, so they
    are on the boundary too (not free parameters with a flat likelihood)."""
    tied = np.zeros(len(theta), bool)
    for s, sl in zip(layout.structures, layout.slices()):
        if s.name != "UN" or s.dim < 2 or not s.variance_mask().any():
            continue
        rows, cols = np.tril_indices(s.dim)
        diag_pos = {i: k for k, (i, j) in enumerate(zip(rows, cols)) if i == j}
        for k, (i, j) in enumerate(zip(rows, cols)):
            if i != j and (at_bound[sl.start + diag_pos[i]] or at_bound[sl.start + diag_pos[j]]):
                tied[sl.start + k] = True
    return tied


def _block_of_level(design, blocks, level: str) -> int:
    subjects = [(r.subject, r.subject_levels) for r in design.randoms]
    subjects.append((design.repeated.subject, design.repeated.subject_levels))
    for codes, levels in subjects:
        if level in levels:
            row = int(np.flatnonzero(codes == levels.index(level))[0])
            return int(blocks.block_of_row[row])
    raise KeyError(f"no subject level {level!r} in the model's RANDOM or REPEATED subjects")


def _locate(blocks, i):
    for bi, members in enumerate(blocks.bucket_members):
        hit = np.flatnonzero(members == i)
        if hit.size:
            return bi, int(hit[0])
    raise IndexError(f"block {i} does not exist; the fit has {blocks.n_blocks} subjects")


def _g_first(layout, design, blocks, buckets, theta):
    import jax.numpy as jnp

    from .likelihood import _g_stack

    bi, j = _locate(blocks, 0)
    b = buckets[bi]
    gstack = np.asarray(_g_stack(jnp.asarray(theta), layout))
    valid = np.asarray(b["zvalid"][j]) > 0
    kind, eff, slot = (np.asarray(b[k][j])[valid] for k in ("zkind", "zeff", "zslot"))
    g = gstack[kind[:, None], eff[:, None], eff[None, :]] * (slot[:, None] == slot[None, :])
    labels = []
    for kk, e in zip(kind, eff):
        gk = layout.g_kinds[kk]
        labels.append(design.randoms[gk.statement].names[e])
    return pd.DataFrame(g, index=labels, columns=labels)


def _g_statements(layout, design, theta):
    """G of one level of each RANDOM statement, side by side (crossed subjects
    have no single first subject)."""
    import jax.numpy as jnp
    from scipy.linalg import block_diag

    from .likelihood import _g_stack

    gstack = np.asarray(_g_stack(jnp.asarray(theta), layout))
    mats, labels = [], []
    for kk, gk in enumerate(layout.g_kinds):
        r = design.randoms[gk.statement]
        d = len(r.names)
        mats.append(gstack[kk][:d, :d])
        labels += [f"{r.names[e]} {r.statement.subject or ''}".strip() for e in range(d)]
    g = block_diag(*mats) if mats else np.zeros((0, 0))
    return pd.DataFrame(g, index=labels, columns=labels)


def _cov_to_corr(cov: pd.DataFrame) -> pd.DataFrame:
    """Correlations from a covariance table; a zero variance gives NaN in its row."""
    sd = np.sqrt(np.diag(cov.to_numpy()))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov.to_numpy() / np.outer(sd, sd)
    return pd.DataFrame(corr, index=cov.index, columns=cov.columns)


def _v_of_block(layout, blocks, buckets, theta, i):
    import jax.numpy as jnp

    from .likelihood import block_v

    bi, j = _locate(blocks, i)
    b = {k: v[j : j + 1] for k, v in buckets[bi].items()}
    v = np.asarray(block_v(jnp.asarray(theta), b, layout))[0]
    rows = blocks.rows_of_block[i]
    v = v[: len(rows), : len(rows)]
    labels = [f"Row {r + 1}" for r in range(len(rows))]
    return pd.DataFrame(v, index=labels, columns=labels)
