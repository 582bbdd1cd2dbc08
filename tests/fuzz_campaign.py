"""A long fuzz campaign over tests/fuzz_cases.py: runs rounds of Hypothesis with
fresh seeds until the time is up, records every (shrunk) failure and keeps going.

    PYTHONPATH=. python tests/fuzz_campaign.py --minutes 20 --log fuzz_campaign.log

Prints how many cases were tried, fitted, converged and rejected with a
jaxmixed error, and the failures found.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest  # noqa: E402,F401  (CPU pinning and float64, as in the test run)
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from fuzz_cases import COUNT, cases, check_case  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--round", type=int, default=50, help="examples per Hypothesis round")
    ap.add_argument("--log", default="fuzz_campaign.log")
    args = ap.parse_args()
    end = time.time() + 60 * args.minutes
    failures = []
    log = open(args.log, "a")
    r = 0
    while time.time() < end:
        r += 1

        @seed(1000 + r)
        @settings(max_examples=args.round, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(cases())
        def one_round(case):
            check_case(case)

        try:
            one_round()
        except Exception as exc:  # a counterexample, already shrunk by Hypothesis
            text = "".join(traceback.format_exception(exc))
            failures.append(text)
            log.write(f"=== round {r} failure\n{text}\n")
        log.write(f"round {r}: {COUNT}\n")
        log.flush()
    summary = f"rounds {r}, {COUNT}, failures {len(failures)}"
    log.write(summary + "\n")
    print(summary)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
