"""Property-based tests: random data and model specifications (see tests/fuzz_cases.py).

The default profile is small so that CI stays fast; ``HYPOTHESIS_PROFILE=campaign``
(or ``python tests/fuzz_campaign.py``) runs many more cases.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings

from fuzz_cases import cases, check_case

settings.register_profile(
    "ci", max_examples=10, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "campaign", max_examples=2000, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@given(cases())
def test_random_specifications_fit_or_raise_our_errors(case):
    check_case(case)
