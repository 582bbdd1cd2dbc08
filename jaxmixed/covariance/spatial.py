"""Shared base of the isotropic spatial structures SP(POW), SP(EXP), SP(GAU),
SP(SPH) (PROC MIXED REPEATED TYPE=SP(·)(c-list)): M_ij = σ² f(d_ij), where
d_ij is the Euclidean distance between the ``coordinate=`` rows of the two
observations (one column or several).  Parameters ``Variance`` (σ², printed
as ``Residual`` and profiled) and the structure's correlation parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .base import Structure


@dataclass(frozen=True)
class Spatial(Structure):
    linear = False
    scale_index = 0
    #: at least one coordinate column (make_layout checks it)
    n_coords = 1

    def param_names(self):
        return ("Variance", self.name)

    def variance_mask(self):
        return np.array([True, False])

    def lower_bounds(self):
        return np.array([0.0, 0.0])

    def default_start(self):
        return np.array([1.0, 1.0])

    # range parameter θ > 0: θ = exp(w)
    def to_natural(self, w):
        return jnp.stack([w[0] ** 2, jnp.exp(w[1])])

    def to_working(self, theta):
        var, rng = (float(t) for t in theta)
        return np.array([np.sqrt(max(var, 0.0)), np.log(max(rng, 1e-12))])

    def correlation(self, p, coords):
        raise NotImplementedError

    def matrix(self, theta, pos=None, coords=None):
        if coords is None or coords.shape[-1] == 0:
            raise ValueError(f"type={self.name} needs coordinate columns")
        return theta[0] * self.correlation(theta[1], coords)
