"""Findings about a fit, as structured objects with plain-language messages.

``run.finish`` adds them to a result; each check lives in its own module
(``boundary``, ``gmatrix``, ``hessian``, ``data``, ``convergence``), and
``report`` prints them for ``MixedResult.diagnose()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Diagnostic:
    """One finding: ``code`` is stable for programs, ``message`` is for people.

    ``parameters`` names the covariance parameters or effects involved;
    ``details`` holds numbers behind the message (an LRT, eigenvalues, ...)."""

    code: str
    severity: str  # "info", "warning" or "error"
    message: str
    parameters: tuple[str, ...] = field(default=())
    suggestion: str = ""
    details: dict = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        text = f"[{self.severity}] {self.message}"
        if self.suggestion:
            text += f"\n    What to try: {self.suggestion}"
        return text

    def brief(self) -> str:
        """The first sentence of the message, for the summary."""
        first = self.message.split(". ")[0].rstrip(".")
        return f"[{self.severity}] {self.code}: {first}."
