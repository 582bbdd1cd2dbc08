"""Scenario 4: peak resident memory of a fit against N, up to 10M rows
(1,000,000 subjects x 10 visits), y ~ time + x with a random intercept and
slope (UN) by subject, REML; lme4's peak where feasible.

Each engine runs in its own process; its peak RSS is the larger of the
sampled RSS of its process tree and its own VmHWM.  "data" is the process's
peak after reading the data and before fitting (interpreter, libraries and the
data frame), so peak - data is what the fit itself added.

    python benchmarks/bench_memory.py                     # 1,000 to 100,000 subjects
    python benchmarks/bench_memory.py 1000 10000 100000 1000000 --record
"""

from __future__ import annotations

import argparse

import _harness as h

SIZES = [1_000, 10_000, 100_000]
VISITS = 10


def main(argv=None):
    p = h.common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), SIZES, repeats=1,
                      timeout=1800.0, peer_cap=100_000)
    args = p.parse_args(argv)
    args.no_statsmodels = True
    info = h.machine()
    records, _ = h.compare("memory", "longitudinal", lambda s: h.longitudinal(s, VISITS), args.sizes,
                           [h.Engine("lme4", "r", model="longitudinal")], args, jm_extra={"ddfm": args.ddfm})
    header = ["engine", "subjects", "rows", "data RSS", "peak RSS", "peak - data", "bytes/row (fit)", "fit s"]
    rows = []
    for r in records:
        data = r.get("rss_data") or float("nan")
        extra = r["peak_rss"] - data
        rows.append([r["engine"], r["size"], r["rows"], h.fmt_bytes(data), h.fmt_bytes(r["peak_rss"]) if r["status"] == "ok" else (r["note"] or r["status"]),
                     h.fmt_bytes(extra), f"{extra / r['rows']:.0f}" if extra > 0 else "-",
                     f"{r['first']:.1f}" if r.get("first") else "-"])
    table = h.markdown_table(header, rows)
    print("\n" + table)
    if args.record:
        h.record("memory", records)
        h.append_results("Scenario 4: peak memory against N (10 visits per subject)", table, info,
                         f"One fit per engine and size (jaxmixed's includes compilation); memory cap {args.mem_cap:g} GiB.", extra=h.user_note(args))


if __name__ == "__main__":
    main()
