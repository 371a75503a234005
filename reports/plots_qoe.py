"""Experience per network profile and what measured experience does to business outcomes.

- `freeze_ratio` per profile (mean, with p95 when the run has a distribution);
- modelled vs "with measured QoE" business outcomes per scope (`livelab run` only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from reports.plots_base import no_data_figure

__all__ = [
    "OUTCOME_METRICS",
    "freeze_by_profile",
    "freeze_figure",
    "measured_vs_modelled",
    "outcomes_figure",
]

OUTCOME_METRICS: tuple[str, ...] = ("retention_30s", "watch_time_mean_s", "conversion_rate", "gmv")


def _number(entry: Any, *fields: str) -> float | None:
    if not isinstance(entry, Mapping):
        return None
    for name in fields:
        value = entry.get(name)
        if isinstance(value, int | float) and np.isfinite(value):
            return float(value)
    return None


def freeze_by_profile(doc: Mapping[str, Any]) -> dict[str, tuple[float, float | None]]:
    """Profile → (mean or value of `freeze_ratio`, its p95 or None), sorted by profile name."""
    out: dict[str, tuple[float, float | None]] = {}
    for name, entries in sorted(doc.get("profiles", {}).items()):
        entry = entries.get("freeze_ratio") if isinstance(entries, Mapping) else None
        centre = _number(entry, "mean", "value")
        if centre is not None:
            out[name] = (centre, _number(entry, "p95"))
    return out


def freeze_figure(data: Mapping[str, tuple[float, float | None]]) -> Figure:
    """Horizontal bars: mean freeze ratio per profile, p95 as a tick."""
    if not data:
        return no_data_figure("Freeze ratio per profile", "no freeze_ratio per profile")
    names = list(data)
    fig = Figure(figsize=(7.0, 0.32 * len(names) + 1.4))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, [data[n][0] for n in names], color="#0072B2", label="mean")
    p95 = [(i, p) for i, n in enumerate(names) if (p := data[n][1]) is not None]
    if p95:
        ax.plot([v for _, v in p95], [i for i, _ in p95], "|", color="#D55E00", ms=14, label="p95")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("freeze ratio (share of watching stalled)")
    ax.set_title("Freeze ratio per network profile")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def measured_vs_modelled(
    doc: Mapping[str, Any], metrics: Sequence[str] = OUTCOME_METRICS
) -> dict[str, dict[str, tuple[float, float]]]:
    """Metric → scope → (modelled, with measured QoE) where both exist."""
    measured = doc.get("with_measured_qoe")
    if not isinstance(measured, Mapping):
        return {}
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for metric in metrics:
        pairs: dict[str, tuple[float, float]] = {}
        scopes = [("overall", doc.get("overall", {}), measured.get("overall", {}))]
        for code, entries in sorted(doc.get("markets", {}).items()):
            scopes.append((code, entries, measured.get("markets", {}).get(code, {})))
        for scope, model_entries, measured_entries in scopes:
            a = _number(model_entries.get(metric), "value", "mean")
            b = _number(measured_entries.get(metric), "value", "mean")
            if a is not None and b is not None:
                pairs[scope] = (a, b)
        if pairs:
            out[metric] = pairs
    return out


def outcomes_figure(data: Mapping[str, Mapping[str, tuple[float, float]]]) -> Figure:
    """One panel per metric: modelled and measured-QoE bars side by side per scope."""
    if not data:
        return no_data_figure(
            "Modelled vs measured-QoE outcomes", "no with_measured_qoe (a model-only run)"
        )
    fig = Figure(figsize=(4.2 * len(data), 3.4))
    axes = fig.subplots(1, len(data), squeeze=False)[0]
    for ax, (metric, pairs) in zip(axes, data.items(), strict=True):
        scopes = list(pairs)
        x = np.arange(len(scopes))
        ax.bar(x - 0.2, [pairs[s][0] for s in scopes], 0.4, color="#999999", label="modelled")
        ax.bar(x + 0.2, [pairs[s][1] for s in scopes], 0.4, color="#0072B2", label="measured QoE")
        ax.set_xticks(x, scopes, fontsize=8)
        ax.set_title(metric)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Business outcomes: modelled vs with measured QoE")
    fig.tight_layout()
    return fig
