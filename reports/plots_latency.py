"""Latency CDFs (`join_ms`, `chat_rtt_ms`, `g2g_latency_ms`) with the 600 ms interactive line.

Data come from a run's samples (per market), or — when a run kept none — from the
percentiles in `metrics.json`, drawn as points, since a CDF cannot be invented from three
quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from reports.plots_base import colour, no_data_figure
from reports.report_data import RunData

__all__ = [
    "INTERACTIVE_MS",
    "LATENCY_METRICS",
    "LatencyCurves",
    "ecdf",
    "latency_cdf_figure",
    "latency_curves",
]

INTERACTIVE_MS = 600.0  # seed: interactive scenes need ≤ 600 ms end to end
LATENCY_METRICS: tuple[str, ...] = ("join_ms", "chat_rtt_ms", "g2g_latency_ms")
FloatArray = npt.NDArray[np.float64]


def ecdf(values: Sequence[float] | FloatArray) -> tuple[FloatArray, FloatArray]:
    """(sorted finite values, cumulative share ≤ each value): the empirical CDF's steps."""
    arr = np.sort(np.asarray(values, dtype=float))
    arr = arr[np.isfinite(arr)]
    return arr, np.arange(1, arr.size + 1, dtype=float) / max(arr.size, 1)


@dataclass(frozen=True)
class LatencyCurves:
    """Per metric: samples per scope (`overall` and markets) or, failing that, quantile points."""

    samples: dict[str, dict[str, FloatArray]]
    quantiles: dict[str, dict[str, list[tuple[float, float]]]]


def latency_curves(run: RunData, metrics: Sequence[str] = LATENCY_METRICS) -> LatencyCurves:
    """Gather what the CDF plot draws from a run."""
    samples: dict[str, dict[str, FloatArray]] = {}
    quantiles: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for metric in metrics:
        kept = run.samples.get(metric)
        if kept is not None and kept.good_values().size:
            per: dict[str, FloatArray] = {"overall": kept.good_values()}
            for code in sorted(set(kept.market.tolist()) - {""}):
                values = kept.select(market=code).good_values()
                if values.size:
                    per[code] = values
            samples[metric] = per
            continue
        points = _quantile_points(run.metrics, metric)
        if points:
            quantiles[metric] = points
    return LatencyCurves(samples, quantiles)


def _quantile_points(doc: Mapping[str, Any], metric: str) -> dict[str, list[tuple[float, float]]]:
    scopes: dict[str, Any] = {"overall": doc.get("overall", {}), **doc.get("markets", {})}
    out: dict[str, list[tuple[float, float]]] = {}
    for scope, entries in scopes.items():
        entry = entries.get(metric) if isinstance(entries, Mapping) else None
        if not isinstance(entry, Mapping):
            continue
        points = [
            (float(entry[f"p{q}"]), q / 100.0)
            for q in (50, 95, 99)
            if isinstance(entry.get(f"p{q}"), int | float)
        ]
        if points:
            out[scope] = points
    return out


def _upper(curves: LatencyCurves, metric: str) -> float:
    if metric in curves.samples:
        values = np.concatenate(list(curves.samples[metric].values()))
        return float(np.percentile(values, 99.5)) * 1.05 if values.size else 0.0
    return max(x for points in curves.quantiles[metric].values() for x, _ in points) * 1.05


def latency_cdf_figure(curves: LatencyCurves, metrics: Sequence[str] = LATENCY_METRICS) -> Figure:
    """One panel per metric: CDF per market (overall in black), the 600 ms line dashed."""
    present = [m for m in metrics if m in curves.samples or m in curves.quantiles]
    if not present:
        return no_data_figure("Latency CDFs", "no latency samples or percentiles in this run")
    fig = Figure(figsize=(4.6 * len(present), 3.6))
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax, metric in zip(axes, present, strict=True):
        if metric in curves.samples:
            for i, (scope, values) in enumerate(curves.samples[metric].items()):
                x, y = ecdf(values)
                style = (
                    {"color": "black", "lw": 2.0} if scope == "overall" else {"color": colour(i)}
                )
                ax.step(x, y, where="post", label=f"{scope} (n={values.size})", **style)
        else:
            for i, (scope, points) in enumerate(curves.quantiles[metric].items()):
                xs, ys = zip(*points, strict=True)
                c = "black" if scope == "overall" else colour(i)
                ax.plot(xs, ys, "o--", color=c, label=f"{scope} p50/p95/p99")
        ax.axvline(INTERACTIVE_MS, color="#D55E00", ls="--", lw=1.2, label="600 ms")
        # Linear axis up to the 99.5th percentile (the extreme tail would squash the body),
        # and always far enough to show the 600 ms line.
        ax.set_xlim(0, max(_upper(curves, metric), INTERACTIVE_MS * 1.1))
        ax.set_xlabel(f"{metric} (ms)")
        ax.set_ylabel("share of samples ≤ x")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.set_title(metric)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
