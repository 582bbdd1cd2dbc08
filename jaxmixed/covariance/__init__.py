"""Covariance structures by their PROC MIXED names (TYPE=).

Adding a structure: one new module defining a :class:`Structure` subclass,
and one line in ``REGISTRY`` below.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import SpecificationError
from .ar1 import AR1
from .base import Structure
from .cs import CS
from .un import UN
from .un1 import UN1
from .vc import VC


def _cls(where: str) -> type[Structure]:
    """The class ``module.Class`` of this package, so that a structure is one
    new module plus one line in ``REGISTRY``."""
    module, _, name = where.rpartition(".")
    return getattr(import_module(f".{module}", __name__), name)


#: TYPE= name -> (structure class, allowed on the G side, allowed on the R side)
REGISTRY: dict[str, tuple[type[Structure], bool, bool]] = {
    "VC": (VC, True, True),
    "UN": (UN, True, True),
    "UN(1)": (UN1, True, False),
    "CS": (CS, True, True),
    "AR(1)": (AR1, True, True),
    "CSH": (_cls("csh.CSH"), True, True),
    "UNR": (_cls("unr.UNR"), True, True),
    "ARH(1)": (_cls("arh1.ARH1"), True, True),
    "ARMA(1,1)": (_cls("arma11.ARMA11"), True, True),
    "TOEP": (_cls("toep.TOEP"), True, True),
    "TOEPH": (_cls("toeph.TOEPH"), True, True),
    "ANTE(1)": (_cls("ante1.ANTE1"), True, True),
    "HF": (_cls("hf.HF"), True, True),
    "SP(POW)": (_cls("sp_pow.SPPOW"), False, True),
    "SP(EXP)": (_cls("sp_exp.SPEXP"), False, True),
    "SP(GAU)": (_cls("sp_gau.SPGAU"), False, True),
    "SP(SPH)": (_cls("sp_sph.SPSPH"), False, True),
    "UN@AR(1)": (_cls("un_ar1.UNAR1"), False, True),
    "UN@UN": (_cls("un_un.UNUN"), False, True),
    "UN@CS": (_cls("un_cs.UNCS"), False, True),
    **{f"FA0({q})": (_cls("fa0.FA0").of(q), True, True) for q in range(1, 10)},
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
