"""Internal scaling of the data, undone exactly.

The optimizer works on y/s_y, on each fixed-effect column divided by its
root mean square s_j, and on each random-effect column of a UN, VC or UN(1)
G block divided by its root mean square d_k.  Every factor is rounded to a
power of two, so the scaled arrays are the original ones up to the exponent
and nothing is lost to rounding.  The map back is exact:

    β = s_y β̃ / s_x,   G = s_y² D⁻¹ G̃ D⁻¹ (D = diag d),   R = s_y² R̃,

and when X holds a constant column (an intercept, k·1) y is also centred
(y − m), an exact reparametrisation (β_intercept += m/k) that keeps
r'V⁻¹r = y'V⁻¹y − y'V⁻¹X(X'V⁻¹X)⁻¹X'V⁻¹y free of cancellation when y has a
large mean.  So a UN/VC/UN(1) parameter (i, j) is multiplied by s_y² / (d_i d_j) and
any other parameter by s_y² (a variance-type one), s_y (an FA0 loading) or 1
(a correlation).  For G structures that are not closed under D G D (CS,
AR(1), ...) the Z columns are left as they are.  The −2ℓ of the scaled data
differs by a constant (y → y/s_y divides V by s_y²; X → X S⁻¹):

    −2ℓ = −2ℓ̃ + 2 N' log s_y + [REML] 2 Σ_j log s_j,   N' = N − p (REML), N (ML).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import Layout

#: G structures whose parameters map back exactly under Z -> Z D⁻¹
_DG_CLOSED = ("UN", "VC", "UN(1)")


def _pow2(v: float) -> float:
    if not np.isfinite(v) or v <= 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(v)))


def _rms(a: np.ndarray) -> float:
    a = a[a != 0]
    return float(np.sqrt(np.mean(a * a))) if a.size else 1.0


@dataclass(frozen=True)
class Scaling:
    s_y: float
    center: float  # m subtracted from y before scaling (0 without a constant column)
    const_col: int  # index of the constant column of X, −1 if none
    const_value: float  # its value k
    s_x: np.ndarray  # (p,)
    d_z: tuple  # per G kind: (d,) factors of its effect columns
    factor: np.ndarray  # θ = factor * θ̃ (internal order)
    offset: float  # −2ℓ = −2ℓ̃ + offset

    def theta_to_original(self, theta_s):
        return np.asarray(theta_s) * self.factor

    def theta_to_scaled(self, theta):
        return np.asarray(theta) / self.factor

    def describe(self) -> str:
        parts = [f"y divided by {self.s_y:g}"]
        odd = [f"{v:g}" for v in self.s_x if v != 1.0]
        if odd:
            parts.append(f"fixed-effect columns divided by {', '.join(odd)}")
        dz = [f"{v:g}" for d in self.d_z for v in d if v != 1.0]
        if dz:
            parts.append(f"random-effect columns divided by {', '.join(dz)}")
        return "; ".join(parts)


def identity(layout: Layout, n_x: int) -> Scaling:
    return Scaling(1.0, 0.0, -1, 1.0, np.ones(n_x), tuple(np.ones(k.structure.dim) for k in layout.g_kinds),
                   np.ones(layout.n_params), 0.0)


def _param_factor(layout: Layout, s_y: float, d_z) -> np.ndarray:
    out = []
    for kind_d, s in zip(list(d_z) + [None] * len(layout.r_structures), layout.structures):
        var = s.scale_mask()
        root = getattr(s, "root_scale_mask", lambda: np.zeros(s.n_params, bool))()
        f = np.where(var, s_y**2, np.where(root, s_y, 1.0))
        if kind_d is not None and s.name in _DG_CLOSED:
            if s.name == "UN":
                rows, cols = np.tril_indices(s.dim)
                f = f / (kind_d[rows] * kind_d[cols])
            else:
                f = f / kind_d**2
        out.append(f)
    return np.concatenate(out)


def make_scaling(design, layout: Layout) -> Scaling:
    """Power-of-two scale factors from the data used in the fit."""
    y = np.asarray(design.y, float)
    s_y = _pow2(float(np.std(y)) or _rms(y))
    x = np.asarray(design.x, float)
    const = [j for j in range(x.shape[1]) if x[0, j] != 0 and np.all(x[:, j] == x[0, j])]
    const_col = const[0] if const else -1
    const_value = float(x[0, const_col]) if const else 1.0
    center = float(np.mean(y)) if const else 0.0
    s_x = np.array([_pow2(_rms(x[:, j])) for j in range(x.shape[1])])
    d_z = []
    for kind in layout.g_kinds:
        if kind.structure.name in _DG_CLOSED:
            z = np.asarray(design.randoms[kind.statement].z, float)
            d_z.append(np.array([_pow2(_rms(z[:, e])) for e in range(z.shape[1])]))
        else:
            d_z.append(np.ones(kind.structure.dim))
    n = len(y)
    p = int(sum(np.any(x[:, j] != 0) for j in range(x.shape[1])))
    n_prime = n - p if layout.method != "ML" else n
    offset = 2.0 * n_prime * np.log(s_y)
    if layout.method != "ML":
        offset += 2.0 * float(np.sum(np.log(s_x)))
    return Scaling(s_y, center, const_col, const_value, s_x, tuple(d_z), _param_factor(layout, s_y, d_z),
                   float(offset))


def scale_buckets(buckets, scaling: Scaling):
    """The bucket arrays (numpy, before conversion to JAX) in scaled units."""
    out = []
    dz = np.zeros((max(len(scaling.d_z), 1), max([len(d) for d in scaling.d_z], default=1)))
    dz[:] = 1.0
    for k, d in enumerate(scaling.d_z):
        dz[k, : len(d)] = d
    for b in buckets:
        b = dict(b)
        # padding rows (mask 0) stay 0
        b["y"] = (np.asarray(b["y"]) - scaling.center * np.asarray(b["mask"])) / scaling.s_y
        b["x"] = np.asarray(b["x"]) / scaling.s_x
        if "z" in b and np.asarray(b["z"]).shape[-1]:
            f = dz[np.asarray(b["zkind"]), np.asarray(b["zeff"])]  # (B, q)
            f = np.where(np.asarray(b["zvalid"]) > 0, f, 1.0)
            b["z"] = np.asarray(b["z"]) / f[:, None, :]
        out.append(b)
    return tuple(out)


def sums_to_original(sums_s, scaling: Scaling, n_obs: float):
    """(log|V|, X'V⁻¹X, X'V⁻¹y) of the original data from those of the scaled
    data (y'V⁻¹y is not mapped: NaN).  With S = diag(s_x), y = s_y ỹ + m 1 and
    1 = X e_c / k:

        X'V⁻¹X = S X̃'Ṽ⁻¹X̃ S / s_y²,   X'V⁻¹y = S X̃'Ṽ⁻¹ỹ / s_y + (m/k) X'V⁻¹X e_c,
        log|V| = log|Ṽ| + 2 N log s_y."""
    logdet, xvx, xvy, _ = (np.asarray(a) for a in sums_s)
    sx = scaling.s_x
    xvx_o = (sx[:, None] * xvx * sx[None, :]) / scaling.s_y**2
    xvy_o = sx * xvy / scaling.s_y
    if scaling.const_col >= 0:
        xvy_o = xvy_o + (scaling.center / scaling.const_value) * xvx_o[:, scaling.const_col]
    return [logdet + 2.0 * n_obs * np.log(scaling.s_y), xvx_o, xvy_o, np.array(np.nan)]
