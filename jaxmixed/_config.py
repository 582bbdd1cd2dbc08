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


def _avoid_pool_deadlock() -> None:
    """Pin the process to one CPU when it is allowed two or fewer.

    jaxlib 0.10's CPU runtime can deadlock on such machines: two batched LAPACK
    calls (Cholesky, triangular solve) run at once on the two intra-op pool
    threads, each splits its batch onto the same pool and waits for chunks no
    free thread is left to run.  With one CPU the pool has one thread, the
    batches run inline and a fit cannot hang; on two CPUs little speed is lost.
    The pool size is read when the backend starts, so this must run before the
    first computation.  ``JAXMIXED_ALL_CPUS=1`` leaves the affinity alone.
    """
    if os.environ.get("JAXMIXED_ALL_CPUS") or not hasattr(os, "sched_getaffinity"):
        return
    try:
        from jax._src import xla_bridge

        if getattr(xla_bridge, "_backends", None):
            return  # too late: the backend already chose its pool size
        cpus = sorted(os.sched_getaffinity(0))
        if 1 < len(cpus) <= 2:
            # spread processes over the CPUs instead of piling every one onto the first
            os.sched_setaffinity(0, {cpus[os.getpid() % len(cpus)]})
    except Exception:  # a sandbox that forbids it, or a jax without that module
        return


def configure_jax() -> None:
    _avoid_pool_deadlock()
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
