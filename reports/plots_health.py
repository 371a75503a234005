"""Load-generator health: CPU, event-loop lag and Locust start lag against their limits.

Sources, all optional: the media panel's `panel.json` `health` (per process: `cpu_pct` and
`lag_ms` every `interval_s`), Locust's exact samples `start_lag_ms`/`action_lag_ms` (how late a
virtual viewer acted, on stream time), and `metrics.json` overall `loadgen_cpu` (% of one core,
as Locust and the panel report it), `loop_lag_ms` and `start_lag_ms` when no series were kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from reports.plots_base import colour, no_data_figure
from reports.report_data import RunData

__all__ = ["LIMITS", "Health", "health", "health_figure"]

FloatArray = npt.NDArray[np.float64]
# Panel → limit: 90 % CPU is where Locust itself warns; 100 ms of event-loop lag delays media
# timestamps visibly; 2 s start lag is `livelab run`'s default saturation limit (`[load]`).
LIMITS: dict[str, float] = {"cpu %": 90.0, "event-loop lag (ms)": 100.0, "start lag (ms)": 2000.0}
_SUMMARY = {"loadgen_cpu": "cpu %", "loop_lag_ms": "event-loop lag (ms)",
            "start_lag_ms": "start lag (ms)"}  # fmt: skip


@dataclass(frozen=True)
class Health:
    """Per panel: series `(label, t_s, values)` and, failing those, summary `stat → value`."""

    series: dict[str, list[tuple[str, FloatArray, FloatArray]]] = field(default_factory=dict)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    valid: bool = True
    notes: tuple[str, ...] = ()


def _panel_series(run: RunData) -> dict[str, list[tuple[str, FloatArray, FloatArray]]]:
    path = run.file("panel.json")
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    out: dict[str, list[tuple[str, FloatArray, FloatArray]]] = {}
    for proc in data.get("health", []) if isinstance(data, dict) else []:
        if not isinstance(proc, dict):
            continue
        step = float(proc.get("interval_s") or 1.0)
        label = f"panel {proc.get('process', '?')}"
        for key, panel in (("cpu_pct", "cpu %"), ("lag_ms", "event-loop lag (ms)")):
            values: FloatArray = np.asarray(proc.get(key) or [], dtype=np.float64)
            times: FloatArray = np.arange(values.size, dtype=np.float64) * step
            if values.size:
                out.setdefault(panel, []).append((label, times, values))
    return out


def health(run: RunData) -> Health:
    """Gather generator-health figures from a run."""
    series = _panel_series(run)
    for name in ("start_lag_ms", "action_lag_ms"):
        kept = run.samples.get(name)
        if kept is not None and len(kept):
            order = np.argsort(kept.t_s, kind="stable")
            label = "Locust " + name.removesuffix("_ms").replace("_", " ")
            series.setdefault("start lag (ms)", []).append(
                (label, kept.t_s[order] - kept.t_s.min(), kept.value[order])
            )
    summary: dict[str, dict[str, float]] = {}
    overall: Mapping[str, Any] = run.metrics.get("overall", {})
    for metric, panel in _SUMMARY.items():
        entry = overall.get(metric)
        if panel in series or not isinstance(entry, Mapping):
            continue
        stats = {
            k: float(v)
            for k, v in entry.items()
            if k in ("value", "mean", "p50", "p95", "p99", "max") and isinstance(v, int | float)
        }
        if stats:
            summary[panel] = stats
    notes = tuple(str(n) for n in run.metrics.get("meta", {}).get("notes", []))
    return Health(series, summary, run.valid, notes)


def health_figure(data: Health) -> Figure:
    """One panel per figure: series over time (or summary bars) with the limit dashed."""
    panels = [p for p in LIMITS if p in data.series or p in data.summary]
    if not panels:
        return no_data_figure(
            "Generator health", "no generator figures (a model-only run has no generator)"
        )
    fig = Figure(figsize=(4.6 * len(panels), 3.3))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        if panel in data.series:
            for i, (label, t, v) in enumerate(data.series[panel]):
                ax.plot(t, v, color=colour(i), lw=1, label=label)
            ax.set_xlabel("time since the generator started (s)")
        else:
            stats = data.summary[panel]
            ax.bar(list(stats), list(stats.values()), color="#0072B2")
        ax.axhline(LIMITS[panel], color="#D55E00", ls="--", label=f"limit {LIMITS[panel]:g}")
        ax.set_title(panel + ("" if data.valid else "  (run INVALID)"))
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
