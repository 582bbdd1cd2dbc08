"""``jm.mixed``: formula and data in, an immutable :class:`MixedResult` out.

The pipeline is formula -> design -> blocks -> MIVQUE0 start -> Newton on
the profiled −2ℓ -> natural parameters, their asymptotic covariance (twice
the inverse Hessian of −2ℓ in the natural parameters, PROC MIXED's ASYCOV)
and the generalised least-squares fixed effects.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .blocks import choose_path, make_blocks, make_layout
from .design import build_design
from .diagnostics.run import finish
from .errors import SpecificationError, UnsupportedOptionError
from .formula import Random, Repeated
from .inference import default_ddfm
from .inference import normalize as normalize_ddfm
from .optimize.driver import Options, estimate, unbounded
from .optimize.parms import bounds_option
from .results import build_result
from .validate import check_model, with_findings

_METHODS = ("REML", "ML", "MIVQUE0")


def mixed(
    fixed: str,
    data,
    random: list[Random] | Random | None = None,
    repeated: Repeated | None = None,
    method: str = "REML",
    *,
    ddfm: str | None = None,
    covtest: bool = False,
    weights: str | None = None,
    maxiter: int = 50,
    maxfunc: int = 150,
    convh: float | None = None,
    noprofile: bool = False,
    scoring: int = 0,
    parms=None,
    by: str | list[str] | None = None,
    convf: float | None = None,
    convg: float | None = None,
    absolute: bool = False,
    hold=None,
    noiter: bool = False,
    nobound: bool = False,
    lowerb=None,
    upperb=None,
    scale: bool = True,
    path: str = "auto",
    verbose: bool = False,
):
    """Fit a linear mixed model as PROC MIXED does.

    Parameters
    ----------
    fixed : str
        Fixed-effects formula (``"y ~ x + C(g)"``); lme4 bars such as
        ``(Days | Subject)`` add RANDOM statements.
    data : pandas.DataFrame
    random : jm.Random or list of them
        RANDOM statements (G side).
    repeated : jm.Repeated, optional
        REPEATED statement (R side); default σ² I.
    method : "REML", "ML" or "MIVQUE0" (the non-iterative estimator alone; fixed
        effects by GLS at its values, −2 Res Log Likelihood evaluated there)
    ddfm : denominator degrees of freedom method (DDFM=) for the ``fixed`` table
        and the default of ``type3``, ``estimate``, ``contrast``, ``lsmeans``:
        ``"contain"`` (containment), ``"bw"`` (between-within), ``"residual"``
        (N − rank X), ``"satterthwaite"``, ``"kr"`` (Kenward–Roger: also the
        adjusted standard errors).  Default as PROC MIXED: ``"contain"``, or
        ``"bw"`` with a REPEATED ``subject=`` and no RANDOM statement.
    weights : column of positive weights w (PROC MIXED's WEIGHT statement):
        R_i becomes W^-1/2 R_i W^-1/2, G is unchanged.  Rows with a missing
        weight are not used; a weight <= 0 is an error.
    covtest : add Wald Z and its p-value (ZValue, ProbZ) to ``covparms``
        (COVTEST; one-sided for variances).
    maxiter, maxfunc : Newton iteration and function-evaluation limits.
    convh, convf, convg, absolute : convergence criteria (PROC MIXED's CONVH,
        CONVF, CONVG, ABSOLUTE; see ``optimize/criteria.py``).  Converged when
        any named one is met; CONVH=1e-8 when none is named.
    noprofile : keep the residual variance in the optimisation (NOPROFILE).
    scoring : use Fisher scoring (expected information) for the first
        ``scoring`` iterations (SCORING=).
    parms : starting values of the covariance parameters instead of MIVQUE0
        (PARMS): a sequence in the order of ``covparms``; a dict by CovParm name
        (or "CovParm Subject [Group]" label, or position) whose values may be
        lists, giving a grid searched in one vectorised evaluation (the table
        is ``fit.parms_grid``; unnamed parameters take their MIVQUE0 values);
        or an earlier MixedResult of the same model, to resume from.
    hold : parameters (names or positions in ``covparms``) fixed at their
        ``parms`` values (HOLD=); ``noiter=True`` fixes all of them (NOITER).
    nobound : lift the bounds: variances may be negative (NOBOUND).
    lowerb, upperb : other bounds (LOWERB=, UPPERB=) are not supported.
    scale : optimise on internally rescaled data (exactly undone; see
        ``scaling.py``); ``False`` only for testing.
    verbose : show each Newton iteration (−2ℓ, criterion) while fitting, on
        stderr (:mod:`jaxmixed.progress`).

    by : column or list of columns (PROC MIXED's BY statement): the model is
        fitted separately to every group of rows, all groups batched; rows
        with a missing BY value are not used.  Returns a
        :class:`jaxmixed.byresult.ByResult`.
    path : how the likelihood is computed.  ``"blocks"``: V is block-diagonal
        by the coarsest subject and each block is factored densely (nested
        subjects).  ``"mme"``: the sparse mixed model equations over all of Z,
        for crossed random effects (any number of RANDOM statements with a VC
        residual, weights allowed).  ``"auto"`` (default) takes ``"mme"`` when
        the RANDOM subjects do not nest in one coarsest factor.

    Returns
    -------
    MixedResult (ByResult with ``by=``)
    """
    method = str(method).upper()
    if method not in _METHODS:
        raise SpecificationError(f"method={method!r} is not known; use one of {', '.join(_METHODS)}")
    if ddfm is not None:
        ddfm = normalize_ddfm(ddfm)
    if not (isinstance(maxiter, int) and maxiter >= 0):
        raise SpecificationError(f"maxiter must be a non-negative integer, got {maxiter!r}")

    if not (isinstance(scoring, int) and scoring >= 0):
        raise SpecificationError(f"scoring must be a non-negative integer (iterations of Fisher scoring), got {scoring!r}")
    for name, tol in (("convh", convh), ("convf", convf), ("convg", convg)):
        if tol is not None and not (np.isfinite(tol) and tol >= 0):
            raise SpecificationError(f"{name} must be a non-negative number, got {tol!r}")
    bounds_option(lowerb, upperb)
    if noiter and parms is None:
        raise SpecificationError("noiter=True needs parms= (the values to fix the covariance parameters at)")

    if by is not None:
        from .by import fit_by

        extra = {"convf": convf is not None, "convg": convg is not None, "absolute": absolute,
                 "hold": hold is not None, "noiter": noiter, "nobound": nobound, "method='MIVQUE0'": method == "MIVQUE0"}
        named = [k for k, v in extra.items() if v]
        if named:
            raise UnsupportedOptionError(f"{', '.join(named)} cannot be combined with by= yet; fit the groups separately")
        return fit_by(by, fixed, data, random, repeated, method, ddfm=ddfm, covtest=covtest, weights=weights,
                      maxiter=maxiter, maxfunc=maxfunc, convh=1e-8 if convh is None else convh,
                      noprofile=noprofile, scoring=scoring, parms=parms, verbose=bool(verbose))

    design = build_design(fixed, data, random, repeated, weights=weights)
    if ddfm is None:
        ddfm = default_ddfm(design)
    path = choose_path(design, path)
    # A held parameter is fixed in absolute terms, so σ² cannot be profiled (PROC MIXED does the same).
    layout = make_layout(design, "REML" if method == "MIVQUE0" else method,
                         noprofile=noprofile or hold is not None or noiter, path=path)
    if nobound:
        layout = unbounded(layout)
    findings = check_model(design, layout)
    if path == "mme":
        from .mme import build_mme

        if ddfm in ("kr", "bw"):
            raise UnsupportedOptionError(
                f"ddfm={ddfm!r} is not available on the sparse mixed-model-equations path (crossed random "
                "effects); use 'contain', 'residual' or 'satterthwaite'"
            )
        if scoring:
            raise UnsupportedOptionError("scoring= is not available on the sparse mixed-model-equations path")
        data_arrays, blocks = build_mme(design, layout)
        buckets = jax.tree.map(jnp.asarray, data_arrays)
    else:
        blocks = make_blocks(design, layout)
        data_arrays = blocks.buckets
        buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)
    opts = Options(method=method, maxiter=maxiter, maxfunc=maxfunc, convh=convh, convf=convf, convg=convg,
                   absolute=bool(absolute), scoring=scoring, parms=parms, hold=hold, noiter=bool(noiter),
                   nobound=bool(nobound), scale=bool(scale), verbose=bool(verbose))
    est = estimate(design, layout, data_arrays, opts)
    result = build_result(
        design=design,
        layout=layout,
        blocks=blocks,
        buckets=buckets,
        theta=est.theta,
        minus2ll=est.minus2ll,
        opt=est.opt,
        status_text=est.status_text,
        start_source=est.start_source,
        theta_start=est.theta_start,
        natural_hessian=est.hessian,
        gls_sums=est.gls,
        ddfm=ddfm,
        covtest=bool(covtest),
        held=est.held,
        theta_scale=est.scaling.factor,
    )
    refit = partial(_refit, data=data, repeated=repeated, method=method, weights=weights)
    result = finish(result, est, design, layout, opts, refit)
    return with_findings(result, findings, jnp.asarray(design.y).dtype)


def _refit(random, *, fixed, data, repeated, method, weights):
    """The same model with other RANDOM statements (for a diagnostic's comparison fit)."""
    return mixed(fixed, data, random=random or None, repeated=repeated, method=method, weights=weights)
