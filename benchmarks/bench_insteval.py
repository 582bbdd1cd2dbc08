"""InstEval (lme4): y ~ service + (1 | s) + (1 | d), REML, 73,421 ratings,
2,972 students crossed with 1,128 lecturers.

Times jaxmixed (first fit, compilation included, and a warm second fit) and
lme4::lmer (through Rscript, when installed) in the same run, and prints
−2 REML log-likelihoods, the time ratios and the peak resident memory of
each process (jaxmixed: this process; R: the Rscript child, from
getrusage(RUSAGE_CHILDREN), run first while this process is small).

    PYTHONPATH=. python benchmarks/bench_insteval.py [--no-r]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "reference" / "data" / "insteval.csv"
FORMULA = "y ~ service + (1 | s) + (1 | d)"
LME4_M2LL = 237743.5831

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
d <- read.csv("{data}")
d$s <- factor(d$s); d$d <- factor(d$d); d$service <- factor(d$service)
fit <- NULL
t <- system.time(fit <- lmer(y ~ service + (1 | s) + (1 | d), data = d, REML = TRUE))[["elapsed"]]
cat(sprintf("LME4 %.6f %.4f\n", t, REMLcrit(fit)))
"""


def _peak_mb(who) -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(who).ru_maxrss / 1024.0


def run_jaxmixed():
    sys.path.insert(0, str(ROOT))
    import jaxmixed as jm

    data = pd.read_csv(DATA)
    out = {}
    for label in ("first", "warm"):
        t0 = time.perf_counter()
        fit = jm.mixed(FORMULA, data)
        out[label] = time.perf_counter() - t0
    out["m2ll"] = fit.minus2ll
    out["iterations"] = fit.iterations
    out["path"] = fit.dimensions.set_index("Descr")["Value"]["Likelihood Path"]
    out["peak_mb"] = _peak_mb(resource.RUSAGE_SELF)
    return out


def run_lme4():
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(R_SCRIPT.format(data=DATA.as_posix()))
        script = f.name
    t0 = time.perf_counter()
    proc = subprocess.run([rscript, "--vanilla", script], capture_output=True, text=True)
    total = time.perf_counter() - t0
    Path(script).unlink(missing_ok=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LME4 ")]
    if proc.returncode != 0 or not line:
        print("lme4 run failed:\n" + proc.stderr[-2000:], file=sys.stderr)
        return None
    _, t, m2ll = line[0].split()
    return {"fit": float(t), "total": total, "m2ll": float(m2ll), "peak_mb": _peak_mb(resource.RUSAGE_CHILDREN)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-r", action="store_true", help="skip lme4")
    args = ap.parse_args()
    # lme4 first: a child inherits the parent's peak RSS at fork and keeps it across exec, so
    # Rscript is started while this process is still small.
    r = None if args.no_r else run_lme4()
    jm_res = run_jaxmixed()
    print(f"jaxmixed  path: {jm_res['path']}, {jm_res['iterations']} Newton iterations")
    print(f"jaxmixed  first fit (with compilation): {jm_res['first']:8.2f} s")
    print(f"jaxmixed  warm fit:                     {jm_res['warm']:8.2f} s")
    print(f"jaxmixed  -2 REML logL: {jm_res['m2ll']:.4f}  (lme4 reference {LME4_M2LL}, "
          f"difference {jm_res['m2ll'] - LME4_M2LL:+.2e})")
    print(f"jaxmixed  peak RSS: {jm_res['peak_mb']:.0f} MB")
    if r is None:
        print("lme4      not run (no Rscript, or --no-r)")
        return
    print(f"lme4      lmer fit: {r['fit']:8.2f} s  (Rscript total incl. startup and reading: {r['total']:.2f} s)")
    print(f"lme4      -2 REML logL: {r['m2ll']:.4f}")
    print(f"lme4      peak RSS (Rscript): {r['peak_mb']:.0f} MB")
    print(f"ratio     jaxmixed warm / lme4: {jm_res['warm'] / r['fit']:.2f}   "
          f"first / lme4: {jm_res['first'] / r['fit']:.2f}")


if __name__ == "__main__":
    main()
