"""One market in the model: its organic viewer slots, invitee calendar and per-step work.

`MarketModel.step` takes the viewers arriving in a 10-s step (organic slots and invitees due),
joins them against the edge's state, computes their experience and journeys as array operations
and books their slots, concurrency and shares; `MarketModel.overload` makes watching viewers
react to a slow interaction service. Batches of per-viewer arrays accumulate in `batches`;
`sim.counts.finish` joins them after the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenarios import Behavior, Market, Scenario
from sim.capacity import EdgeQueue
from sim.journey import ROW, U_ROWS, Journey, StreamContext, interactivity, journeys
from sim.paths import ACCESS, MarketPaths, Paths, market_paths
from sim.qoe import FIXABLE, Conditions, Experience, experience, laws_of, with_fixed
from sim.rng import Streams
from sim.schedule import (
    Grid,
    HostEvent,
    arrival_times,
    arrival_weights,
    local_hours,
    stay_clock,
)

__all__ = ["MarketModel", "join_batches"]

FloatArray = NDArray[np.float64]
Batch = dict[str, NDArray[Any]]
JOIN_EVERY = 64  # steps' batches joined into one chunk (`MarketModel._keep`)


def join_batches(parts: list[Batch]) -> Batch:
    """Each key's arrays concatenated in order, emptying ``parts`` as it goes: a part's array is
    dropped as soon as its key is joined, so the peak holds the joined arrays and one key's
    parts, not a second copy of every viewer."""
    return {k: np.concatenate([p.pop(k) for p in parts]) for k in list(parts[0])}


_EXP_KEYS = ("join_ms", "startup_ms", "g2g_latency_ms", "chat_rtt_ms", "answer_ms", "order_ms",
             "rebuffer_ratio", "freeze_per_min", "resolution", "kbps", "fps")  # fmt: skip
# Columns kept in the per-market store (floats), read by `overload` and `_invitees_due`.
_STORE = ("start_s", "leave_s", "leave_b", "g2g_latency_ms", "chat_rtt_ms", "rtt_ms", "kbps", "cut")
_JOURNEY_KEYS = ("start_s", "leave_s", "watch_s", "abandoned", "failed", "trusted", "trust_s",
                 "ordered", "order_s", "shared", "share_s", "returned", "repurchased")  # fmt: skip


class MarketModel:
    """One market's organic slots, calendar of invitees, per-step bookkeeping and batches."""

    def __init__(
        self,
        scenario: Scenario,
        index: int,
        market: Market,
        grid: Grid,
        events: list[HostEvent],
        streams: Streams,
        edge: EdgeQueue,
    ) -> None:
        code = market.code
        self.scenario, self.index, self.market, self.grid, self.edge = (
            scenario, index, market, grid, edge)  # fmt: skip
        self.behavior = market.resolved_behavior()
        self.paths: MarketPaths = market_paths(scenario, market)
        self.laws = laws_of(scenario)
        self.ctx = StreamContext(
            behavior=self.behavior,
            localized=market.localized,
            incentive=market.incentive,
            grid=grid,
            events=tuple(events),
            clock=stay_clock(grid, events, self.behavior.mini_peak_stay_boost),
            join_timeout_s=scenario.infra.join_timeout_s,
            series_streams=scenario.scenario.series_streams,
            market=code,
        )
        self.access_cdf = np.cumsum(list(market.access.shares().values()))
        n = int(streams.get(f"{code}/count").poisson(market.audience))
        weights = arrival_weights(scenario, market, self.behavior, grid, events)
        self.arrival = arrival_times(weights, grid, np.sort(streams.uniform(f"{code}/arrival", n)))
        self.access = self._access(streams.uniform(f"{code}/access", n))
        hours = local_hours(scenario, market, self.arrival)
        rngs = {kind: streams.get(f"{code}/path/{kind}") for kind in ACCESS}
        self.path = self.paths.sample(self.access, hours, rngs)
        self.u = np.stack([streams.uniform(f"{code}/u/{row}", n) for row in U_ROWS])
        self.bounds = np.searchsorted(self.arrival, grid.edges)
        self.bounds[-1] = n
        self.rng_referred = streams.get(f"{code}/referred")
        self.rng_invites = streams.get(f"{code}/invites")
        self.rng_qoe = streams.get(f"{code}/qoe")
        # Which measured sample each viewer drew (`pick_*` columns), kept when any market of
        # the scenario draws from sample lists: the closed loop's bootstrap reweights them.
        self.keep_picks = any(_draws_lists(m) for m in scenario.markets)
        self.rng_overload = streams.get(f"{code}/overload")
        # Per-viewer store of what the overload and referral checks read, in batch order.
        self.n_seen = 0
        self.store = {k: np.empty(n + 1024) for k in _STORE}
        self.active = np.empty(0, dtype=np.int64)  # may still be watching (overload candidates)
        self.active_upto = 0  # viewers below this index were screened into `active`
        # step → invitees due: (arrival s, generation, referrer index, referrer's share s)
        self.calendar: dict[int, list[tuple[Any, ...]]] = {}
        steps = grid.n
        self.start_diff = np.zeros(steps + 2)
        self.leave_diff = np.zeros(steps + 2)
        self.arrivals = np.zeros(steps)
        self.concurrent = 0.0
        self.batches: list[Batch] = []  # joined chunks of `JOIN_EVERY` steps' batches
        self._recent: list[Batch] = []  # the steps' batches since the last join

    def _access(self, u: FloatArray) -> NDArray[np.int8]:
        idx = np.searchsorted(self.access_cdf, u, side="right")
        return np.minimum(idx, len(ACCESS) - 1).astype(np.int8)

    def tick(self, b: int) -> float:
        """Concurrency at the start of step `b` (viewers between first frame and leaving)."""
        self.concurrent += self.start_diff[b] - self.leave_diff[b]
        return self.concurrent

    def step(self, b: int, interaction_ms: float) -> None:
        """Join, experience and journeys of the viewers arriving in step `b`."""
        lo, hi = int(self.bounds[b]), int(self.bounds[b + 1])
        due = self._invitees_due(b)
        n_ref = due[0].size
        if hi == lo and n_ref == 0:
            return
        arrival = self.arrival[lo:hi]
        access = self.access[lo:hi]
        path = _slice_paths(self.path, lo, hi)
        u = self.u[:, lo:hi]
        generation = np.zeros(hi - lo, dtype=np.int16)
        if n_ref:
            t_ref, g_ref = due
            rng = self.rng_referred
            a_ref = self._access(rng.random(n_ref))
            p_ref = self.paths.sample(
                a_ref, local_hours(self.scenario, self.market, t_ref), None, rng
            )
            u_ref = rng.random((len(U_ROWS), n_ref))
            arrival = np.concatenate([arrival, t_ref])
            order = np.argsort(arrival, kind="stable")
            arrival = arrival[order]
            access = np.concatenate([access, a_ref])[order]
            path = _take_paths(_concat_paths(path, p_ref), order)
            u = np.concatenate([u, u_ref], axis=1)[:, order]
            generation = np.concatenate([generation, g_ref])[order]
        n = arrival.size
        self.arrivals[b] += n
        referred = generation > 0
        wait_ms, join_ms, share = self.edge.conditions(b, n)
        cond = Conditions(wait_ms, join_ms, share, interaction_ms)
        exp = experience(self.scenario, path, u[ROW["keyframe"]], cond, u[ROW["g2g"]], self.laws)
        picks: dict[str, NDArray[np.int32]] | None = {} if self.keep_picks else None
        exp = with_fixed(exp, self.market.qoe, self.rng_qoe, path.profile, self.paths.names, picks)
        j = journeys(self.ctx, arrival, access > 0, referred, exp, wait_ms / 1000.0, u)
        leave_b = self._admit(b, j, exp)
        batch = _batch(self, arrival, access, path, generation, exp, j, leave_b)
        if picks is not None:
            for name in FIXABLE:
                batch[f"pick_{name}"] = picks.get(name, np.full(n, -1, dtype=np.int32))
        offset = self._remember(batch)
        batch["invites"] = self._refer(b, j, generation, offset)
        self._keep(batch)

    def _keep(self, batch: Batch) -> None:
        """Keep a step's batch; every `JOIN_EVERY` steps the recent ones become one chunk. Why:
        a step's arrays are small (a few thousand viewers, below malloc's mmap threshold), so
        they live in the process heap, and freeing them at the end does not give the memory
        back; joined as the run goes, the heap is reused by the next steps and the chunks are
        large allocations, returned when freed (bench_10m peaked at 9.6 GB without this)."""
        self._recent.append(batch)
        if len(self._recent) >= JOIN_EVERY:
            self.batches.append(join_batches(self._recent))
            self._recent = []

    def take_viewers(self) -> Batch | None:
        """All the market's viewers' arrays in step order, or None if none came. The model is
        spent: it gives its batches up and drops its pre-drawn per-viewer inputs (arrivals,
        access, paths and uniforms, ~155 bytes a viewer) before the caller builds the outputs."""
        parts = self.batches + self._recent
        self.batches, self._recent = [], []
        self.arrival = self.arrival[:0].copy()  # copies: a view would keep the whole base
        self.access = self.access[:0].copy()
        self.path = _take_paths(self.path, np.arange(0))
        self.u = self.u[:, :0].copy()
        return join_batches(parts) if parts else None

    def _remember(self, batch: Batch) -> int:
        """Append the batch's `_STORE` columns to the market's store; return its offset."""
        offset = self.n_seen
        need = offset + batch["arrival_s"].size
        size = next(iter(self.store.values())).size
        for key in _STORE:
            column = self.store[key]
            if need > size:
                column = np.empty(max(need, 2 * size))
                column[:offset] = self.store[key][:offset]
                self.store[key] = column
            column[offset:need] = batch[key]
        self.n_seen = need
        return offset

    def _admit(self, b: int, j: Journey, exp: Experience) -> NDArray[np.int64]:
        """Hold slots, egress and concurrency; return each viewer's leave step (−1: never in)."""
        started = ~j.abandoned
        first = b + 1  # this step's snapshot is taken; changes count from the next one
        start_b = np.maximum(self.grid.bucket(j.start_s[started]), first)
        leave_b = np.maximum(self.grid.bucket(j.leave_s[started]), first)
        np.add.at(self.start_diff, start_b, 1.0)
        np.add.at(self.leave_diff, leave_b, 1.0)
        self.edge.admit(leave_b, exp.kbps[started])
        out = np.full(started.size, -1, dtype=np.int64)
        out[started] = leave_b
        return out

    def _refer(
        self, b: int, j: Journey, generation: NDArray[np.int16], offset: int
    ) -> NDArray[np.int32]:
        """Draw sharers' accepted invitations; put the invitees in the calendar of their steps.

        Each invitee remembers its referrer and the share time: if the referrer leaves before
        sharing (overload, see `overload`), the invitee never comes (`_invitees_due`).
        """
        accepted = np.zeros(generation.size, dtype=np.int32)
        sharers = np.flatnonzero(j.shared)
        if sharers.size == 0:
            return accepted
        beh, rng = self.behavior, self.rng_invites
        got = rng.binomial(rng.poisson(beh.invites_per_share, sharers.size), beh.invite_conversion)
        accepted[sharers] = got
        total = int(got.sum())
        if total == 0:
            return accepted
        share_s = np.repeat(j.share_s[sharers], got)
        t = share_s + rng.exponential(beh.invitee_delay_min * 60.0, total)
        gen = (np.repeat(generation[sharers], got) + 1).astype(np.int16)
        ref = np.repeat(sharers + offset, got)
        keep = t < self.grid.duration_s
        t, gen, ref, share_s = t[keep], gen[keep], ref[keep], share_s[keep]
        steps = np.maximum(self.grid.bucket(t), b + 1)
        for step in np.unique(steps):
            sel = steps == step
            self.calendar.setdefault(int(step), []).append(
                (t[sel], gen[sel], ref[sel], share_s[sel])
            )
        return accepted

    def _invitees_due(self, b: int) -> tuple[FloatArray, NDArray[np.int16]]:
        """(arrival times, generations) of the invitees due in step `b` whose referrer shared."""
        due = self.calendar.pop(b, [])
        if not due:
            return np.empty(0), np.empty(0, dtype=np.int16)
        t, gen, ref, share_s = (np.concatenate(parts) for parts in zip(*due, strict=True))
        shared = self.store["leave_s"][ref] > share_s
        return t[shared], gen[shared].astype(np.int16)

    def overload(self, b: int, response_ms: float) -> None:
        """Viewers watching during step `b` react to the interaction service's response time.

        Their host-behind-chat lag is recomputed with the current response time; the rise of the
        interactivity penalty over what they met at their join is a hazard of leaving, spread
        over a decision window (`decision_window_s`), applied for this step. Those who leave
        now free their slot, egress and concurrency from the next step.
        """
        st = self.store
        fresh = np.arange(self.active_upto, self.n_seen)
        candidates = np.concatenate([self.active, fresh])
        self.active = candidates[st["leave_b"][candidates] > b + 1]
        self.active_upto = self.n_seen
        t = b * self.grid.step_s
        rows = self.active[st["start_s"][self.active] <= t]
        if rows.size == 0:
            return
        beh = self.behavior
        now = st["g2g_latency_ms"][rows] + 0.5 * (st["rtt_ms"][rows] + response_ms)
        then = st["g2g_latency_ms"][rows] + 0.5 * st["chat_rtt_ms"][rows]
        rate = self.grid.step_s / beh.decision_window_s
        hazard = (_leave_share(beh, now) - _leave_share(beh, then)) * rate
        u = self.rng_overload.random((2, rows.size))
        hit = u[0] < hazard
        cut = rows[hit]
        if cut.size == 0:
            return
        old_b = st["leave_b"][cut].astype(np.int64)
        np.add.at(self.leave_diff, old_b, -1.0)
        self.leave_diff[b + 1] += cut.size
        self.edge.move_departures(old_b, b + 1, st["kbps"][cut])
        st["leave_s"][cut] = t + u[1][hit] * self.grid.step_s
        st["leave_b"][cut] = b + 1
        st["cut"][cut] = 1.0

    def cut_short(self) -> tuple[NDArray[np.bool_], FloatArray]:
        """(left early because of overload, final leave time) for every viewer, in batch order."""
        n = self.n_seen
        return self.store["cut"][:n] > 0, self.store["leave_s"][:n].copy()


def _draws_lists(market: Market) -> bool:
    """Whether the market's `qoe` (or one of its profiles') holds a sample list."""
    q = market.qoe
    if q is None:
        return False
    return any(
        isinstance(getattr(one, name), list)
        for one in (q, *(q.profiles or {}).values())
        for name in FIXABLE
    )


def _leave_share(beh: Behavior, behind_ms: FloatArray) -> FloatArray:
    q_lat, q_cliff = interactivity(beh, behind_ms)
    result: FloatArray = 1.0 - (1.0 - q_lat) * (1.0 - q_cliff)
    return result


def _slice_paths(p: Paths, lo: int, hi: int) -> Paths:
    return Paths(p.rtt_ms[lo:hi], p.jitter_ms[lo:hi], p.loss[lo:hi], p.burst_len[lo:hi],
                 p.down_kbit[lo:hi], p.profile[lo:hi])  # fmt: skip


def _concat_paths(a: Paths, b: Paths) -> Paths:
    return Paths(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _PATH_FIELDS))


def _take_paths(p: Paths, order: NDArray[np.intp]) -> Paths:
    return Paths(*(getattr(p, f)[order] for f in _PATH_FIELDS))


_PATH_FIELDS = ("rtt_ms", "jitter_ms", "loss", "burst_len", "down_kbit", "profile")


def _batch(
    m: MarketModel,
    arrival: FloatArray,
    access: NDArray[np.int8],
    path: Paths,
    generation: NDArray[np.int16],
    exp: Experience,
    j: Journey,
    leave_b: NDArray[np.int64],
) -> Batch:
    out: Batch = {
        "market": np.full(arrival.size, m.index, dtype=np.int16),
        "access": access,
        "profile": (path.profile + m.index * (len(ACCESS) + 1)).astype(np.int16),
        "arrival_s": arrival,
        "referred": generation > 0,
        "generation": generation,
        "rtt_ms": path.rtt_ms,
        "jitter_ms": path.jitter_ms,
        "loss": path.loss,
        "invites": np.zeros(arrival.size, dtype=np.int32),
        "gmv": j.order_usd,
        "leave_b": leave_b,
        "cut": np.zeros(arrival.size, dtype=bool),
    }
    for key in _EXP_KEYS:
        out[key] = getattr(exp, key)
    for key in _JOURNEY_KEYS:
        out[key] = np.array(getattr(j, key))  # writable: shares and overload update in place
    return out
