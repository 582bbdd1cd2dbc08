"""Child process of the benchmarks: fit one model with one Python engine.

Usage: ``python benchmarks/_worker.py '{"engine": ..., "model": ..., "data": ..., "repeats": ...}'``.
Prints ``RESULT {json}`` last: load time, first-fit time, every fit time, the
median warm time, −2ℓ, convergence, estimates and the process's peak RSS.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path


def vmhwm() -> int:
    """Peak resident set of this process in bytes (Linux), 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ------------------------------------------------------------------ jaxmixed


def _jm_summary(r) -> dict:
    return {"m2ll": float(r.minus2ll), "converged": bool(r.converged), "iterations": int(r.iterations),
            "beta": [float(b) for b in r.beta], "theta": [float(t) for t in r.theta]}


def jaxmixed_fit(model: str, df, spec: dict):
    import jaxmixed as jm

    opts = {"ddfm": spec["ddfm"]} if spec.get("ddfm") else {}
    if model == "longitudinal":
        r = jm.mixed("y ~ time + x", df, random=jm.Random("1 + time", subject="subject", type="UN"), **opts)
        return _jm_summary(r)
    if model == "ar1":
        r = jm.mixed("y ~ time + x", df, random=jm.Random("1", subject="subject"),
                     repeated=jm.Repeated(subject="subject", type="AR(1)", index="time"), **opts)
        return _jm_summary(r)
    if model == "by":
        return jaxmixed_by(df, spec.get("by_mode", "by"), opts)
    if model == "intercept":  # one group of the BY scenario
        r = jm.mixed("y ~ x", df, random=jm.Random("1", subject="subject"))
        return _jm_summary(r)
    raise SystemExit(f"unknown model {model!r}")


def jaxmixed_by(df, mode: str, opts: dict) -> dict:
    """``by="group"`` in one call, or (mode "loop") one ``mixed`` call per group."""
    import jaxmixed as jm

    random = jm.Random("1", subject="subject")
    if mode == "loop":
        groups = {}
        for g, part in df.groupby("group", sort=True):
            r = jm.mixed("y ~ x", part.reset_index(drop=True), random=random, **opts)
            groups[str(g)] = _jm_summary(r)
        return {"groups": groups}
    import inspect

    if "by" not in inspect.signature(jm.mixed).parameters:
        raise SystemExit("this jaxmixed has no by= argument")
    res = jm.mixed("y ~ x", df, random=random, by="group", **opts)
    return {"groups": by_tables(res)}


def by_tables(res) -> dict:
    """Per-group −2ℓ, convergence, β and θ from a BY result's tables."""
    cov, fix, stats, conv = res.covparms, res.fixed, res.fit_stats, res.converged
    m2ll_label = stats["Descr"].iloc[0]
    out = {}
    for g, part in cov.groupby("group", sort=True):
        out[str(g)] = {"theta": [float(v) for v in part["Estimate"]]}
    for g, part in fix.groupby("group", sort=True):
        out[str(g)]["beta"] = [float(v) for v in part["Estimate"]]
    for g, part in stats[stats["Descr"] == m2ll_label].groupby("group", sort=True):
        out[str(g)]["m2ll"] = float(part["Value"].iloc[0])
    if hasattr(conv, "columns") and "Converged" in conv.columns:  # a table led by the BY column
        for g, v in zip(conv["group"], conv["Converged"]):
            out[str(g)]["converged"] = bool(v)
    return out


# --------------------------------------------------------------- statsmodels


def _sm_summary(r, n_re: int) -> dict:
    import numpy as np

    cov_re = np.asarray(r.cov_re)
    tri = [float(cov_re[i, j]) for i in range(n_re) for j in range(i + 1)]  # UN(1,1), UN(2,1), UN(2,2)
    return {"m2ll": float(-2.0 * r.llf), "converged": bool(r.converged),
            "beta": [float(b) for b in r.fe_params], "theta": tri + [float(r.scale)]}


def statsmodels_fit(model: str, df, spec: dict):
    import warnings

    import statsmodels.formula.api as smf

    warnings.simplefilter("ignore")
    if model == "longitudinal":
        r = smf.mixedlm("y ~ time + x", df, groups="subject", re_formula="~time").fit(reml=True)
        return _sm_summary(r, 2)
    if model == "by":
        groups = {}
        for g, part in df.groupby("group", sort=True):
            r = smf.mixedlm("y ~ x", part, groups="subject").fit(reml=True)
            groups[str(g)] = _sm_summary(r, 1)
        return {"groups": groups}
    raise SystemExit(f"statsmodels has no {model!r} model here (its MixedLM has no R-side correlation)")


# ---------------------------------------------------------------------- main


def main() -> None:
    spec = json.loads(sys.argv[1])
    engine, model, repeats = spec["engine"], spec["model"], int(spec.get("repeats", 1))
    t0 = time.perf_counter()
    import pandas as pd

    fit = {"jaxmixed": jaxmixed_fit, "statsmodels": statsmodels_fit}[engine]
    if engine == "jaxmixed":
        import jaxmixed  # noqa: F401  (import time is not fit time)
    else:
        import statsmodels.formula.api  # noqa: F401
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = pd.read_parquet(spec["data"])
    t_load = time.perf_counter() - t0
    rss_data = vmhwm()
    times, summary = [], None
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        summary = fit(model, df, spec)
        times.append(time.perf_counter() - t0)
    warm = statistics.median(times[1:]) if len(times) > 1 else float("nan")
    out = {"import": t_import, "load": t_load, "first": times[0], "warm": warm, "times": times,
           "rss_data": rss_data, "vmhwm": vmhwm(), "rows": len(df), **summary}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
