"""Deliberately hard fits, as seeded synthetic data sets.

Shared by tests/test_hard_fits.py and docs/make_hard_fits.py (which runs the
same fits through statsmodels and lme4 for docs/hard_fits.md).  Each case
gives the data, the jaxmixed call, the lme4 formula, and the diagnostics of
which at least one must be reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class HardCase:
    name: str
    what: str
    data: pd.DataFrame = field(repr=False)
    fixed: str
    random: tuple  # (effects, subject, type) per RANDOM statement
    lme4: str
    expect: tuple  # diagnostic codes, at least one of which must appear
    parms: tuple | None = None


def _panel(seed, n_sub, xs, b0_sd, slope, noise=1.0, equal_slopes=False):
    """Subjects with a random intercept and slope ``slope(b0, rng)``.  With
    ``equal_slopes`` each subject's noise is made orthogonal to its centred x,
    so every subject's own least-squares slope is the same: the data then
    show less slope variation than the noise alone would give, and the REML
    slope variance is 0."""
    rng = np.random.default_rng(seed)
    xs = np.asarray(xs, float)
    xc = xs - xs.mean()
    rows = []
    for s in range(n_sub):
        b0 = rng.normal(0, b0_sd)
        b1 = slope(b0, rng)
        e = rng.normal(0, noise, len(xs))
        if equal_slopes:
            e = e - xc * (xc @ e) / (xc @ xc)
        for x, ei in zip(xs, e):
            rows.append({"subj": f"s{s:02d}", "x": float(x), "y": 10 + 2 * x + b0 + b1 * x + ei})
    return pd.DataFrame(rows)


def cases() -> list[HardCase]:
    xs = np.arange(6)
    corr_one = _panel(11, 20, xs, 2.0, lambda b0, rng: 0.5 * b0)
    zero_slope = _panel(5, 20, xs, 2.0, lambda b0, rng: 0.0, equal_slopes=True)
    over = _panel(3, 6, np.arange(3), 1.0, lambda b0, rng: rng.normal(0, 0.5))
    rng = np.random.default_rng(7)
    # all-singleton subjects are refused (validate.py); here 4 of 40 subjects have a second row
    ids = [f"i{k}" for k in range(40)] + [f"i{k}" for k in range(4)]
    single = pd.DataFrame({"id": ids, "x": rng.normal(size=44)})
    single["y"] = 1 + single.x + rng.normal(size=44) * 1.5
    dye = pd.read_csv(__import__("jaxmixed").datasets.__path__[0] + "/data/dyestuff.csv")
    return [
        HardCase("corr_one", "UN G whose true intercept-slope correlation is 1", corr_one, "y ~ x",
                 (("1 + x", "subj", "UN"),), "y ~ x + (1 + x | subj)", ("g-not-positive-definite",)),
        HardCase("zero_slope", "random slope whose true variance is 0", zero_slope, "y ~ x",
                 (("1 + x", "subj", "UN"),), "y ~ x + (1 + x | subj)",
                 ("g-not-positive-definite", "variance-on-boundary")),
        HardCase("overparameterised", "UN(3) G (1 + x + x²) with 3 observations per subject: more covariance "
                 "parameters than the data support", over.assign(x2=over.x**2), "y ~ x",
                 (("1 + x + x2", "subj", "UN"),), "y ~ x + (1 + x + x2 | subj)",
                 ("hessian-not-pd", "g-not-positive-definite", "not-converged", "variance-on-boundary")),
        HardCase("saddle_start", "start with the Batch variance at exactly 0 (a stationary point of the "
                 "working parameters)", dye, "Yield ~ 1", (("1", "Batch", "VC"),), "Yield ~ 1 + (1 | Batch)",
                 ("intraclass-correlation",), parms=(0.0, 2000.0)),
        HardCase("single_obs", "36 of 40 subjects have a single observation", single, "y ~ x",
                 (("1", "id", "VC"),), "y ~ x + (1 | id)", ("single-observation-subjects",)),
    ]


def fit(case: HardCase, **kw):
    import jaxmixed as jm

    random = [jm.Random(e, subject=s, type=t) for e, s, t in case.random]
    if case.parms is not None:
        kw.setdefault("parms", list(case.parms))
    return jm.mixed(case.fixed, case.data, random=random, **kw)
