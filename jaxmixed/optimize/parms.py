"""The PARMS statement: starting values, a grid search, HOLD=, NOITER,
LOWERB=/UPPERB= and resuming from an earlier fit.

Values are given on the natural scale in the order of the Covariance
Parameter Estimates table (``covparms``), or by name.  A grid (several
values for some parameters) is searched in one vectorised evaluation of −2ℓ
over all its points; the best point starts the iterations (PROC MIXED's
"Parameter Search" table).  Parameters a grid does not name take their
MIVQUE0 values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..blocks import Layout
from ..errors import SpecificationError, UnsupportedOptionError
from ..likelihood import neg2ll_natural, to_natural


@dataclass(frozen=True)
class ParmSpec:
    """What the PARMS options asked for, resolved to internal θ order."""

    start: np.ndarray | None  # natural θ (internal order), None: MIVQUE0
    grid: np.ndarray | None  # (G, k) natural θ, internal order
    held: np.ndarray  # (k,) bool, internal order
    source: str


def covparm_labels(design, layout: Layout):
    """(labels in covparms order, order: covparms row -> internal index, table)."""
    from ..results import _covparm_table

    k = layout.n_params
    z = np.zeros(k)
    table, order = _covparm_table(layout, design, z, z, np.zeros(k, bool))
    labels = []
    for r in table.itertuples():
        parts = [r.CovParm, r.Subject, getattr(r, "Group", "")]
        labels.append(" ".join(str(p) for p in parts if p))
    return labels, np.asarray(order), table


def _index_of(key, labels, table) -> int:
    """Row of covparms named by ``key``: a position, a label, or a CovParm name
    that is unique."""
    if isinstance(key, (int, np.integer)):
        if not 0 <= key < len(labels):
            raise SpecificationError(f"parameter index {key} is out of range: the model has {len(labels)} covariance parameters")
        return int(key)
    key = str(key)
    if key in labels:
        return labels.index(key)
    hits = np.flatnonzero(table["CovParm"].to_numpy() == key)
    if len(hits) == 1:
        return int(hits[0])
    if len(hits) > 1:
        raise SpecificationError(f"covariance parameter {key!r} is ambiguous; name it as one of: "
                                 + ", ".join(repr(labels[i]) for i in hits))
    raise SpecificationError(f"no covariance parameter {key!r}; the model has: " + ", ".join(map(repr, labels)))


def resolve(parms, hold, design, layout: Layout, mivque=None) -> ParmSpec:
    """Turn ``parms=`` / ``hold=`` into internal-order arrays.  ``mivque`` is a
    callable giving the MIVQUE0 θ (internal order) for unnamed grid entries."""
    labels, order, table = covparm_labels(design, layout)
    k = len(labels)
    inv = np.empty(k, int)
    inv[order] = np.arange(k)

    def internal(v_cp):
        return np.asarray(v_cp, float)[inv]

    start = grid = None
    source = "MIVQUE0"
    if parms is None:
        pass
    elif hasattr(parms, "_inf") and hasattr(parms, "covparms"):  # an earlier MixedResult
        prev = parms.covparms
        if list(prev["CovParm"]) != list(table["CovParm"]):
            raise SpecificationError("parms= is a fit of another model: its covariance parameters "
                                     f"{list(prev['CovParm'])} differ from this model's {list(table['CovParm'])}")
        start = internal(prev["Estimate"].to_numpy())
        source = "PARMS (earlier fit)"
    else:
        if isinstance(parms, dict):
            cols = {}
            for key, v in parms.items():
                cols[_index_of(key, labels, table)] = np.atleast_1d(np.asarray(v, float))
        else:
            items = list(parms)
            if len(items) != k:
                raise SpecificationError(f"parms= has {len(items)} values but the model has {k} covariance "
                                         f"parameters ({', '.join(labels)})")
            cols = {i: np.atleast_1d(np.asarray(v, float)) for i, v in enumerate(items)}
        for i, v in cols.items():
            if v.size == 0 or not np.all(np.isfinite(v)):
                raise SpecificationError(f"parms= for {labels[i]!r} must be finite numbers, got {v.tolist()}")
        base = None
        if len(cols) < k:
            base = np.asarray(mivque(), float)[order]  # covparms order
        lists = [cols[i] if i in cols else np.array([base[i]]) for i in range(k)]
        points = np.array(list(itertools.product(*lists)), float).reshape(-1, k)
        if len(points) == 1:
            start = internal(points[0])
        else:
            grid = points[:, inv]
        source = "PARMS"

    held = np.zeros(k, bool)
    if hold is not None:
        if parms is None:
            raise SpecificationError("hold= needs parms= (the values to hold the parameters at)")
        for key in (hold if isinstance(hold, (list, tuple)) else [hold]):
            held[order[_index_of(key, labels, table)]] = True
    return ParmSpec(start, grid, held, source)


@partial(jax.jit, static_argnames="layout")
def _grid_values(points, buckets, layout: Layout):
    return jax.vmap(lambda t: neg2ll_natural(t, buckets, layout))(points)


def search_grid(points, buckets, layout: Layout, design):
    """−2ℓ at every grid point in one vmapped call: (table, best θ)."""
    values = np.asarray(_grid_values(jnp.asarray(points), buckets, layout))
    labels, order, _ = covparm_labels(design, layout)
    table = pd.DataFrame(points[:, order], columns=labels)
    name = "-2 Res Log Like" if layout.method != "ML" else "-2 Log Like"
    table[name] = values
    finite = np.isfinite(values)
    if not finite.any():
        raise SpecificationError("-2 log-likelihood is not finite at any point of the parms= grid "
                                 "(V is not positive definite there); give other values")
    best = int(np.flatnonzero(finite)[np.argmin(values[finite])])
    return table, points[best]


def working_free_mask(held: np.ndarray, w0, layout: Layout) -> np.ndarray:
    """Working-space mask of the parameters that move.  A held natural
    parameter must be a function of one working parameter that moves no
    other natural parameter (true for variances and correlations with their
    own transform; not for a covariance inside a UN Cholesky factor)."""
    if not held.any():
        return np.ones(len(w0))
    jac = np.asarray(jax.jacfwd(lambda w: to_natural(w, layout))(jnp.asarray(w0)))
    free = np.ones(len(w0))
    for j in np.flatnonzero(held):
        others_row = np.delete(jac[j], j)
        others_col = np.delete(jac[:, j], j)
        if np.any(others_row != 0) or np.any(others_col != 0):
            raise UnsupportedOptionError(
                "hold= on a parameter that shares its working coordinate with others (a covariance or a later "
                "variance of a UN block); hold it together with nobound=True, where UN is parametrised directly")
        free[j] = 0.0
    return free


def bounds_option(lowerb, upperb):
    """LOWERB=/UPPERB= other than PROC MIXED's defaults are not offered."""
    for name, v in (("lowerb", lowerb), ("upperb", upperb)):
        if v is not None:
            raise UnsupportedOptionError(
                f"{name}= (bounds other than the default variance >= 0) is not supported; "
                "use nobound=True to lift the bounds, or hold= to fix a parameter")
