"""A bare matplotlib Figure on the Agg canvas, independent of pyplot's state."""

from __future__ import annotations


def new_figure(width: float = 6.4, height: float = 4.8):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("jaxmixed's plots need matplotlib: pip install 'jaxmixed[plots]'") from exc

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig
