"""The audience of a run: concurrency, retention, funnel and referral generations per market.

One set of figures for `livelab report` (`reports.report_build`) and for the `plots/*.png` of
`livelab simulate` (`write_audience_plots`), both read through `reports.report_data.RunData`, so
they work on a model run and on a load run (`livelab run`, model in `model/`) alike; a plot with
nothing to show is `no_data_figure`. Each plot has a data function (exact numbers, tested), a
figure function and a builder from `RunData` (`AUDIENCE_PLOTS`). Sources:
`timeseries.csv` (`concurrent`/`concurrency` per market), the model's `viewers.npz`
(`watch_s`, `abandoned`, `trusted`, `ordered`, `generation`, `market`) and `metrics.json`
(retention points with their 95 % intervals, the funnel when no viewers were kept,
`referral_k`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from reports.plots_base import colour, no_data_figure, png_bytes
from reports.report_data import RunData, load_run

__all__ = [
    "AUDIENCE_PLOTS",
    "FUNNEL_STAGES",
    "RETENTION_POINTS",
    "concurrency_by_market",
    "concurrency_figure",
    "funnel",
    "funnel_figure",
    "referral_figure",
    "referral_generations",
    "replications",
    "retention_curves",
    "retention_figure",
    "retention_points",
    "write_audience_plots",
]

FloatArray = npt.NDArray[np.float64]
FUNNEL_STAGES: tuple[str, ...] = ("arrived", "started", "stayed 30 s", "trusted", "ordered")
RETENTION_POINTS: dict[str, float] = {
    "retention_3s": 3.0,
    "retention_30s": 30.0,
    "retention_5m": 300.0,
}


def _markets(run: RunData) -> list[str]:
    return sorted(run.metrics.get("markets", {}))


def concurrency_by_market(run: RunData) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Market → (t_s, concurrent viewers) from `timeseries.csv`."""
    ts = run.timeseries
    column = next((c for c in ("concurrent", "concurrency", "viewers") if c in ts), None)
    if column is None or "market" not in ts or ts[column].dtype.kind != "f":
        return {}
    out = {}
    for code in sorted(set(ts["market"].tolist())):
        keep = ts["market"] == code
        order = np.argsort(ts["t_s"][keep], kind="stable")
        out[code] = (ts["t_s"][keep][order].astype(float), ts[column][keep][order].astype(float))
    return out


def concurrency_figure(data: Mapping[str, tuple[FloatArray, FloatArray]]) -> Figure:
    """Concurrent viewers per market over the stream (minutes)."""
    if not data:
        return no_data_figure("Concurrency per market", "no timeseries.csv with concurrency")
    fig = Figure(figsize=(9.0, 3.6))
    ax = fig.add_subplot()
    for i, (code, (t, v)) in enumerate(data.items()):
        ax.plot(t / 60.0, v, color=colour(i), label=code)
    ax.set_xlabel("time since stream start (min)")
    ax.set_ylabel("concurrent viewers")
    ax.set_title("Concurrency per market")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def retention_curves(
    run: RunData, grid_s: Sequence[float] | None = None
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Market → (t_s, share of arrivals still watching at t) from the viewers' `watch_s`."""
    watch = run.viewers.get("watch_s")
    market = run.viewers.get("market")
    if watch is None or market is None or watch.shape != market.shape:
        return {}
    grid = np.asarray(grid_s if grid_s is not None else np.geomspace(1, 7200, 60), dtype=float)
    market = market.astype(str)
    out = {}
    for code in sorted(set(market.tolist())):
        # Sorted once, counted by bisection: a million viewers × the grid needs no n × grid matrix.
        w = np.sort(np.nan_to_num(watch[market == code].astype(float), nan=0.0))
        below = np.searchsorted(w, grid, side="left")
        share: FloatArray = (w.size - below) / w.size
        out[code] = (grid, share)
    return out


def retention_points(doc: Mapping[str, Any]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Market → [(t_s, value, ci_lo, ci_hi)] for retention_3s/30s/5m (ci = value if none)."""
    out: dict[str, list[tuple[float, float, float, float]]] = {}
    for code, entries in sorted(doc.get("markets", {}).items()):
        points = []
        for metric, t in RETENTION_POINTS.items():
            entry = entries.get(metric) if isinstance(entries, Mapping) else None
            value = entry.get("value") if isinstance(entry, Mapping) else None
            if not isinstance(value, int | float):
                continue
            ci = entry.get("ci95") if isinstance(entry, Mapping) else None
            lo, hi = ci if isinstance(ci, list) and None not in ci else (value, value)
            points.append((t, float(value), float(lo), float(hi)))
        if points:
            out[code] = points
    return out


def retention_figure(
    curves: Mapping[str, tuple[FloatArray, FloatArray]],
    points: Mapping[str, list[tuple[float, float, float, float]]],
    replications: int = 1,
) -> Figure:
    """Retention curve per market; the metrics' retention points with 95 % intervals on top.

    With several replications the curves are the first replication's (the one whose viewers
    a run directory keeps) and the points are the mean over all, with their intervals.
    """
    if not curves and not points:
        return no_data_figure("Retention per market", "no watch_s per viewer nor retention_*")
    fig = Figure(figsize=(9.0, 3.8))
    ax = fig.add_subplot()
    codes = sorted(set(curves) | set(points))
    for i, code in enumerate(codes):
        if code in curves:
            t, share = curves[code]
            ax.step(t, share, where="post", color=colour(i), label=code)
        if code in points:
            t_p, v, lo, hi = (np.array(x) for x in zip(*points[code], strict=True))
            ax.errorbar(
                t_p, v, yerr=[v - lo, hi - v], fmt="o", color=colour(i), capsize=3,
                label=None if code in curves else code,
            )  # fmt: skip
    ax.axvline(30, color="#777", ls=":", lw=1)
    ax.text(31, 0.02, "30 s decision window", fontsize=7, color="#555")
    ax.set_xscale("log")
    ax.set_xlabel("time since arrival (s)")
    ax.set_ylabel("share still watching")
    ax.set_ylim(0, 1.02)
    title = "Retention per market (points: retention_3s/30s/5m"
    if replications > 1:
        title += f", mean of {replications} replications with 95 % interval; curves: replication 0"
    ax.set_title(title + ")", fontsize=10 if replications > 1 else 12)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def funnel(run: RunData) -> dict[str, dict[str, float]]:
    """Market → stage → viewers, from per-viewer outcomes, else from `metrics.json` shares."""
    v = run.viewers
    if "market" in v and "watch_s" in v:
        market = v["market"].astype(str)
        out: dict[str, dict[str, float]] = {}
        for code in sorted(set(market.tolist())):
            m = market == code
            stages = {"arrived": float(m.sum())}
            if "abandoned" in v:
                stages["started"] = float((m & ~v["abandoned"].astype(bool)).sum())
            stages["stayed 30 s"] = float((m & (np.nan_to_num(v["watch_s"]) >= 30)).sum())
            for flag, stage in (("trusted", "trusted"), ("ordered", "ordered")):
                if flag in v:
                    stages[stage] = float((m & v[flag].astype(bool)).sum())
            out[code] = stages
        return out
    out = {}
    for code, entries in sorted(run.metrics.get("markets", {}).items()):
        arrivals = _value(entries, "arrivals")
        if arrivals is None:
            continue
        stages = {"arrived": arrivals}
        shares = (
            ("started", "abandon_before_start", True),
            ("stayed 30 s", "retention_30s", False),
            ("ordered", "conversion_rate", False),
        )
        for stage, metric, complement in shares:
            share = _value(entries, metric)
            if share is not None:
                stages[stage] = arrivals * ((1 - share) if complement else share)
        out[code] = stages
    return out


def _value(entries: Any, metric: str) -> float | None:
    entry = entries.get(metric) if isinstance(entries, Mapping) else None
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def funnel_figure(data: Mapping[str, Mapping[str, float]]) -> Figure:
    """One bar group per market: viewers at each journey stage, as a share of arrivals."""
    if not data:
        return no_data_figure("Funnel per market", "no viewers.npz and no arrivals in metrics")
    fig = Figure(figsize=(9.0, 3.6))
    ax = fig.add_subplot()
    stages = [s for s in FUNNEL_STAGES if any(s in d for d in data.values())]
    width = 0.8 / max(1, len(stages))
    x = np.arange(len(data))
    for j, stage in enumerate(stages):
        shares = [
            d.get(stage, np.nan) / d["arrived"] if d["arrived"] else np.nan for d in data.values()
        ]
        ax.bar(x + (j - (len(stages) - 1) / 2) * width, shares, width, label=stage)
    ax.set_xticks(x, [f"{c}\n(n={d['arrived']:,.0f})" for c, d in data.items()], fontsize=8)
    ax.set_ylabel("share of arrivals")
    ax.set_ylim(0, 1.25)  # headroom for the legend above the bars
    ax.set_title("Funnel per market: pass-by → information → trust → purchase")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=len(stages), loc="upper center")
    fig.tight_layout()
    return fig


def referral_generations(run: RunData) -> tuple[dict[str, dict[int, int]], dict[str, float]]:
    """(market → generation → viewers, market → referral_k) — generation 0 is organic."""
    gens: dict[str, dict[int, int]] = {}
    v = run.viewers
    if "generation" in v and "market" in v:
        market = v["market"].astype(str)
        generation = v["generation"].astype(int)
        for code in sorted(set(market.tolist())):
            values, counts = np.unique(generation[market == code], return_counts=True)
            gens[code] = {int(g): int(c) for g, c in zip(values, counts, strict=True)}
    k = {}
    scopes = {"overall": run.metrics.get("overall", {}), **run.metrics.get("markets", {})}
    for code, entries in scopes.items():
        value = _value(entries, "referral_k")
        if value is not None:
            k[code] = value
    return gens, k


def referral_figure(gens: Mapping[str, Mapping[int, int]], k: Mapping[str, float]) -> Figure:
    """Viewers per referral generation per market (log scale), with each market's K."""
    if not gens and not k:
        return no_data_figure("Referral generations", "no generation per viewer nor referral_k")
    fig = Figure(figsize=(9.0, 3.6))
    if not gens:
        ax = fig.add_subplot()
        names = list(k)
        ax.bar(names, [k[n] for n in names], color="#009E73")
        ax.axhline(1.0, color="#D55E00", ls="--", lw=1, label="K = 1 (self-sustaining)")
        ax.set_ylabel("referral K")
        ax.set_title("Referral K-factor (no per-viewer generations kept)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig
    ax = fig.add_subplot()
    top = max(max(g) for g in gens.values() if g)
    width = 0.8 / max(1, len(gens))
    for i, (code, per) in enumerate(gens.items()):
        x = np.arange(top + 1) + (i - (len(gens) - 1) / 2) * width
        label = f"{code} (K={k[code]:.2f})" if code in k else code
        ax.bar(x, [per.get(g, 0) for g in range(top + 1)], width, color=colour(i), label=label)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(top + 1), [f"gen {g}" if g else "organic" for g in range(top + 1)])
    ax.set_ylabel("viewers")
    title = "Viewers per referral generation"
    if "overall" in k:
        title += f" — overall K = {k['overall']:.3f}"
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replications(run: RunData) -> int:
    """How many replications `metrics.json` summarises (1 when it does not say)."""
    n = run.metrics.get("meta", {}).get("replications", 1)
    return int(n) if isinstance(n, int | float) else 1


# Plot key → figure of a run; the report's keys, and (`referral` as `referrals.png`) the
# file stems of `livelab simulate`'s plots/.
AUDIENCE_PLOTS: dict[str, Callable[[RunData], Figure]] = {
    "concurrency": lambda r: concurrency_figure(concurrency_by_market(r)),
    "retention": lambda r: retention_figure(
        retention_curves(r), retention_points(r.metrics), replications(r)
    ),
    "funnel": lambda r: funnel_figure(funnel(r)),
    "referral": lambda r: referral_figure(*referral_generations(r)),
}


_PLOT_FILES = {"referral": "referrals"}  # plot key → file stem in plots/, where they differ


def write_audience_plots(run_dir: Path, dpi: int = 100) -> list[Path]:
    """`plots/*.png` of a run directory: the report's audience figures, read like a report;
    returns the files written."""
    run = load_run(run_dir)
    folder = run_dir / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key, make in AUDIENCE_PLOTS.items():
        path = folder / f"{_PLOT_FILES.get(key, key)}.png"
        path.write_bytes(png_bytes(make(run), dpi=dpi))
        written.append(path)
    return written
