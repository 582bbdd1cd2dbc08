"""Random data frames and model specifications for property-based tests.

``cases()`` draws a small data frame (numeric, integer, string and factor
columns, with optional missing and infinite values, constants, collinear
columns, huge or tiny scales) and a model over it: a fixed formula (valid or
not), RANDOM and REPEATED statements over the covariance registry (with
valid and invalid subjects, types and indices), a method and options.
``check_case`` fits it and asserts the contract every fit keeps:

* a valid specification returns a result: converged, or ``converged=False``
  with the reason in ``status`` and an ``error`` diagnostic;
* an invalid one raises a :mod:`jaxmixed.errors` exception, never another type;
* a converged result has finite covariance parameter and fixed-effect estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

import jaxmixed as jm
from jaxmixed.covariance import REGISTRY
from jaxmixed.errors import JaxMixedError

G_TYPES = sorted(k for k, (_, g, _) in REGISTRY.items() if g and not k.startswith("FA0(") or k == "FA0(1)")
R_TYPES = sorted(k for k, (_, _, r) in REGISTRY.items() if r and not k.startswith("FA0(") or k == "FA0(1)")

FIXED = ["y ~ x", "y ~ x + C(c)", "y ~ 1", "y ~ x + x2", "y ~ x + (1 | g)", "y ~ x + (x | g)", "y ~ C(c) * x",
         "y ~ x + (1 | g/c)", "y ~ x + (x || g)", "y ~ k"]
BAD_FIXED = ["s ~ x", "y ~ q", "y ~ x +", "y ~ x + (1 | g", "y ~ (1 | )", "~ x", "y ~ x + $", "y ~ C(c)[", "y x"]
EFFECTS = ["1", "1 + x", "x", "0 + x", "C(c)"]
BAD_EFFECTS = ["1 + nope", "", "1 +"]
SUBJECTS = ["g", "g", "c", "g:c", None]
BAD_SUBJECTS = ["zz", "g:", 3]
#: which part of the specification is made invalid (None: a valid specification)
PARTS = [None] * 6 + ["fixed", "random", "repeated", "method", "weights", "type"]


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.sampled_from([6, 12, 24, 40]))
    n_groups = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = rng.integers(0, n_groups, n)
    scale = draw(st.sampled_from([1.0, 1.0, 1e-8, 1e8]))
    x = rng.normal(size=n) * draw(st.sampled_from([1.0, 1.0, 1e-6, 1e6]))
    u = rng.normal(size=n_groups)
    y = (1.0 + 0.5 * x / max(np.abs(x).max(), 1e-300) + u[g] + rng.normal(size=n)) * scale
    if draw(st.booleans()) and draw(st.booleans()):
        y[:] = 3.0
    df = pd.DataFrame({
        "y": y,
        "x": x,
        "x2": 2.0 * x,
        "k": rng.integers(0, 3, n),
        "g": np.array([f"g{v}" for v in g], dtype=object),
        "c": rng.choice(["a", "b", "c"], n),
        "t": pd.Series(np.zeros(n)).groupby(g).cumcount().to_numpy() if draw(st.booleans()) else rng.integers(0, 4, n),
        "s": rng.choice(["u", "v"], n),
        "w": rng.uniform(0.5, 2.0, n),
    })
    for col in draw(st.lists(st.sampled_from(["y", "x", "g", "c", "t", "w"]), max_size=3)):
        rows = rng.choice(n, size=draw(st.integers(1, max(1, n // 3))), replace=False)
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf, None]))
        if col in ("g", "c"):
            df.loc[rows, col] = None
        elif col == "t":
            df["t"] = df["t"].astype(float)
            df.loc[rows, col] = np.nan
        else:
            df.loc[rows, col] = value if value is not None else np.nan
    if draw(st.booleans()) and draw(st.booleans()):
        df.loc[0, "w"] = draw(st.sampled_from([0.0, -1.0]))
    return df


@st.composite
def randoms(draw, bad=False):
    if not bad and draw(st.booleans()):
        return None
    out = []
    for k in range(draw(st.integers(1, 2))):
        effects = draw(st.sampled_from(BAD_EFFECTS if bad and k == 0 else EFFECTS))
        subject = draw(st.sampled_from(SUBJECTS))
        if bad and k == 0 and effects in EFFECTS:
            subject = draw(st.sampled_from(BAD_SUBJECTS))
        type_ = draw(st.sampled_from(G_TYPES))
        out.append((effects, subject, type_, draw(st.sampled_from([None, None, "c"]))))
    return out


@st.composite
def repeateds(draw, bad=False):
    if not bad and draw(st.booleans()):
        return None
    type_ = draw(st.sampled_from(R_TYPES))
    coord = draw(st.sampled_from(["x", "x, t"])) if type_.startswith("SP(") else None
    subject, index = draw(st.sampled_from(["g", "g", None])), draw(st.sampled_from([None, None, "t"]))
    if bad:
        which = draw(st.sampled_from(["subject", "index", "coordinate"]))
        if which == "subject":
            subject = draw(st.sampled_from(["zz", "s:"]))
        elif which == "index":
            index = "nope"
        else:
            type_, coord = "SP(POW)", draw(st.sampled_from([None, "nope"]))
    return (subject, type_, index, coord, draw(st.sampled_from([None, None, "c"])))


@st.composite
def cases(draw):
    bad = draw(st.sampled_from(PARTS))
    case = dict(
        data=draw(frames()),
        fixed=draw(st.sampled_from(BAD_FIXED if bad == "fixed" else FIXED)),
        random=draw(randoms(bad == "random")),
        repeated=draw(repeateds(bad == "repeated")),
        method=draw(st.sampled_from(["MIVQUE", "reml ", 2] if bad == "method" else ["REML", "REML", "ML"])),
        weights=draw(st.sampled_from(["s", "zz"] if bad == "weights" else [None, None, None, "w"])),
        bad=bad,
    )
    if bad == "type":
        side = draw(st.sampled_from(["random", "repeated"]))
        if side == "random":
            case["random"] = [("1", "g", draw(st.sampled_from(["FOO", "SP(POW)", "FA0(0)"])), None)]
        else:
            case["repeated"] = ("g", draw(st.sampled_from(["BAR", "UN(1)", "AR(2)"])), None, None, None)
    return case


def _statements(case):
    """Statements are built inside the check: a bad one must raise our error too."""
    rnd = None
    if case["random"] is not None:
        rnd = [jm.Random(e, subject=s, type=t, group=grp) for e, s, t, grp in case["random"]]
    rep = None
    if case["repeated"] is not None:
        s, t, idx, coord, grp = case["repeated"]
        rep = jm.Repeated(subject=s, type=t, index=idx, coordinate=coord, group=grp)
    return rnd, rep


#: cases checked in this process (the campaign script reports it)
COUNT = {"cases": 0, "fitted": 0, "converged": 0, "errors": 0}


def check_case(case) -> None:
    COUNT["cases"] += 1
    try:
        rnd, rep = _statements(case)
        fit = jm.mixed(case["fixed"], case["data"], random=rnd, repeated=rep, method=case["method"],
                       weights=case["weights"], maxiter=30)
    except JaxMixedError:
        COUNT["errors"] += 1
        return
    assert case["bad"] is None, f"an invalid {case['bad']} was accepted"
    COUNT["fitted"] += 1
    assert isinstance(fit.converged, bool)
    if fit.converged:
        COUNT["converged"] += 1
        est = fit.covparms["Estimate"].to_numpy(float)
        assert np.all(np.isfinite(est)), f"non-finite covariance parameters in a converged fit:\n{fit.covparms}"
        fx = fit.fixed["Estimate"].to_numpy(float)
        assert np.all(np.isfinite(fx)), f"non-finite fixed effects in a converged fit:\n{fit.fixed}"
        assert np.isfinite(fit.minus2ll)
    else:
        assert fit.status and "converge" in fit.status.lower()
        assert any(d.code == "not-converged" for d in fit.diagnostics)
