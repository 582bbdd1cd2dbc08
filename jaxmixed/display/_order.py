"""Where each row of ``covparms`` sits in the fit's internal parameter vector.

The table lists each REPEATED structure's residual scale after its other
parameters (as PROC MIXED does); internally the scale sits at the structure's
``scale_index``.
"""

from __future__ import annotations

import numpy as np


def covparm_order(layout) -> np.ndarray:
    """``order[i]``: the internal position of row i of ``covparms``."""
    n_g = sum(gk.structure.n_params for gk in layout.g_kinds)
    out, off = list(range(n_g)), n_g
    for s in layout.r_structures:
        idx = list(range(off, off + s.n_params))
        if s.scale_index is not None:
            idx.append(idx.pop(s.scale_index))
        out += idx
        off += s.n_params
    return np.array(out, int)
