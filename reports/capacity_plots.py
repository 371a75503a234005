"""The capacity picture: the knee curve and the plan (matplotlib object API, returns a Figure).

Left: every p95 latency the steps measured (ms) against audience, each gate limit as a dashed
line in the same colour, the error rate on a second axis (%), and the knee as a vertical line.
Right: instances per edge region, annotated with the planned egress (Gbit/s). Saving is separate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

__all__ = ["capacity_figure", "latency_series"]


# Not response latencies of the target: generator health, and the host's think time.
_NOT_PLOTTED = ("start_lag_ms", "action_lag_ms", "answer_ms")


def latency_series(curve: Mapping[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
    """`{figure: (audiences, values)}` for the `*_ms.p95` figures of valid steps (None skipped).

    Start lag and answer time (which includes the host's think time) are left out unless a
    limit names them.
    """
    limited = {str(text).split()[0] for text in curve.get("limits", [])}
    out: dict[str, tuple[list[int], list[float]]] = {}
    for step in curve["steps"]:
        if not step["valid"]:
            continue
        for key, value in sorted(step["figures"].items()):
            hidden = key.split(".")[0] in _NOT_PLOTTED and key not in limited
            if key.endswith("_ms.p95") and value is not None and not hidden:
                xs, ys = out.setdefault(key, ([], []))
                xs.append(int(step["audience"]))
                ys.append(float(value))
    return out


def _limit_value(limits: Sequence[str], key: str) -> float | None:
    for text in limits:
        parts = text.split()
        if len(parts) == 3 and parts[0] == key:
            return float(parts[2])
    return None


def capacity_figure(curve: Mapping[str, Any] | None, plan: Sequence[Mapping[str, Any]]) -> Figure:
    """Knee curve (left) and instances per region (right) from `capacity.json` parts."""
    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    if not curve or not curve.get("steps"):
        left.text(0.5, 0.5, "knee given, not measured", ha="center", va="center")
        left.set_axis_off()
    else:
        limits = list(curve.get("limits", []))
        for i, (key, (xs, ys)) in enumerate(latency_series(curve).items()):
            color = f"C{i}"
            left.plot(xs, ys, marker="o", color=color, label=key)
            limit = _limit_value(limits, key)
            if limit is not None:
                left.axhline(limit, color=color, linestyle="--", linewidth=0.8)
        errors = [
            (int(s["audience"]), 100.0 * float(s["figures"]["error_rate"]))
            for s in curve["steps"]
            if s["valid"] and s["figures"].get("error_rate") is not None
        ]
        if errors:
            twin = left.twinx()
            twin.plot(*zip(*errors, strict=True), color="0.4", marker="x", label="errors %")
            twin.set_ylabel("errors, %")
            twin.set_ylim(bottom=0.0, top=max(1.0, max(e for _, e in errors) * 1.2))
        if curve.get("knee"):
            left.axvline(curve["knee"], color="k", linewidth=1.0)
            left.annotate(
                f"knee {curve['knee']}",
                (curve["knee"], 0),
                xytext=(4, 4),
                textcoords="offset points",
                xycoords=("data", "axes fraction"),
            )
        left.set_xlabel("concurrent viewers on one instance")
        left.set_ylabel("latency, ms")
        left.set_title(
            f"knee search — {curve.get('bound', '')}: {curve.get('reason', '')}"[:90], fontsize=8
        )
        if left.get_legend_handles_labels()[0]:
            left.legend(fontsize=7, loc="upper left")
        left.grid(alpha=0.3)
    regions = [str(p["region"]) for p in plan]
    instances = [int(p["instances"]) for p in plan]
    bars = right.bar(regions, instances, color="C0")
    for bar, p in zip(bars, plan, strict=True):
        right.annotate(
            f"{p['egress_gbps']:.3g} Gbit/s",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    headroom = float(plan[0]["headroom"]) if plan else 0.0
    right.set_title(f"instances per edge region ({headroom:.0%} headroom)", fontsize=9)
    right.set_ylabel("instances")
    right.margins(y=0.15)
    fig.tight_layout()
    return fig
