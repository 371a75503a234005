"""Co-host (连麦) segments: the guest on air, their call's latency, its effects and figures.

A co-host segment is a mini-peak of kind "cohost" (`sim.schedule.host_events`): for
`host.cohost.duration_min` a viewer of one market (`host.cohost.guest_market`) is on air with the
host. The guest's network path is drawn from their market's paths at the local hour of the
segment start (access kind by the market's mix), from named streams of their own
(`cohost/N/access`, `cohost/N/path`, `cohost/N/qoe`, N = the segment's index from 0), so no other
draw moves.

The conversational round trip (ms) — the host speaks, the guest sees it and answers, the host
sees the answer — is the sum of the two glass-to-glass legs over the guest's path:

- host → guest = `stream.host_delay_ms` + RTT/2 + jitter buffer: the guest's viewer
  glass-to-glass (`sim.qoe.experience`, `g2g_latency_ms`);
- guest → host = `host.cohost.guest_delay_ms` + RTT/2 + jitter buffer: the same path the other
  way (symmetric: the same one-way delay and jitter), the guest's camera pipeline instead of
  the host's, the host's player holding the same jitter buffer;

so `cohost_rtt_ms` = 2 × g2g − host_delay_ms + guest_delay_ms. Effects (`sim.journey`): own-market
viewers present at a segment trust `cohost_trust_boost` × faster and buy with
`cohost_buy_boost` × the chance; when the guest's round trip passes `interactive_ms` every
viewer is penalised with q = `cohost_lag_leave_per_s` × the excess in seconds (capped at 1):
q more of those whose first frame falls in the segment leave in the decision window, and the
stayers' watching after the segment starts shrinks by q. Pure functions; nothing here reads a
clock.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenarios import Behavior, Scenario
from sim.paths import ACCESS, market_paths
from sim.qoe import Conditions, experience, with_fixed
from sim.rng import Streams
from sim.schedule import Guest, HostEvent, local_hours

__all__ = [
    "COHOST_BUSINESS",
    "RETENTION_S",
    "business",
    "candidates",
    "conversation_ms",
    "lag_share",
    "segments",
    "viewer_rtt_ms",
    "with_guests",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# The business figures of co-host segments (registered in `reports.metrics.BUSINESS`); a
# document of a scenario without co-host segments has none of them.
COHOST_BUSINESS: tuple[str, ...] = ("cohost_retention_30s", "cohost_conversion_rate")
RETENTION_S = 30.0


def conversation_ms(
    g2g_ms: FloatArray, host_delay_ms: float, guest_delay_ms: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(host → guest, guest → host, round trip) ms from the guest's viewer glass-to-glass."""
    to_guest = np.asarray(g2g_ms, dtype=np.float64)
    to_host = to_guest - host_delay_ms + guest_delay_ms
    return to_guest, to_host, to_guest + to_host


def lag_share(b: Behavior, rtt_ms: float) -> float:
    """Extra share leaving for a guest round trip of `rtt_ms`: per s over `interactive_ms`."""
    over_s = max(0.0, rtt_ms - b.interactive_ms) / 1000.0
    return min(1.0, b.cohost_lag_leave_per_s * over_s)


def segments(events: tuple[HostEvent, ...] | list[HostEvent]) -> list[HostEvent]:
    """The co-host segments with a drawn guest, in schedule order."""
    return [ev for ev in events if ev.kind == "cohost" and ev.guest is not None]


def with_guests(scenario: Scenario, events: list[HostEvent], streams: Streams) -> list[HostEvent]:
    """`events` with each co-host segment's guest drawn (see the module docstring)."""
    out = []
    index = 0
    for ev in events:
        if ev.kind != "cohost" or ev.guest_market is None:
            out.append(ev)
            continue
        out.append(replace(ev, guest=_guest(scenario, ev, index, streams)))
        index += 1
    return out


def _guest(scenario: Scenario, ev: HostEvent, index: int, streams: Streams) -> Guest:
    assert ev.guest_market is not None
    market = scenario.market(ev.guest_market)
    shares = np.cumsum(list(market.access.shares().values()))
    u = streams.uniform(f"cohost/{index}/access", 1)
    access = np.minimum(np.searchsorted(shares, u, side="right"), len(ACCESS) - 1).astype(np.int8)
    paths = market_paths(scenario, market)
    hour = local_hours(scenario, market, np.array([ev.start_s]))
    path = paths.sample(access, hour, None, streams.get(f"cohost/{index}/path"))
    # An unloaded join: the call's latency is the path's and the players', not the edge's.
    cond = Conditions(np.zeros(1), 0.0, 1.0, 0.0)
    # The guest's g2g at the path's median (spread uniform 0.5): the call, not a viewer's draw.
    exp = experience(scenario, path, np.zeros(1), cond, np.full(1, 0.5))
    exp = with_fixed(exp, market.qoe, streams.get(f"cohost/{index}/qoe"))
    to_guest, to_host, rtt = conversation_ms(
        exp.g2g_latency_ms, scenario.stream.host_delay_ms, scenario.host.cohost.guest_delay_ms
    )
    return Guest(
        market=market.code,
        access=ACCESS[int(access[0])],
        profile=paths.names[int(path.profile[0])],
        path_rtt_ms=float(path.rtt_ms[0]),
        path_jitter_ms=float(path.jitter_ms[0]),
        host_to_guest_ms=float(to_guest[0]),
        guest_to_host_ms=float(to_host[0]),
        rtt_ms=float(rtt[0]),
    )


def _present(v: dict[str, NDArray[Any]], ev: HostEvent) -> BoolArray:
    started = ~v["abandoned"]
    hit: BoolArray = started & (v["start_s"] < ev.end_s) & (v["leave_s"] > ev.start_s)
    return hit


def candidates(
    v: dict[str, NDArray[Any]], events: tuple[HostEvent, ...], markets: tuple[str, ...]
) -> BoolArray:
    """Viewers who could have been the guest: of a segment's guest market, watching at its start.

    Their round trips (`cohost_rtt_ms` of `conversation_ms` on their own glass-to-glass) are
    the modelled distribution of the co-host round trip, by market and by profile.
    """
    hit = np.zeros(v["arrival_s"].shape, dtype=bool)
    for ev in segments(events):
        assert ev.guest is not None
        code = markets.index(ev.guest.market)
        started = ~v["abandoned"]
        watching = started & (v["start_s"] <= ev.start_s) & (v["leave_s"] > ev.start_s)
        hit |= watching & (v["market"] == code)
    return hit


def business(v: dict[str, NDArray[Any]], events: tuple[HostEvent, ...]) -> dict[str, float]:
    """`cohost_retention_30s` and `cohost_conversion_rate` of the viewers in `v`; {} without
    co-host segments.

    Retention: of the viewers whose first frame falls in a segment, the share watching at least
    30 s. Conversion: of the viewers watching at any time during a segment, the share who
    ordered (in their stay). NaN when no viewer qualifies.
    """
    segs = segments(events)
    if not segs:
        return {}
    started = ~v["abandoned"]
    joined = np.zeros(v["arrival_s"].shape, dtype=bool)
    present = np.zeros(v["arrival_s"].shape, dtype=bool)
    for ev in segs:
        joined |= started & (v["start_s"] >= ev.start_s) & (v["start_s"] < ev.end_s)
        present |= _present(v, ev)
    retained = v["watch_s"][joined] >= RETENTION_S
    return {
        "cohost_retention_30s": float(retained.mean()) if joined.any() else float("nan"),
        "cohost_conversion_rate": (
            float(v["ordered"][present].mean()) if present.any() else float("nan")
        ),
    }


def viewer_rtt_ms(v: dict[str, NDArray[Any]], scenario: Scenario) -> FloatArray:
    """Each viewer's co-host round trip were they on air (ms; `conversation_ms`)."""
    return conversation_ms(
        v["g2g_latency_ms"], scenario.stream.host_delay_ms, scenario.host.cohost.guest_delay_ms
    )[2]
