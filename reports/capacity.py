"""Capacity planning arithmetic: the model's forecast per edge region × one instance's knee.

Pure functions of data, tested exactly. Units: viewers are concurrent viewers; message rates are
interaction messages per second *into* the stack (chat + likes + votes + questions); bitrates are
kbit/s per viewer, egress is Gbit/s (10⁹ bit/s) leaving the edge towards viewers.

Headroom `h` (a fraction, 0.3 for "30 %") means provisioning for `peak × (1 + h)`: at the
forecast peak the fleet runs at `1 / (1 + h)` of its measured capacity or less. For each region

    instances = max(ceil(peak_viewers × (1 + h) / knee_viewers),
                    ceil(peak_msgs_per_s × (1 + h) / knee_msgs_per_s))  # with a message knee
    egress_gbps = peak_egress_gbps × (1 + h)

where the peaks are *coincident* peaks: the highest sum over a region's markets at the same
moment (markets in different time zones do not peak together), not the sum of each market's peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "UNASSIGNED",
    "Knee",
    "MarketSeries",
    "RegionForecast",
    "RegionPlan",
    "forecast_regions",
    "mean_ladder_kbps",
    "plan_capacity",
]

UNASSIGNED = "unassigned"  # the region of markets no `[[infra.edges]]` entry serves


@dataclass(frozen=True)
class MarketSeries:
    """One market's model time series on a common grid (`t_s`, seconds from stream start)."""

    t_s: tuple[float, ...]
    concurrent: tuple[float, ...]  # viewers
    msgs_per_s: tuple[float, ...]  # chat + likes + votes + questions, messages/s

    def __post_init__(self) -> None:
        if not len(self.t_s) == len(self.concurrent) == len(self.msgs_per_s):
            raise ValueError("t_s, concurrent and msgs_per_s must have the same length")


@dataclass(frozen=True)
class RegionForecast:
    """The model's peak demand on one edge region."""

    region: str
    markets: tuple[str, ...]
    peak_concurrent: float  # viewers, coincident peak
    peak_t_s: float  # when it happens, s from stream start
    peak_msgs_per_s: float  # highest interaction message rate, messages/s
    mini_peak_msgs_per_s: float | None  # highest rate inside a mini-peak window (None: no peaks)
    peak_egress_gbps: float  # highest Σ concurrent × ladder bitrate, Gbit/s


def mean_ladder_kbps(heights: Sequence[int], ladder: Mapping[int, float]) -> float:
    """Mean video bitrate (kbit/s) of viewers watching at `heights` (px) on `ladder` {height: kbps}.

    A height between rungs takes the highest rung not above it (the lowest rung when below all);
    no viewers means every viewer at the top rung — the conservative choice for egress.
    """
    if not ladder:
        raise ValueError("empty ladder")
    rungs = sorted(ladder)
    if len(heights) == 0:
        return float(ladder[rungs[-1]])
    idx = np.searchsorted(np.asarray(rungs), np.asarray(heights), side="right") - 1
    kbps = np.asarray([ladder[r] for r in rungs], dtype=float)[np.clip(idx, 0, len(rungs) - 1)]
    return float(kbps.mean())


def forecast_regions(
    series: Mapping[str, MarketSeries],
    regions: Mapping[str, Sequence[str]],
    kbps_per_viewer: Mapping[str, float],
    mini_peaks: Sequence[tuple[float, float]] = (),
) -> list[RegionForecast]:
    """Coincident peaks per region from per-market series.

    `regions` maps region → market codes; markets in `series` that no region lists go to
    `unassigned`. `kbps_per_viewer` is each market's mean video bitrate (kbit/s).
    `mini_peaks` are `(start_s, end_s)` windows for the mini-peak message rate. Regions come
    back in the order given, `unassigned` last (only when it has markets).
    """
    served = {m for markets in regions.values() for m in markets}
    groups = {name: [m for m in markets if m in series] for name, markets in regions.items()}
    rest = sorted(m for m in series if m not in served)
    if rest:
        groups[UNASSIGNED] = rest
    grid = sorted({t for s in series.values() for t in s.t_s})
    index = {t: i for i, t in enumerate(grid)}
    t = np.asarray(grid, dtype=float)
    in_peak = np.zeros(len(grid), dtype=bool)
    for start, end in mini_peaks:
        in_peak |= (t >= start) & (t <= end)
    out = []
    for name, markets in groups.items():
        conc = np.zeros(len(grid))
        msgs = np.zeros(len(grid))
        egress_kbit = np.zeros(len(grid))
        for m in markets:
            s = series[m]
            at = [index[x] for x in s.t_s]
            conc[at] += s.concurrent
            msgs[at] += s.msgs_per_s
            egress_kbit[at] += np.asarray(s.concurrent, dtype=float) * kbps_per_viewer[m]
        peak_i = int(np.argmax(conc)) if len(grid) else 0
        out.append(
            RegionForecast(
                region=name,
                markets=tuple(markets),
                peak_concurrent=float(conc.max()) if len(grid) else 0.0,
                peak_t_s=float(t[peak_i]) if len(grid) else 0.0,
                peak_msgs_per_s=float(msgs.max()) if len(grid) else 0.0,
                mini_peak_msgs_per_s=float(msgs[in_peak].max()) if in_peak.any() else None,
                peak_egress_gbps=float(egress_kbit.max()) / 1e6 if len(grid) else 0.0,
            )
        )
    return out


@dataclass(frozen=True)
class Knee:
    """What one stack instance held within the gates, as measured by the capacity search."""

    viewers: int  # largest audience within the gates
    msgs_per_s: float | None = None  # interaction messages/s it absorbed at that audience

    def __post_init__(self) -> None:
        if self.viewers < 1:
            raise ValueError(f"knee must be ≥ 1 viewer, got {self.viewers}")
        if self.msgs_per_s is not None and self.msgs_per_s <= 0:
            raise ValueError(f"message knee must be > 0, got {self.msgs_per_s}")


@dataclass(frozen=True)
class RegionPlan:
    """Instances and egress for one region, with the headroom applied and what bound it."""

    region: str
    markets: tuple[str, ...]
    peak_concurrent: float
    peak_msgs_per_s: float
    headroom: float  # fraction
    instances_for_viewers: int
    instances_for_messages: int | None  # None when no message knee was measured
    instances: int
    bound_by: str  # "viewers", "messages" or "none" (no demand)
    utilisation_at_peak: float  # peak_concurrent / (instances × knee.viewers), 0..1
    peak_egress_gbps: float
    egress_gbps: float  # with headroom
    # The scenario's declared edge (`[[infra.edges]]`), when there is one: does the plan fit?
    edge_max_viewers: int | None = None
    edge_egress_gbps: float | None = None

    @property
    def fits_edge(self) -> bool | None:
        """True when the planned viewers (peak × (1 + headroom)) and egress fit the declared
        edge; None without one."""
        if self.edge_max_viewers is None or self.edge_egress_gbps is None:
            return None
        viewers = self.peak_concurrent * (1.0 + self.headroom)
        return (
            round(viewers, 9) <= self.edge_max_viewers
            and round(self.egress_gbps, 9) <= self.edge_egress_gbps
        )


def _ceil(x: float) -> int:
    # round first: 1000 × 1.3 / 100 is 13.000000000000002 in binary floating point, not 14 units
    return math.ceil(round(x, 9))


def plan_capacity(
    forecasts: Sequence[RegionForecast],
    knee: Knee,
    headroom: float,
    edges: Mapping[str, tuple[int, float]] | None = None,
) -> list[RegionPlan]:
    """Instances and egress per region (see the module docstring for the formulas).

    `edges` maps a region to its declared `(max_viewers, egress_gbps)`, so each plan says
    whether it fits (`fits_edge`). Raises `ValueError` for a negative headroom.
    """
    edges = edges or {}
    if headroom < 0:
        raise ValueError(f"headroom must be ≥ 0, got {headroom}")
    factor = 1.0 + headroom
    plans = []
    for f in forecasts:
        by_viewers = _ceil(f.peak_concurrent * factor / knee.viewers)
        by_msgs = (
            _ceil(f.peak_msgs_per_s * factor / knee.msgs_per_s)
            if knee.msgs_per_s is not None
            else None
        )
        instances = max(by_viewers, by_msgs or 0)
        if instances == 0:
            bound = "none"
        elif by_msgs is not None and by_msgs > by_viewers:
            bound = "messages"
        else:
            bound = "viewers"
        plans.append(
            RegionPlan(
                region=f.region,
                markets=f.markets,
                peak_concurrent=f.peak_concurrent,
                peak_msgs_per_s=f.peak_msgs_per_s,
                headroom=headroom,
                instances_for_viewers=by_viewers,
                instances_for_messages=by_msgs,
                instances=instances,
                bound_by=bound,
                utilisation_at_peak=(
                    f.peak_concurrent / (instances * knee.viewers) if instances else 0.0
                ),
                peak_egress_gbps=f.peak_egress_gbps,
                egress_gbps=f.peak_egress_gbps * factor,
                edge_max_viewers=edges[f.region][0] if f.region in edges else None,
                edge_egress_gbps=edges[f.region][1] if f.region in edges else None,
            )
        )
    return plans
