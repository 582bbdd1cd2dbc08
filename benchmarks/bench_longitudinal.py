"""Scenario 1: S subjects x 8 visits, y ~ time + x, random intercept and slope
(UN) by subject, REML.  jaxmixed against lme4::lmer and statsmodels MixedLM.

    python benchmarks/bench_longitudinal.py                 # 1,000 and 10,000 subjects
    python benchmarks/bench_longitudinal.py 1000 50000 --record
"""

from __future__ import annotations

import argparse

import _harness as h

SIZES = [1_000, 10_000]


def main(argv=None):
    p = h.common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), SIZES, peer_cap=200_000)
    p.add_argument("--sm-timeout", type=float, default=120.0, help="time cap of statsmodels per size (seconds)")
    p.add_argument("--sm-max", type=int, default=100_000, help="largest size statsmodels is run at")
    args = p.parse_args(argv)
    peers = [h.Engine("lme4", "r", model="longitudinal"),
             h.Engine("statsmodels", "python", "statsmodels", timeout=args.sm_timeout,
                      max_size=args.sm_max)]
    info = h.machine()
    records, table = h.compare("longitudinal", "longitudinal", lambda s: h.longitudinal(s, 8), args.sizes, peers,
                               args, jm_extra={"ddfm": args.ddfm})
    targets = h.target_lines(records, "lme4", 3.0)
    if targets:
        table += "\n\nTarget (jaxmixed warm fit <= 1/3 of lme4's, -2LL equal or lower):\n" + targets
        print("\n" + targets)
    if args.record:
        h.record("longitudinal", records)
        h.append_results("Scenario 1: longitudinal, random intercept and slope (UN), REML", table, info,
                         f"Repeats {args.repeats} (warm = median of all but the first); time cap {args.timeout:.0f} s, "
                         f"statsmodels {args.sm_timeout:.0f} s.", extra=h.user_note(args))


if __name__ == "__main__":
    main()
