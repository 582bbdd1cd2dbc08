"""The short plain-text report of ``MixedResult.diagnose()``."""

from __future__ import annotations


def report(res) -> str:
    head = "Converged." if res.converged else "NOT converged."
    lines = [f"{res.method} fit: {head} {res.status}"]
    if not res.diagnostics:
        lines.append("No problems found.")
    for d in res.diagnostics:
        lines.append(f"- {d.code} ({d.severity}): {d.message}")
        if d.suggestion:
            lines.append(f"  What to try: {d.suggestion}")
    return "\n".join(lines)
