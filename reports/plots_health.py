"""Load-generator health: CPU and event-loop lag against the limits that invalidate a run.

Reads `loadgen_cpu` (share of one core, 0–1) and `loop_lag_ms` from `metrics.json` (overall),
and their time series when the run's `timeseries.csv` carries columns of those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from reports.plots_base import no_data_figure
from reports.report_data import RunData

__all__ = ["CPU_LIMIT", "LAG_LIMIT_MS", "Health", "health", "health_figure"]

CPU_LIMIT = 0.90  # above this a generator's timings are its own, not the target's
LAG_LIMIT_MS = 100.0
_HEALTH = ("loadgen_cpu", "loop_lag_ms")


@dataclass(frozen=True)
class Health:
    """Summary figures (metric → stat → value) and time series (metric → (t_s, value))."""

    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    series: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(
        default_factory=dict
    )
    valid: bool = True
    notes: tuple[str, ...] = ()


def health(run: RunData) -> Health:
    """Gather generator-health figures from a run."""
    summary: dict[str, dict[str, float]] = {}
    overall: Mapping[str, Any] = run.metrics.get("overall", {})
    for name in _HEALTH:
        entry = overall.get(name)
        if isinstance(entry, Mapping):
            stats = {
                k: float(v)
                for k, v in entry.items()
                if k in ("value", "mean", "p50", "p95", "p99", "max") and isinstance(v, int | float)
            }
            if stats:
                summary[name] = stats
    series = {}
    ts = run.timeseries
    for name in _HEALTH:
        column = ts.get(name)
        if column is not None and column.dtype.kind == "f":
            series[name] = (ts["t_s"].astype(float), column.astype(float))
    notes = tuple(str(n) for n in run.metrics.get("meta", {}).get("notes", []))
    return Health(summary, series, run.valid, notes)


def health_figure(data: Health) -> Figure:
    """Bars of each health figure against its limit, or its time series when kept."""
    if not data.summary and not data.series:
        return no_data_figure(
            "Generator health", "no loadgen_cpu or loop_lag_ms (a model-only run has no generator)"
        )
    names = [n for n in _HEALTH if n in data.summary or n in data.series]
    fig = Figure(figsize=(4.6 * len(names), 3.2))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        limit = CPU_LIMIT if name == "loadgen_cpu" else LAG_LIMIT_MS
        if name in data.series:
            t, v = data.series[name]
            ax.plot(t, v, color="#0072B2")
            ax.set_xlabel("time (s)")
        else:
            stats = data.summary[name]
            ax.bar(list(stats), list(stats.values()), color="#0072B2")
        ax.axhline(limit, color="#D55E00", ls="--", label=f"limit {limit:g}")
        ax.set_title(name + ("" if data.valid else "  (run INVALID)"))
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
