"""What a fit keeps so that inference can be computed on demand.

A :class:`MixedResult` is immutable; it holds one ``InferenceContext``
privately.  The context caches what is costly and used again (derivatives of
the covariance of β̂, the Type III contrasts, the rank computations of the
containment method).  The caches are never visible as state: every method of
the result returns the same answer whether or not they are filled.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np


class InferenceContext:
    """Fit-time quantities in the likelihood's own order (layout order of θ,
    non-aliased columns of X)."""

    def __init__(self, *, design, layout, blocks, buckets, theta, at_bound, asy, cov_b, beta):
        self.design = design
        self.layout = layout
        self.blocks = blocks
        self.buckets = buckets
        self.theta = np.asarray(theta, float)  # natural θ, layout order, boundary values set to 0
        self.at_bound = np.asarray(at_bound, bool)
        self.asy = np.asarray(asy, float)  # 2 H⁻¹, NaN on bound rows/columns or where H is not p.d.
        self.cov_b = np.asarray(cov_b, float)  # C = (X'V⁻¹X)⁻¹ on the non-aliased columns
        self.beta = np.asarray(beta, float)  # β̂ on the non-aliased columns

    # ------------------------------------------------------------------ basics
    @property
    def n_obs(self) -> int:
        return self.design.n_used

    @property
    def rank_x(self) -> int:
        return int(self.design.x.shape[1])

    @property
    def kept(self) -> np.ndarray:
        """Mask over all fixed-effect columns (aliased included) of those estimated."""
        return ~np.asarray(self.design.aliased, bool)

    @cached_property
    def w(self) -> np.ndarray:
        """W, the asymptotic covariance of θ̂ used by Satterthwaite and Kenward–Roger:
        2 H⁻¹ of −2ℓ in the natural parameters (the inverse observed information
        of ℓ), with parameters on a bound held fixed (rows and columns 0)."""
        w = np.where(self.at_bound[:, None] | self.at_bound[None, :], 0.0, self.asy)
        return w

    @cached_property
    def sensitivity(self):
        """Φ and ∂Φ/∂θ (first derivatives only: what Satterthwaite needs)."""
        if "sensitivity2" in self.__dict__:
            return self.sensitivity2
        from .vcov import sensitivity

        return sensitivity(self, second=False)

    @cached_property
    def sensitivity2(self):
        """Φ with first and second derivatives and R_ij (Kenward–Roger)."""
        from .vcov import sensitivity

        return sensitivity(self, second=True)

    @cached_property
    def kr_cov(self) -> np.ndarray:
        from .vcov import kenward_roger_cov

        return kenward_roger_cov(self)

    @cached_property
    def fixed_terms(self):
        from .terms import fixed_terms

        return fixed_terms(self.design)

    @cached_property
    def random_terms(self):
        from .terms import random_terms

        return random_terms(self.design)

    @cached_property
    def containment_df(self):
        from .ddf import containment_df

        return containment_df(self)

    @cached_property
    def betwithin_df(self):
        from .ddf import betwithin_df

        return betwithin_df(self)

    @cached_property
    def type3_contrasts(self):
        from .type3 import type3_contrasts

        return type3_contrasts(self)

    @cached_property
    def alias_map(self):
        from .estimate import alias_map

        return alias_map(self)

    @cached_property
    def random_solution(self):
        from .blups import random_solution

        return random_solution(self)
