"""After the event loop: join each market's batches and draw the per-viewer interaction counts.

Counts are outcomes, not feedback, so they are drawn once the room's history is known:
chats are Poisson with the viewer's integral of the per-viewer chat rate over their stay (the
rate falls as the whole room grows — cacophony); likes and questions are Poisson in watch time;
a viewer present during a poll votes with `vote_prob`; a sharer counts one share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from sim.market import join_batches
from sim.rng import Streams
from sim.schedule import Grid, HostEvent

if TYPE_CHECKING:
    from sim.market import MarketModel

__all__ = ["finish"]


def finish(
    models: list[MarketModel],
    chat_rate: NDArray[np.float64],
    grid: Grid,
    events: list[HostEvent],
    streams: Streams,
) -> dict[str, NDArray[Any]]:
    """All viewers' arrays (market order, then step order), counts included."""
    parts = []
    for i, m in enumerate(models):
        v = m.take_viewers()
        if v is None:
            continue
        # Viewers who left early (overload) lose the trust and orders they had not reached yet.
        cut, leave_s = m.cut_short()
        del v["leave_b"], v["cut"]
        v["leave_s"] = leave_s
        v["watch_s"] = np.where(cut, leave_s - v["start_s"], v["watch_s"])
        late = cut & (v["ordered"] & ~(v["order_s"] < v["leave_s"]))
        v["ordered"] = v["ordered"] & ~late
        v["order_s"] = np.where(late, np.nan, v["order_s"])
        v["gmv"] = np.where(late, 0.0, v["gmv"])
        v["repurchased"] = v["repurchased"] & v["ordered"]
        v["trusted"] = v["trusted"] & ~(cut & (v["watch_s"] < v["trust_s"]))
        unshared = cut & v["shared"] & ~(v["share_s"] < v["leave_s"])
        v["shared"] = v["shared"] & ~unshared
        v["share_s"] = np.where(unshared, np.nan, v["share_s"])
        v["invites"] = np.where(unshared, 0, v["invites"]).astype(np.int32)
        del v["trust_s"]
        rng = streams.get(f"{m.market.code}/counts")
        beh = m.behavior
        started = ~v["abandoned"]
        t0 = np.where(started, v["start_s"], 0.0)
        t1 = np.where(started, v["leave_s"], 0.0)
        cum = np.concatenate(([0.0], np.cumsum(chat_rate[i] * np.diff(grid.edges))))
        expected = np.interp(t1, grid.edges, cum) - np.interp(t0, grid.edges, cum)
        watch_min = v["watch_s"] / 60.0
        v["chats"] = rng.poisson(np.maximum(expected, 0.0)).astype(np.int32)
        v["likes"] = rng.poisson(beh.like_per_min * watch_min).astype(np.int32)
        v["questions"] = rng.poisson(beh.question_per_hour * watch_min / 60.0).astype(np.int32)
        polls = np.zeros(t0.size, dtype=np.int64)
        for ev in events:
            if ev.kind == "poll":
                polls += started & (t0 < ev.end_s) & (t1 > ev.start_s)
        v["votes"] = rng.binomial(polls, beh.vote_prob).astype(np.int32)
        v["shares"] = v["shared"].astype(np.int32)
        v["orders"] = v["ordered"].astype(np.int32)
        parts.append(v)
    if not parts:
        return _empty()
    return join_batches(parts)


def _empty() -> dict[str, NDArray[Any]]:
    floats = ("arrival_s", "start_s", "leave_s", "watch_s", "join_ms", "startup_ms",
              "g2g_latency_ms", "chat_rtt_ms", "answer_ms", "order_ms", "rebuffer_ratio",
              "freeze_per_min", "resolution", "kbps", "fps", "rtt_ms", "jitter_ms", "loss",
              "order_s", "share_s", "gmv")  # fmt: skip
    bools = ("referred", "abandoned", "failed", "trusted", "ordered", "shared", "returned",
             "repurchased")  # fmt: skip
    ints = ("chats", "likes", "votes", "questions", "shares", "orders", "invites")
    out: dict[str, NDArray[Any]] = {k: np.empty(0) for k in floats}
    out.update({k: np.empty(0, dtype=bool) for k in bools})
    out.update({k: np.empty(0, dtype=np.int32) for k in ints})
    out.update({"market": np.empty(0, np.int16), "access": np.empty(0, np.int8),
                "profile": np.empty(0, np.int16), "generation": np.empty(0, np.int16)})  # fmt: skip
    return out
