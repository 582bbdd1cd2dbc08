"""Findings about a fit, as structured objects with plain-language messages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Diagnostic:
    """One finding: ``code`` is stable for programs, ``message`` is for people."""

    code: str
    severity: str  # "info", "warning" or "error"
    message: str
    parameters: tuple[str, ...] = field(default=())
    suggestion: str = ""

    def __str__(self) -> str:
        text = f"[{self.severity}] {self.message}"
        if self.suggestion:
            text += f"\n    What to try: {self.suggestion}"
        return text
