"""Time against N, log-log, per engine, from the recorded results (results/*.jsonl)
into scaling.png: warm fit (solid) and first fit (dashed) of scenarios 1 and 2,
and peak memory of scenario 4.

    python benchmarks/plot_scaling.py
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

import _harness as h  # noqa: E402

PANELS = [("longitudinal", "Scenario 1: intercept + slope (UN)", "time"),
          ("ar1", "Scenario 2: intercept + AR(1)", "time"),
          ("memory", "Scenario 4: peak RSS", "memory")]


def latest(scenario: str) -> dict:
    """The measurements of the latest recorded run of a scenario (runs are not mixed:
    they may come from different engine versions or machine loads) that finished or
    hit their time cap, by (engine, rows)."""
    path = h.RECORDS / f"{scenario}.jsonl"
    if not path.exists():
        return {}
    out = {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = max((r.get("run", "") for r in records), default="")
    for r in records:
        if r.get("run", "") != last:
            continue
        if r.get("status") == "timeout" and not finite(r.get("limit")) and r.get("note", "").startswith(">"):
            r["limit"] = float(r["note"].split()[1])  # records made before the cap was stored apart
        if r.get("status") == "ok" or (r.get("status") == "timeout" and finite(r.get("limit"))):
            out[(r["engine"], r["rows"])] = r
    return out


def finite(v) -> bool:
    return v is not None and math.isfinite(v)


def main() -> None:
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5.2 * len(PANELS), 4.4))
    for ax, (scenario, title, kind) in zip(axes, PANELS):
        series = defaultdict(list)
        for (engine, _rows), r in sorted(latest(scenario).items(), key=lambda kv: kv[0][1]):
            series[engine].append(r)
        for i, (engine, recs) in enumerate(sorted(series.items())):
            color = f"C{i}"
            capped = [r for r in recs if r["status"] == "timeout"]
            recs = [r for r in recs if r["status"] == "ok"]
            if capped and kind == "time":  # stopped at the cap: the time is at least this
                ax.plot([r["rows"] for r in capped], [r["limit"] for r in capped], "^", color=color, mfc="none",
                        ms=9, label=f"{engine} > cap")
            if kind == "memory":
                ax.plot([r["rows"] for r in recs], [r["peak_rss"] / 2**20 for r in recs], "o-", color=color, label=engine)
                continue
            warm = [(r["rows"], r["warm"]) for r in recs if finite(r.get("warm"))]
            if warm:
                ax.plot(*zip(*warm), "o-", color=color, label=f"{engine} warm")
            first = [(r["rows"], r["first"]) for r in recs if finite(r.get("first"))]
            if first:
                ax.plot(*zip(*first), "s--", color=color, alpha=0.6, label=f"{engine} first")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows N")
        ax.set_ylabel("peak RSS (MiB)" if kind == "memory" else "seconds")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if series:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no recorded results", ha="center", transform=ax.transAxes)
    fig.suptitle("latest recorded run of each scenario (machine, load and engine version: RESULTS.md)", fontsize=9)
    fig.tight_layout()
    out = h.HERE / "scaling.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
