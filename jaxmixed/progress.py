"""Progress displays for long fits and BY jobs, on a terminal only.

A fit's Newton loop is one compiled ``while_loop``.  With ``jm.mixed(...,
verbose=True)`` it is compiled with a host callback (``jax.debug.callback``)
that calls :func:`emit` once per iteration with the iteration number, −2ℓ and
the convergence criterion; :func:`emit` hands them to the display that is
active in this process.  The flag is static, so the program compiled for the
default ``verbose=False`` has no callback and costs nothing; with it, each
iteration pays one device-to-host transfer of three scalars (see
``docs/progress.md`` for the measured overhead).

The display is a one-line rich status on stderr when stderr is a terminal;
otherwise (a log file, a pipe, a test) lines are printed only when ``force``
is set, so scripts and CI stay quiet.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager

class _Active:
    """The display that receives iterations.  Process-wide, not thread-local:
    JAX runs host callbacks on its own threads."""

    sink = None


_active = _Active()


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def emit(iteration, minus2ll, criterion, status) -> None:
    """Receives one Newton iteration from the compiled loop (host side)."""
    sink = getattr(_active, "sink", None)
    if sink is not None:
        sink.iteration(int(iteration), float(minus2ll), float(criterion), int(status))


class FitProgress:
    """Iteration, −2ℓ and criterion of one fit, as a live line (rich) or plain lines."""

    def __init__(self, stream=None, force: bool = False, label: str = "fit", offset: float = 0.0):
        self.stream = stream if stream is not None else sys.stderr
        # the optimizer works on internally rescaled data: −2ℓ = −2ℓ̃ + offset (scaling.py)
        self.offset = float(offset)
        self.live = _is_tty(self.stream)
        self.enabled = self.live or force
        self.label = label
        self.rows: list[tuple[int, float, float]] = []
        self._status = None
        self._last = None

    def __enter__(self):
        if self.live:
            try:
                from rich.console import Console
            except ImportError:  # without rich ('jaxmixed[progress]'): plain lines
                Console = None
            if Console is not None:
                self._status = Console(file=self.stream).status(f"{self.label}: compiling and starting")
                self._status.__enter__()
        self._prev = getattr(_active, "sink", None)
        _active.sink = self
        return self

    def __exit__(self, *exc):
        _active.sink = self._prev
        if self._status is not None:
            self._status.__exit__(*exc)
        if self.enabled and self._last is not None:
            self._print(self._last, final=True)
        return False

    def iteration(self, it: int, f: float, crit: float, status: int) -> None:
        f = f + self.offset
        if self.rows and self.rows[-1][0] == it:  # the final check repeats the last iterate
            self.rows[-1] = (it, f, crit)
        else:
            self.rows.append((it, f, crit))
        self._last = (it, f, crit, status)
        if self._status is not None:
            self._status.update(self._line(self._last))
        elif self.enabled:
            self._print(self._last)

    def _line(self, row) -> str:
        it, f, crit, status = row
        c = "." if not math.isfinite(crit) else f"{crit:.3e}"
        return f"{self.label}: iteration {it:3d}  -2LL {f:.6f}  criterion {c}"

    def _print(self, row, final: bool = False) -> None:
        if final and self._status is None:
            return
        print(self._line(row), file=self.stream, flush=True)


class ByProgress:
    """Groups done and failed, rate and time left of a BY job.

    ``with ByProgress(total) as p: ... p.advance(ok=True)`` once per group.
    """

    def __init__(self, total: int, stream=None, force: bool = False, label: str = "BY groups"):
        self.total = int(total)
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_tty(self.stream)
        self.enabled = self.live or force
        self.label = label
        self.done = 0
        self.failed = 0
        self._bar = None

    def __enter__(self):
        self.start = time.perf_counter()
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:  # without rich: one line at the end
            Console = None
        if self.live and Console is not None:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[info]}"),
                                 TimeRemainingColumn(), console=Console(file=self.stream), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, info="")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self.enabled:
            print(self.line(), file=self.stream, flush=True)
        return False

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.start
        return (self.done + self.failed) / elapsed if elapsed > 0 else math.nan

    @property
    def eta(self) -> float:
        left = self.total - self.done - self.failed
        r = self.rate
        return left / r if r and r > 0 else math.nan

    def line(self) -> str:
        return (f"{self.label}: {self.done + self.failed}/{self.total} ({self.failed} failed), "
                f"{self.rate:.1f} groups/s, about {self.eta:.0f} s left")

    def advance(self, ok: bool = True, n: int = 1) -> None:
        if ok:
            self.done += n
        else:
            self.failed += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n, info=f"{self.failed} failed, {self.rate:.1f}/s")


@contextmanager
def fit_progress(enabled: bool, label: str = "fit", force: bool = False, offset: float = 0.0):
    """The display for one fit when ``enabled`` (and stderr is a terminal, or ``force``)."""
    if not enabled:
        yield None
        return
    with FitProgress(label=label, force=force, offset=offset) as p:
        yield p
