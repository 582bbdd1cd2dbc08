"""jaxmixed: linear mixed models (REML/ML) in JAX, in the manner of SAS PROC MIXED."""

from ._config import configure_jax as _configure_jax

_configure_jax()

from . import datasets, errors  # noqa: E402
from .fit import mixed  # noqa: E402
from .formula import Random, Repeated  # noqa: E402
from .inference import lrt  # noqa: E402
from .persist import load  # noqa: E402
from .results import MixedResult  # noqa: E402

__version__ = "0.1.0"
__all__ = ["mixed", "load", "lrt", "Random", "Repeated", "MixedResult", "datasets", "errors", "__version__"]


def __getattr__(name):
    # jm.plots (matplotlib) is imported on first use, not with the package
    if name in ("plots", "progress", "tables"):
        from importlib import import_module

        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'jaxmixed' has no attribute {name!r}")
