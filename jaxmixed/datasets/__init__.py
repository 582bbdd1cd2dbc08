"""Bundled public data sets (from R's lme4 and nlme), as pandas DataFrames.

``load("sleepstudy")``; ``names()`` lists them.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import DataError


def names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files(__package__).joinpath("data").iterdir() if p.name.endswith(".csv"))


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set by name."""
    if name not in names():
        raise DataError(f"no bundled data set {name!r}; available: {', '.join(names())}")
    with resources.files(__package__).joinpath("data", f"{name}.csv").open() as fh:
        return pd.read_csv(fh)
