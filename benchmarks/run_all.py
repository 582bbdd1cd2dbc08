"""Every scenario in one command, recording the results and drawing the plot.

    python benchmarks/run_all.py            # small sizes, a few minutes: checks that everything runs
    python benchmarks/run_all.py --full     # the sizes of the results in RESULTS.md (hours)

Extra arguments after ``--`` go to every scenario (e.g. ``-- --no-r``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import _harness as h

QUICK = {
    "bench_longitudinal.py": ["1000", "10000"],
    "bench_ar1.py": ["1000", "5000"],
    "bench_by.py": ["200"],
    "bench_memory.py": ["1000", "10000", "100000"],
    "bench_floor.py": ["10000"],
}
FULL = {
    "bench_longitudinal.py": ["1000", "10000", "50000", "100000", "300000", "1000000", "--repeats", "5",
                              "--peer-cap", "300000", "--sm-timeout", "600", "--sm-max", "50000", "--timeout", "3600"],
    "bench_ar1.py": ["1000", "10000", "50000", "100000", "--repeats", "5", "--timeout", "3600"],
    "bench_by.py": ["1000", "--repeats", "3", "--sm-timeout", "1200", "--timeout", "3600"],
    "bench_memory.py": ["1000", "10000", "100000", "300000", "1000000", "--peer-cap", "300000",
                        "--timeout", "7200", "--mem-cap", "16"],
    "bench_floor.py": ["50000"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the full sizes (hours) instead of the quick ones")
    p.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md and results/ alone")
    p.add_argument("--only", nargs="*", default=None, help="scenario scripts to run (default all)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    args = p.parse_args()
    plan = FULL if args.full else QUICK
    extra = [a for a in args.rest if a != "--"]
    failed = []
    for script, sizes in plan.items():
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        cmd = [sys.executable, str(h.HERE / script), *sizes, *([] if args.no_record else ["--record"]), *extra]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        if subprocess.run(cmd, cwd=h.ROOT).returncode != 0:
            failed.append(script)
    subprocess.run([sys.executable, str(h.HERE / "plot_scaling.py")], cwd=h.ROOT)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
