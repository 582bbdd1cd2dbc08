"""Scenario 2: the longitudinal data with AR(1) errors within subject (in time
order) plus a random intercept by subject, REML.  jaxmixed against nlme::lme
with corAR1 (statsmodels' MixedLM has no R-side correlation).

    python benchmarks/bench_ar1.py                 # 1,000 and 5,000 subjects
    python benchmarks/bench_ar1.py 1000 10000 50000 --record
"""

from __future__ import annotations

import argparse

import _harness as h

SIZES = [1_000, 5_000]


def main(argv=None):
    p = h.common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), SIZES, peer_cap=100_000)
    args = p.parse_args(argv)
    args.no_statsmodels = True
    peers = [h.Engine("nlme", "r", model="ar1")]
    info = h.machine()
    records, table = h.compare("ar1", "ar1", lambda s: h.longitudinal(s, 8), args.sizes, peers, args,
                               jm_extra={"ddfm": args.ddfm})
    if args.record:
        h.record("ar1", records)
        h.append_results("Scenario 2: random intercept + AR(1) within subject, REML", table, info,
                         f"Repeats {args.repeats} (warm = median of all but the first); time cap {args.timeout:.0f} s.", extra=h.user_note(args))


if __name__ == "__main__":
    main()
