"""Covariance structures by their PROC MIXED names (TYPE=).

Adding a structure: one new module defining a :class:`Structure` subclass,
and one line in ``REGISTRY`` below.
"""

from __future__ import annotations

from ..errors import SpecificationError
from .ar1 import AR1
from .base import Structure
from .cs import CS
from .un import UN
from .un1 import UN1
from .vc import VC

#: TYPE= name -> (structure class, allowed on the G side, allowed on the R side)
REGISTRY: dict[str, tuple[type[Structure], bool, bool]] = {
    "VC": (VC, True, True),
    "UN": (UN, True, True),
    "UN(1)": (UN1, True, False),
    "CS": (CS, True, True),
    "AR(1)": (AR1, True, True),
}


def lookup(type_: str, side: str) -> type[Structure]:
    """The structure class for ``type_`` on ``side`` ("RANDOM" or "REPEATED")."""
    entry = REGISTRY.get(type_)
    if entry is None:
        known = ", ".join(REGISTRY)
        raise SpecificationError(f"unknown covariance type {type_!r} in the {side} statement; known types: {known}")
    cls, g_ok, r_ok = entry
    if (side == "RANDOM" and not g_ok) or (side == "REPEATED" and not r_ok):
        raise SpecificationError(f"type={type_!r} is not available in the {side} statement")
    return cls


__all__ = ["REGISTRY", "Structure", "lookup", "VC", "UN", "UN1", "CS", "AR1"]
