"""The forest plot of a strategy comparison (matplotlib object API; returns a `Figure`).

One panel per figure (e.g. `gmv`, `retention_30s`, `watch_time_mean_s`); one row per market and
variant; the point is the paired difference to the baseline and the bar its 95 % interval, both
as a percentage of the baseline's mean so markets of different sizes share one axis. Filled
points are significant (the interval excludes zero), hollow ones are not. Saving is separate.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from reports.compare import Comparison, Difference

__all__ = ["DEFAULT_FOREST_FIGURES", "forest_plot", "forest_rows"]

DEFAULT_FOREST_FIGURES: tuple[str, ...] = (
    "gmv", "retention_30s", "referral_k", "watch_time_mean_s", "conversion_rate",
)  # fmt: skip


def forest_rows(
    comparison: Comparison, figure: str, scopes: Sequence[str] | None = None
) -> list[tuple[str, Difference]]:
    """`(label, difference)` rows for one figure, in scope then variant order (top to bottom)."""
    rows = []
    for scope in scopes or comparison.scopes:
        for variant in comparison.variants[1:]:
            try:
                d = comparison.difference(variant, scope, figure)
            except KeyError:
                continue
            rows.append((f"{scope} · {variant}", d))
    return rows


def _percent(d: Difference) -> tuple[float, float, float] | None:
    if not d.base_mean:
        return None
    lo, hi = d.ci95 if d.ci95 else (d.diff, d.diff)
    scale = 100.0 / abs(d.base_mean)
    return d.diff * scale, lo * scale, hi * scale


def forest_plot(
    comparison: Comparison,
    figures: Sequence[str] = DEFAULT_FOREST_FIGURES,
    scopes: Sequence[str] | None = None,
) -> Figure:
    """Forest plot of `variant − baseline` (% of baseline, 95 % CI) for `figures` per scope.

    Figures no variant reports are left out; a comparison with none of them gets one panel
    that says so instead of failing.
    """
    present = [f for f in figures if forest_rows(comparison, f, scopes)]
    n_rows = max((len(forest_rows(comparison, f, scopes)) for f in present), default=1)
    fig = Figure(figsize=(3.2 * max(1, len(present)) + 1.5, 0.32 * n_rows + 1.6))
    if not present:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no comparable figures", ha="center", va="center")
        ax.set_axis_off()
        return fig
    axes = fig.subplots(1, len(present), sharey=True, squeeze=False)[0]
    colors = {v: f"C{i}" for i, v in enumerate(comparison.variants[1:])}
    for ax, name in zip(axes, present, strict=True):
        rows = forest_rows(comparison, name, scopes)
        for y, (_, d) in enumerate(rows):
            pct = _percent(d)
            if pct is None:
                continue
            mid, lo, hi = pct
            color = colors[d.variant]
            ax.plot([lo, hi], [y, y], color=color, linewidth=1.6)
            ax.plot(
                [mid],
                [y],
                marker="o",
                color=color,
                markerfacecolor=color if d.significant else "white",
                markersize=5,
            )
        ax.axvline(0.0, color="0.3", linewidth=0.8, linestyle="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"Δ vs {comparison.baseline}, % of baseline", fontsize=8)
        ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        f"{comparison.replications} paired replications · filled = interval excludes zero",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
