"""NOBOUND: a structure with its boundary constraints lifted (PROC MIXED's
PARMS / NOBOUND option).

For a structure linear in θ (VC, UN, CS, TOEP, HF, UN(1)) the working
parameters become the natural ones (the identity transform), so a variance
may go negative and a covariance past ±√(σ²_i σ²_j).  For a non-linear
structure only its variances are freed (σ² = w instead of w²); its
correlation-type parameters keep their transform.  V may then be indefinite
at a trial point: −2ℓ is not finite there and the optimizer rejects the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class NoBound(Structure):
    base: Structure | None = None

    @classmethod
    def wrap(cls, s: Structure) -> "NoBound":
        return s if isinstance(s, NoBound) else cls(dim=s.dim, labels=s.labels, base=s)

    @property
    def name(self):
        return self.base.name

    @property
    def linear(self):
        return self.base.linear

    @property
    def n_coords(self):
        return self.base.n_coords

    @property
    def scale_index(self):
        return self.base.scale_index

    def param_names(self):
        return self.base.param_names()

    def variance_mask(self):
        # nothing is bounded below any more
        return np.zeros(self.base.n_params, bool)

    def linear_mask(self):
        """Parameters MIVQUE0 solves for (the base structure's linear ones)."""
        return np.ones(self.n_params, bool) if self.base.linear else self.base.variance_mask()

    def scale_mask(self):
        return self.base.scale_mask()

    def root_scale_mask(self):
        return getattr(self.base, "root_scale_mask", lambda: np.zeros(self.n_params, bool))()

    def lower_bounds(self):
        return np.full(self.n_params, -np.inf)

    def default_start(self):
        return self.base.default_start()

    def _free(self):
        return np.ones(self.n_params, bool) if self.base.linear else self.base.variance_mask()

    def to_natural(self, w):
        if self.base.linear:
            return w
        return jnp.where(jnp.asarray(self._free()), w, self.base.to_natural(w))

    def to_working(self, theta):
        theta = np.asarray(theta, float)
        if self.base.linear:
            return theta.copy()
        return np.where(self._free(), theta, self.base.to_working(theta))

    @property
    def unit_working(self):
        return 1.0

    def matrix(self, theta, pos=None, coords=None):
        return self.base.matrix(theta, pos, coords)
