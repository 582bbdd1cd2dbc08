"""The general likelihood path: Henderson's mixed model equations with the
sparse structure of Z, for random effects whose subjects cross.

- :mod:`.crossprod`  design -> weighted cross-products (numpy, once).
- :mod:`.solve`      the four likelihood sums at natural θ (pure JAX).
- :mod:`.starts`     MIVQUE0 from the same cross-products.
- :mod:`.blups`      EBLUPs and their prediction standard errors.
- :mod:`.ranks`      rank computations of the containment method, sparsely.
"""

from .crossprod import CrossProducts, MMEInfo, build as build_mme
from .starts import mivque0 as mme_mivque0

__all__ = ["CrossProducts", "MMEInfo", "build_mme", "mme_mivque0"]
