"""The stream's time grid, the host's mini-peaks, arrival intensity and the stay clock.

Pure functions of the scenario. Times are seconds from the stream start; the grid has `STEP_S`
(10 s) buckets. Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from scenarios import Behavior, Market, Scenario

__all__ = [
    "STEP_S",
    "Grid",
    "Guest",
    "HostEvent",
    "arrival_times",
    "arrival_weights",
    "cohost_market",
    "host_events",
    "local_hours",
    "overlaps",
    "stay_clock",
    "stay_end",
]

STEP_S = 10.0
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Guest:
    """The viewer on air in a co-host segment: their market, network profile and call latency.

    `host_to_guest_ms` and `guest_to_host_ms` are glass-to-glass one way; `rtt_ms` is the
    conversational round trip (their sum): the host speaks, the guest sees it and answers, the
    host sees the answer (`sim.cohost` states the formula).
    """

    market: str
    access: str
    profile: str
    path_rtt_ms: float
    path_jitter_ms: float
    host_to_guest_ms: float
    guest_to_host_ms: float
    rtt_ms: float


@dataclass(frozen=True)
class HostEvent:
    """One mini-peak: announced at `announce_s`, live from `start_s` to `end_s` (s).

    A co-host segment (`kind` "cohost") names its guest's market in `guest_market` from the
    schedule; the engine draws the guest (`sim.cohost.with_guests`) into `guest`.
    """

    kind: str
    announce_s: float
    start_s: float
    end_s: float
    guest_market: str | None = None
    guest: Guest | None = None

    def as_dict(self) -> dict[str, Any]:
        """The event as `events.json` and the plan hold it; a co-host segment adds its guest."""
        out: dict[str, Any] = {"kind": self.kind, "announce_s": self.announce_s,
                               "start_s": self.start_s, "end_s": self.end_s}  # fmt: skip
        if self.guest is not None:
            out["guest"] = asdict(self.guest)
        elif self.guest_market is not None:
            out["guest"] = {"market": self.guest_market}
        return out


@dataclass(frozen=True)
class Grid:
    """The time grid: `n` buckets of `step_s` seconds covering `duration_s`."""

    duration_s: float
    step_s: float = STEP_S

    @property
    def n(self) -> int:
        return max(1, math.ceil(self.duration_s / self.step_s - 1e-9))

    @property
    def edges(self) -> FloatArray:
        """Bucket edges, s (n + 1 values; the last is the stream end)."""
        e = np.arange(self.n + 1, dtype=np.float64) * self.step_s
        e[-1] = self.duration_s
        return e

    def bucket(self, t_s: FloatArray) -> NDArray[np.int64]:
        """Bucket index of each time, clipped to [0, n] (n = after the stream)."""
        return np.clip((np.asarray(t_s) // self.step_s).astype(np.int64), 0, self.n)


def host_events(scenario: Scenario) -> list[HostEvent]:
    """The mini-peaks: every `host.mini_peak_every_min`, kinds in rotation, none at t = 0.

    A peak that would start at or after the stream end is dropped; one that runs past it ends
    with the stream. `mini_peak_every_min = 0` means no peaks. A co-host segment lasts
    `host.cohost.duration_min` and names its guest's market (`cohost_market`). With
    `host.flash_deal_poll` each flash deal comes with a poll over the same minutes (listed right
    after it).
    """
    host = scenario.host
    duration = scenario.stream.duration_min * 60.0
    every = host.mini_peak_every_min * 60.0
    if every <= 0:
        return []
    events = []
    k = 1
    cohosts = 0
    while k * every < duration - 1e-9:
        start = k * every
        kind = host.mini_peak_kinds[(k - 1) % len(host.mini_peak_kinds)]
        length_min = host.mini_peak_duration_min
        guest_market = None
        if kind == "cohost":
            length_min = host.cohost.duration_min
            guest_market = cohost_market(scenario, cohosts)
            cohosts += 1
        events.append(
            HostEvent(
                kind=kind,
                announce_s=max(0.0, start - host.announce_lead_min * 60.0),
                start_s=start,
                end_s=min(duration, start + length_min * 60.0),
                guest_market=guest_market,
            )
        )
        if events[-1].kind == "flash_deal" and host.flash_deal_poll:
            events.append(replace(events[-1], kind="poll"))
        k += 1
    return events


def cohost_market(scenario: Scenario, index: int) -> str:
    """The market whose viewer is the guest of the `index`-th (from 0) co-host segment.

    `host.cohost.guest_market`: "rotate" takes the markets in scenario order, "largest" the
    market with the largest `audience` (the first of equals), a code that market.
    """
    rule = scenario.host.cohost.guest_market
    markets = scenario.markets
    if rule == "rotate":
        return markets[index % len(markets)].code
    if rule == "largest":
        return max(markets, key=lambda m: m.audience).code
    return rule


def local_hours(scenario: Scenario, market: Market, t_s: FloatArray) -> FloatArray:
    """Local clock hour (0–24, fractional) at stream times `t_s` in the market's time zone.

    The UTC offset is taken at the stream start (a DST switch during a stream is ignored).
    """
    start_local = scenario.stream.start_utc.astimezone(ZoneInfo(market.tz))
    base_h = start_local.hour + start_local.minute / 60.0 + start_local.second / 3600.0
    result: FloatArray = np.mod(base_h + np.asarray(t_s, dtype=np.float64) / 3600.0, 24.0)
    return result


def arrival_weights(
    scenario: Scenario, market: Market, behavior: Behavior, grid: Grid, events: list[HostEvent]
) -> FloatArray:
    """Relative arrival rate per bucket (sums to 1): daily cycle × opening × announcements.

    Daily cycle: 1 + a·cos(2π(h − peak)/24) at the local hour h (Veloso et al. 2006). Opening:
    1 + boost·exp(−t/decay) — audiences gather at the announced start. Announcements: the rate is
    multiplied by `announce_arrival_boost` between a peak's announcement and its start. The
    weights are normalised, so these shapes move arrivals in time; the expected organic total
    stays the market's `audience` (its count is drawn once, Poisson, in `sim.market`).
    """
    edges = grid.edges
    mid = 0.5 * (edges[:-1] + edges[1:])
    hours = local_hours(scenario, market, mid)
    daily = 1.0 + behavior.daily_amplitude * np.cos(
        2.0 * np.pi * (hours - behavior.daily_peak_hour) / 24.0
    )
    opening = 1.0 + behavior.opening_boost * np.exp(-mid / (behavior.opening_decay_min * 60.0))
    announce = np.ones_like(mid)
    for ev in events:
        inside = (mid >= ev.announce_s) & (mid < ev.start_s)
        announce[inside] = behavior.announce_arrival_boost
    w = daily * opening * announce * np.diff(edges)
    total = float(w.sum())
    result: FloatArray = w / total
    return result


def arrival_times(weights: FloatArray, grid: Grid, u_sorted: FloatArray) -> FloatArray:
    """Arrival times (s) for sorted uniforms: the inverse of the piecewise-linear rate CDF.

    Given the count, arrivals of a non-homogeneous Poisson process are order statistics of its
    normalised intensity; sorted uniforms mapped through the inverse CDF give exactly that, and
    keep viewer slot i at the i-th quantile whatever the intensity (common random numbers).
    """
    cdf = np.concatenate(([0.0], np.cumsum(weights)))
    cdf[-1] = 1.0
    result: FloatArray = np.interp(u_sorted, cdf, grid.edges)
    return result


def stay_clock(grid: Grid, events: list[HostEvent], boost: float) -> FloatArray:
    """Cumulative "stay clock" at bucket edges (s of ordinary time).

    Around a mini-peak (from its announcement to its end) the hazard of leaving is divided by
    `boost`, so the clock runs `1/boost` as fast; a stayer leaves when the clock has run for
    their drawn session length.
    """
    rate = np.ones(grid.n, dtype=np.float64)
    edges = grid.edges
    mid = 0.5 * (edges[:-1] + edges[1:])
    for ev in events:
        rate[(mid >= ev.announce_s) & (mid < ev.end_s)] = 1.0 / boost
    result: FloatArray = np.concatenate(([0.0], np.cumsum(rate * np.diff(edges))))
    return result


def stay_end(
    clock: FloatArray, grid: Grid, start_s: FloatArray, session_s: FloatArray
) -> FloatArray:
    """When a stay that starts at `start_s` and lasts `session_s` on the stay clock ends (s).

    Capped at the stream end.
    """
    edges = grid.edges
    start = np.minimum(start_s, edges[-1])
    target = np.interp(start, edges, clock) + session_s
    result: FloatArray = np.interp(target, clock, edges, right=edges[-1])
    return result


def overlaps(
    t0: FloatArray, t1: FloatArray, events: list[HostEvent], kinds: tuple[str, ...]
) -> NDArray[np.bool_]:
    """Whether [t0, t1) overlaps any live window of a peak of one of `kinds`."""
    hit = np.zeros(np.shape(t0), dtype=bool)
    for ev in events:
        if ev.kind in kinds:
            hit |= (t0 < ev.end_s) & (t1 > ev.start_s)
    return hit
