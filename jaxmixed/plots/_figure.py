"""A bare matplotlib Figure on the Agg canvas, independent of pyplot's state."""

from __future__ import annotations


def new_figure(width: float = 6.4, height: float = 4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig
