"""Scenario 3: 1,000 groups x 100 rows, y ~ x with a random intercept by subject
within each group, REML: jaxmixed ``by="group"`` (one call) against lme4 in a
loop in one R process and statsmodels in a loop; jaxmixed fitting the groups
one by one is run as well, and every group's estimates are compared.

    python benchmarks/bench_by.py            # 1,000 groups
    python benchmarks/bench_by.py 200 --repeats 1
"""

from __future__ import annotations

import argparse

import numpy as np

import _harness as h


def on_bound(theta) -> np.ndarray:
    """Variances below 1e-6 of the group's largest parameter count as on the bound 0
    (a peer may stop at 1e-9 where jaxmixed reports the bound itself)."""
    t = np.asarray(theta, float)
    return np.where(np.abs(t) < 1e-6 * np.max(np.abs(t)), 0.0, t)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8)))


def agreement(groups: dict, ref: dict, tol: float) -> str:
    """Largest relative difference of β and θ over the groups where both converged,
    the largest |Δ−2ℓ|, how many groups exceed ``tol`` and the worst one's θ."""
    worst, worst_g, worst_ll, over, both = 0.0, None, 0.0, 0, 0
    for g, r in ref.items():
        o = groups.get(g)
        if o is None or not (o.get("converged", True) and r.get("converged", True)):
            continue
        both += 1
        d = max(rel(o["beta"], r["beta"]), rel(on_bound(o["theta"]), on_bound(r["theta"])))
        if d > worst:
            worst, worst_g = d, g
        worst_ll = max(worst_ll, abs(o["m2ll"] - r["m2ll"]))
        over += d > tol
    text = f"{both} groups compared, max rel diff {worst:.1e}, max |d(-2LL)| {worst_ll:.1e}, {over} over {tol:g}"
    if over:
        fmt = lambda v: "[" + ", ".join(f"{x:.6g}" for x in v) + "]"  # noqa: E731
        text += (f" (worst: group {worst_g}, theta {fmt(groups[worst_g]['theta'])} against "
                 f"{fmt(ref[worst_g]['theta'])}, -2LL {groups[worst_g]['m2ll']:.6f} against {ref[worst_g]['m2ll']:.6f})")
    return text


def main(argv=None):
    p = h.common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), [1_000], repeats=2)
    p.add_argument("--sm-timeout", type=float, default=300.0, help="time cap of the statsmodels loop (seconds)")
    p.add_argument("--tol", type=float, default=1e-4, help="relative agreement asked of the estimates")
    args = p.parse_args(argv)
    cpus = None if args.all_cpus else h.default_cpus()
    folder, tmp = h.data_folder(args)
    info = h.machine()
    header = ["engine", "groups", "rows", "first s", "warm s", "process s", "converged", "peer/jm first",
              "peer/jm warm", "peak RSS"]
    rows, checks, records = [], [], []
    for size in args.sizes:
        df = h.grouped(size)
        files = h.write_data(df, folder, f"by_{size}")
        opts = {"ddfm": args.ddfm}
        runs = {"jaxmixed by=": h.run_engine(h.Engine("jaxmixed by=", "python", "jaxmixed"), files, args, cpus, "by", opts)}
        runs["jaxmixed loop"] = h.python_engine("jaxmixed", "by", files["parquet"], repeats=1, timeout=args.timeout,
                                                mem_cap_gb=args.mem_cap, cpus=cpus, extra={"by_mode": "loop", **opts})
        if not args.no_r and h.have_r():
            runs["lme4 loop"] = h.run_engine(h.Engine("lme4 loop", "r", model="by"), files, args, cpus, "by")
        if not args.no_statsmodels:
            runs["statsmodels loop"] = h.run_engine(h.Engine("statsmodels loop", "python", "statsmodels",
                                                             timeout=args.sm_timeout), files, args, cpus, "by")
        ours = runs["jaxmixed by="] if runs["jaxmixed by="].status == "ok" else runs["jaxmixed loop"]
        ref = runs["jaxmixed loop"].result.get("groups", {})
        for name, run in runs.items():
            groups = run.result.get("groups", {})
            conv = sum(bool(g.get("converged", True)) for g in groups.values())
            rows.append([name, size, len(df), h.fmt_time(run, "first"), h.fmt_time(run, "warm"),
                         f"{run.wall:.1f}" if run.status == "ok" else "-",
                         f"{conv}/{len(groups)}" if groups else "-",
                         h.ratio(run, ours, "first") if run is not ours else "",
                         h.ratio(run, ours, "warm") if run is not ours else "", h.fmt_bytes(run.peak_rss)])
            if run.status != "ok":
                checks.append(f"- {name} at {size}: {run.note or run.status}")
            elif name != "jaxmixed loop" and ref:
                checks.append(f"- {name} vs jaxmixed group by group ({size}): {agreement(groups, ref, args.tol)}")
            records.append({"scenario": "by", "engine": name, "size": size, "rows": len(df), "status": run.status,
                            "note": run.note, "wall": run.wall, "peak_rss": run.peak_rss,
                            **{k: v for k, v in run.result.items() if k != "groups"}})
        if tmp is not None:
            for f in files.values():
                f.unlink(missing_ok=True)
    if tmp is not None:
        tmp.cleanup()
    table = h.markdown_table(header, rows) + "\n\nAgreement (beta and covariance parameters, groups where both converged):\n" + "\n".join(checks)
    targets = h.target_lines(records, "lme4 loop", 10.0, ours="jaxmixed by=")
    if targets:
        table += "\n\nTarget (jaxmixed by= <= 1/10 of the lme4 loop):\n" + targets
    print(table)
    if args.record:
        h.record("by", records)
        h.append_results("Scenario 3: BY groups, random intercept, REML", table, info,
                         f"Repeats {args.repeats} (warm = median of all but the first; the jaxmixed loop is run once, "
                         f"its time includes compilation). Time cap {args.timeout:.0f} s, statsmodels {args.sm_timeout:.0f} s.", extra=h.user_note(args))


if __name__ == "__main__":
    main()
