"""JAX settings jaxmixed relies on: float64, and a persistent compilation cache.

Compiling the Newton program costs seconds; the on-disk cache makes every
later process with the same model shapes start in a fraction of that.  Set
``JAXMIXED_CACHE_DIR`` (or JAX's own ``JAX_COMPILATION_CACHE_DIR``) to move
it, or ``JAXMIXED_CACHE_DIR=off`` to turn it off.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax


def configure_jax() -> None:
    jax.config.update("jax_enable_x64", True)
    where = os.environ.get("JAXMIXED_CACHE_DIR")
    if where == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    path = Path(where) if where else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jaxmixed" / "xla"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: run without the cache
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
