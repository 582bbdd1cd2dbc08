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

from .blocks import Layout, make_blocks, make_layout
from .design import build_design
from .errors import SpecificationError
from .formula import Random, Repeated
from .inference import default_ddfm
from .inference import normalize as normalize_ddfm
from .likelihood import natural_from_working, neg2ll_natural, sums
from .optimize.newton import NONFINITE, STATUS_TEXT, newton
from .optimize.starts import mivque0, start_working
from .results import build_result



_METHODS = ("REML", "ML")


@partial(jax.jit, static_argnames="layout")
def _finalize(w, buckets, layout: Layout):
    """Natural θ̂, −2ℓ there, its Hessian in θ and the GLS sums, in one program
    (only where Newton stopped before taking any derivative)."""
    theta = natural_from_working(w, buckets, layout)
    hess = jax.hessian(neg2ll_natural)(theta, buckets, layout)
    return theta, neg2ll_natural(theta, buckets, layout), hess, sums(theta, buckets, layout)


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
    convh: float = 1e-8,
    noprofile: bool = False,
    scoring: int = 0,
    parms=None,
    by: str | list[str] | None = None,
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
    method : "REML" or "ML"
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
    maxiter, maxfunc, convh : Newton iteration limits and the relative Hessian
        convergence criterion (PROC MIXED's MAXITER, MAXFUNC, CONVH).
    noprofile : keep the residual variance in the optimisation (NOPROFILE).
    scoring : use Fisher scoring (expected information) for the first
        ``scoring`` iterations (SCORING=).
    parms : starting values of the covariance parameters (natural scale, in
        the order of ``covparms``) instead of MIVQUE0.

    by : column or list of columns (PROC MIXED's BY statement): the model is
        fitted separately to every group of rows, all groups batched; rows
        with a missing BY value are not used.  Returns a
        :class:`jaxmixed.byresult.ByResult`.

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

    if by is not None:
        from .by import fit_by

        if not (isinstance(scoring, int) and scoring >= 0):
            raise SpecificationError(f"scoring must be a non-negative integer (iterations of Fisher scoring), got {scoring!r}")
        return fit_by(by, fixed, data, random, repeated, method, ddfm=ddfm, covtest=covtest, weights=weights,
                      maxiter=maxiter, maxfunc=maxfunc, convh=convh, noprofile=noprofile, scoring=scoring, parms=parms)
    design = build_design(fixed, data, random, repeated, weights=weights)
    if ddfm is None:
        ddfm = default_ddfm(design)
    layout = make_layout(design, method, noprofile=noprofile)
    blocks = make_blocks(design, layout)
    buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)

    if parms is None:
        theta_start = mivque0(buckets, layout)
        start_source = "MIVQUE0"
    else:
        theta_start = np.asarray(parms, float).ravel()
        if theta_start.shape[0] != layout.n_params:
            raise SpecificationError(
                f"parms= has {theta_start.shape[0]} values but the model has {layout.n_params} covariance parameters"
            )
        start_source = "PARMS"
    w0 = jnp.asarray(start_working(theta_start, layout))
    if not (isinstance(scoring, int) and scoring >= 0):
        raise SpecificationError(f"scoring must be a non-negative integer (iterations of Fisher scoring), got {scoring!r}")
    opt = newton(w0, buckets, layout, maxiter=maxiter, maxfunc=maxfunc, convh=convh, scoring=scoring)
    if int(opt.status) == NONFINITE:  # the loop never ran: no derivatives at the start were taken
        theta, m2ll, hess, gls = _finalize(opt.w, buckets, layout)
    else:
        theta, m2ll, hess, gls = opt.theta, opt.minus2ll, opt.natural_hessian, opt.gls
    theta = np.asarray(theta)

    return build_result(
        design=design,
        layout=layout,
        blocks=blocks,
        buckets=buckets,
        theta=theta,
        minus2ll=float(m2ll),
        opt=opt,
        status_text=STATUS_TEXT[int(opt.status)],
        start_source=start_source,
        theta_start=theta_start,
        natural_hessian=np.asarray(hess),
        gls_sums=[np.asarray(a) for a in gls],
        ddfm=ddfm,
        covtest=bool(covtest),
    )
