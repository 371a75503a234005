"""Plots of a simulated run: pure functions from data to a matplotlib `Figure` (object API, Agg).

Each `*_figure` takes plain arrays and returns a `Figure`; nothing is drawn on a global pyplot
state and nothing is saved here except by `save`. The `*_data` helpers compute what the
figures show from per-viewer arrays, so the numbers can be tested exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

__all__ = [
    "FUNNEL_STAGES",
    "concurrency_figure",
    "funnel_data",
    "funnel_figure",
    "referral_data",
    "referral_figure",
    "retention_data",
    "retention_figure",
    "run_figures",
    "save",
]

FloatArray = NDArray[np.float64]
FUNNEL_STAGES: tuple[str, ...] = ("arrived", "first frame", "≥ 3 s", "≥ 30 s", "trusted", "ordered")


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def concurrency_figure(times_s: FloatArray, concurrent: Mapping[str, FloatArray]) -> Figure:
    """Concurrent viewers per market over the stream (stacked areas), time in minutes."""
    fig = _figure()
    ax = fig.add_subplot()
    minutes = np.asarray(times_s, dtype=float) / 60.0
    labels = list(concurrent)
    if labels:
        ax.stackplot(minutes, *[np.asarray(concurrent[k], float) for k in labels], labels=labels)
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel("minutes from stream start")
    ax.set_ylabel("concurrent viewers")
    ax.set_title("Concurrency per market")
    ax.grid(alpha=0.3)
    return fig


def retention_data(
    watch_s: FloatArray, horizon_s: float, points: int = 200
) -> tuple[FloatArray, FloatArray]:
    """(t_s, share of viewers watching at least t_s): t = 0, then log-spaced 1 s … `horizon_s`."""
    # Log-spaced after 1 s: the first 30 s decide, the tail runs for an hour.
    t = np.concatenate(([0.0], np.geomspace(1.0, max(horizon_s, 1.0), points - 1)))
    watch = np.sort(np.asarray(watch_s, dtype=float))
    if watch.size == 0:
        return t, np.zeros_like(t)
    below = np.searchsorted(watch, t, side="left")
    share: FloatArray = 1.0 - below / watch.size
    return t, share


def retention_figure(curves: Mapping[str, tuple[FloatArray, FloatArray]]) -> Figure:
    """Retention curves: share of arrivals still watching t after their first frame."""
    fig = _figure()
    ax = fig.add_subplot()
    for label, (t, share) in curves.items():
        ax.plot(np.asarray(t) / 60.0, share, label=label)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.set_xlabel("minutes after first frame (30 s line dashed)")
    ax.set_ylabel("share of arrivals still watching")
    ax.set_title("Retention")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize="small")
    return fig


def funnel_data(viewers: Mapping[str, NDArray[Any]], mask: NDArray[np.bool_]) -> list[float]:
    """Counts at each `FUNNEL_STAGES` stage for the viewers selected by `mask`."""
    watch = viewers["watch_s"][mask]
    started = ~viewers["abandoned"][mask]
    return [
        float(mask.sum()),
        float(started.sum()),
        float((started & (watch >= 3.0)).sum()),
        float((started & (watch >= 30.0)).sum()),
        float(viewers["trusted"][mask].sum()),
        float(viewers["ordered"][mask].sum()),
    ]


def funnel_figure(funnels: Mapping[str, Sequence[float]]) -> Figure:
    """The funnel per market as shares of arrivals (log scale: orders are a few %)."""
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(FUNNEL_STAGES))
    width = 0.8 / max(1, len(funnels))
    for i, (label, counts) in enumerate(funnels.items()):
        base = counts[0] if counts and counts[0] > 0 else 1.0
        shares = np.asarray(counts, float) / base
        ax.bar(x + i * width, np.maximum(shares, 1e-4), width, label=label)
    ax.set_xticks(x + width * (len(funnels) - 1) / 2, FUNNEL_STAGES)
    ax.set_yscale("log")
    ax.set_ylabel("share of arrivals")
    ax.set_title("Funnel: pass-by → information → trust → purchase")
    if funnels:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    return fig


def referral_data(generation: NDArray[np.integer[Any]], mask: NDArray[np.bool_]) -> FloatArray:
    """Arrivals per referral generation (index 0 = organic) among `mask`."""
    counts: FloatArray = np.bincount(generation[mask].astype(np.int64)).astype(float)
    return counts


def referral_figure(generations: Mapping[str, FloatArray]) -> Figure:
    """Arrivals per referral generation per market (0 = organic), log scale."""
    fig = _figure()
    ax = fig.add_subplot()
    longest = max((len(v) for v in generations.values()), default=1)
    x = np.arange(longest)
    width = 0.8 / max(1, len(generations))
    for i, (label, counts) in enumerate(generations.items()):
        padded = np.zeros(longest)
        padded[: len(counts)] = counts
        ax.bar(x + i * width, np.maximum(padded, 0.5), width, label=label)
    ax.set_xticks(x + width * (len(generations) - 1) / 2, [str(g) for g in x])
    ax.set_yscale("log")
    ax.set_xlabel("referral generation (0 = organic)")
    ax.set_ylabel("arrivals")
    ax.set_title("Referral generations")
    if generations:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    return fig


def run_figures(result: Any) -> dict[str, Figure]:
    """The four figures of a `sim.SimResult`, keyed by file stem."""
    v = result.viewers
    markets = list(result.markets)
    masks = {code: v["market"] == i for i, code in enumerate(markets)}
    return {
        "concurrency": concurrency_figure(
            result.times_s, {c: result.series["concurrent"][i] for i, c in enumerate(markets)}
        ),
        "retention": retention_figure(
            {c: retention_data(v["watch_s"][m], result.duration_s) for c, m in masks.items()}
        ),
        "funnel": funnel_figure({c: funnel_data(v, m) for c, m in masks.items()}),
        "referrals": referral_figure(
            {c: referral_data(v["generation"], m) for c, m in masks.items()}
        ),
    }


def save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` to `path` (format from the suffix) and return the path."""
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    return out
