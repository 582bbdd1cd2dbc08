"""Attach the diagnostics (and the PARMS grid, the history notes) to a result."""

from __future__ import annotations

import contextvars
import dataclasses
from dataclasses import dataclass

import numpy as np

#: set while a diagnostic's comparison fit runs, so that fit does not refit in turn
IN_REFIT = contextvars.ContextVar("jaxmixed_in_refit", default=False)


@dataclass(frozen=True)
class Context:
    result: object
    est: object  # optimize.driver.Estimates
    design: object
    layout: object
    opts: object
    refit: object  # callable(random statements, fixed=...) -> MixedResult
    labels: list  # covparms labels, covparms order
    order: np.ndarray  # covparms row -> internal index

    @property
    def theta(self) -> np.ndarray:
        """The reported θ̂ (bound parameters exactly 0), in internal order."""
        out = np.empty(len(self.order))
        out[self.order] = self.result.covparms["Estimate"].to_numpy()
        return out


def finish(result, est, design, layout, opts, refit):
    from ..optimize.parms import covparm_labels
    from . import boundary, convergence, data, gmatrix, hessian

    labels, order, _ = covparm_labels(design, layout)
    ctx = Context(result, est, design, layout, opts, refit, labels, np.asarray(order))
    diags = []
    for check in (boundary.check, gmatrix.check, hessian.check, convergence.check, data.check):
        diags += check(ctx)
    history = result._history
    notes = list(est.notes) + [""] * max(len(history) - len(est.notes), 0)
    history = history.assign(Note=notes[: len(history)])
    changes = dict(diagnostics=tuple(diags), parms_grid=est.grid, _history=history)
    if opts.method == "MIVQUE0":
        info = result._model_info.copy()
        info.loc[info.Descr == "Estimation Method", "Value"] = "MIVQUE0"
        changes.update(method="MIVQUE0", _model_info=info)
    return dataclasses.replace(result, **changes)


def refit_quietly(ctx: Context, random):
    token = IN_REFIT.set(True)
    try:
        return ctx.refit(random, fixed=ctx.design.fixed_formula)
    finally:
        IN_REFIT.reset(token)
