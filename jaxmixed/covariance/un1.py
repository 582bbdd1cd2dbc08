"""UN(1): the diagonal of UN, a separate variance per effect, named UN(i,i).

Same matrix as VC with several effects; only the parameter names differ,
as in PROC MIXED.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vc import VC


@dataclass(frozen=True)
class UN1(VC):
    name = "UN(1)"

    def param_names(self):
        return tuple(f"UN({k + 1},{k + 1})" for k in range(self.dim))
