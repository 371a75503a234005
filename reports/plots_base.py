"""Shared pieces of the report's plots: the empty-data figure and PNG encoding.

Plot functions elsewhere take data and return a `matplotlib.figure.Figure` (object API, no
pyplot state); saving is separate (`png_bytes`). A plot with nothing to show returns
`no_data_figure` with the reason, so a model-only run still gets a complete report.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["MARKET_COLOURS", "colour", "no_data_figure", "png_bytes"]

# Colour-blind-safe cycle (Okabe-Ito); markets keep their colour across plots by position.
MARKET_COLOURS: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)  # fmt: skip


def colour(index: int) -> str:
    return MARKET_COLOURS[index % len(MARKET_COLOURS)]


def no_data_figure(title: str, reason: str) -> Figure:
    """A small figure that says why a plot is empty instead of failing."""
    fig = Figure(figsize=(6.4, 2.0))
    ax: Axes = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.45, f"no data: {reason}", ha="center", va="center", fontsize=11, color="#555")
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure, dpi: int = 96) -> bytes:
    """The figure as PNG bytes (Agg renderer via `Figure.savefig`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
