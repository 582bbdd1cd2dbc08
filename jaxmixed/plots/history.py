"""The Newton iteration history: −2ℓ per iteration and the relative Hessian
criterion g'H⁻¹g/|f| (log scale) against PROC MIXED's CONVH."""

from __future__ import annotations

import numpy as np

from ._figure import new_figure


def iteration_history(fit, convh: float = 1e-8):
    h = fit.iteration_history
    label = [c for c in h.columns if "Log Likelihood" in c][0]
    fig = new_figure(6.4, 5.2)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(h["Iteration"], h[label], "o-")
    if len(h) == 1:  # converged at the start (MIVQUE0 can be the REML solution of a balanced design)
        v = float(h[label].iloc[0])
        top.set_ylim(v - 1, v + 1)
    top.set_ylabel(label)
    top.set_title("Iteration history")
    crit = h["Criterion"].to_numpy(float)
    ok = np.isfinite(crit) & (crit > 0)
    bottom.semilogy(h["Iteration"][ok], crit[ok], "o-")
    bottom.axhline(convh, color="grey", ls="--", lw=1, label=f"CONVH = {convh:g}")
    bottom.set_ylabel("Criterion")
    bottom.set_xlabel("Iteration")
    bottom.legend(loc="upper right", fontsize=8)
    return fig
