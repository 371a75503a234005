"""The packet scheduler: netem's semantics as a pure function of (packet size, arrival time).

`ImpairmentScheduler.submit(size_bytes, now_ms)` returns the departure times (ms, same clock as
``now_ms``) of the packet's copies: ``[]`` when it is lost or tail-dropped, one time normally,
two when it is duplicated. It never reads a clock, so tests drive it with explicit times.

What it does per packet, in netem's order (net/sched/sch_netem.c, ``netem_enqueue``):

1. duplication: with probability ``duplicate`` a second copy is made;
2. loss: random (``loss``, with netem's correlated random) or Gilbert-Elliott (the chain moves,
   then the packet is lost with the new state's loss probability); a duplicated packet loses one
   copy;
3. queue limit: if ``limit_pkts`` packets are already waiting (departure still in the future),
   the packet is tail-dropped;
4. reordering (only when ``reorder`` > 0): every ``reorder_gap``-th packet at most, with
   probability ``reorder``, leaves at once, ahead of the delayed ones;
5. otherwise delay: ``delay_ms + jitter_ms × table(distribution, u)`` (clamped at 0) where
   ``u`` is netem's correlated uniform ``(1 − ρ)·v + ρ·u_prev``;
6. ordering and rate: the departure is ``max(arrival + delay, previous departure)``, plus the
   serialisation time ``size × 8 / rate`` when a rate is set (netem's ``rate``: the previous
   packet's departure is the reference point). A duplicate is enqueued again after the original
   (with duplication off, as netem does), so it takes its own loss and delay draws.

Keeping order reshapes delay: a packet that drew a short delay waits for the one before it.
When packets arrive further apart than the jitter spread this rarely binds; when they arrive
closer (e.g. 1 ms apart with 10 ms of jitter), delays pile up behind slow draws, so the mean
delay rises and its spread shrinks, as in a real FIFO queue. Kernel netem without ``rate``
instead sorts by departure time (tfifo) and reorders jittered packets; livelab keeps order
unless the profile asks for ``reorder`` (see docs/netem.md).

Correlation follows netem exactly, including its known side effect: with ρ > 0 the correlated
uniform is narrower than uniform, so correlated jitter has a smaller spread and correlated loss a
different mean than the uncorrelated figures (``Direction.delay_sd_ms`` is the uncorrelated sd).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

import numpy as np

from netem_profiles._dist import table_lookup
from netem_profiles.model import Direction

__all__ = [
    "CorrelatedUniform",
    "ImpairmentScheduler",
    "LossProcess",
    "SchedulerStats",
    "make_random",
]


def make_random(rng: random.Random | np.random.Generator | int | None) -> random.Random:
    """A `random.Random` from a Random (used as is), a numpy Generator (seeds a new Random from
    it, deterministically), an int seed, or None (seeded by the OS)."""
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, np.random.Generator):
        return random.Random(int(rng.integers(0, 2**63)))
    return random.Random(rng)


class CorrelatedUniform:
    """netem's ``get_crandom``: ``u = (1 − ρ)·v + ρ·u_prev`` with v uniform in [0, 1)."""

    def __init__(self, rho: float, rng: random.Random) -> None:
        self._rho = rho
        self._rng = rng
        self._last = rng.random() if rho > 0 else 0.0

    def __call__(self) -> float:
        v = self._rng.random()
        if self._rho <= 0:
            return v
        self._last = (1.0 - self._rho) * v + self._rho * self._last
        return self._last


class LossProcess:
    """Per-packet loss decisions of one direction: random (correlated) or Gilbert-Elliott."""

    def __init__(self, direction: Direction, rng: random.Random) -> None:
        self._rng = rng
        self._ge = direction.ge
        self._loss = direction.loss
        self._bad = False
        self._u = CorrelatedUniform(direction.loss_corr, rng)

    def lost(self) -> bool:
        """Draw the next packet's fate; True means lost."""
        ge = self._ge
        if ge is not None:
            # netem moves the chain first, then decides with the new state's loss probability.
            if self._bad:
                if self._rng.random() < ge.r:
                    self._bad = False
            elif self._rng.random() < ge.p:
                self._bad = True
            loss = ge.bad_loss if self._bad else ge.good_loss
            return loss > 0 and self._rng.random() < loss
        return self._loss > 0 and self._u() < self._loss


@dataclass(frozen=True)
class SchedulerStats:
    """Counts since the scheduler was made (packets): submitted, copies scheduled to leave, lost
    to the loss model, tail-dropped at the queue limit, duplicated, sent ahead by reordering."""

    submitted: int
    scheduled: int
    lost: int
    queue_drops: int
    duplicated: int
    reordered: int


class ImpairmentScheduler:
    """Departure times for packets crossing one direction of a profile (module docstring).

    ``rng``: a `random.Random`, numpy Generator, int seed or None; the same seed and the same
    submissions give the same departures.
    """

    def __init__(
        self,
        direction: Direction,
        rng: random.Random | np.random.Generator | int | None = None,
    ) -> None:
        self.direction = direction
        r = make_random(rng)
        self._rng = r
        self._loss = LossProcess(direction, r)
        self._delay_u = CorrelatedUniform(direction.delay_corr, r)
        self._dup_u = CorrelatedUniform(direction.duplicate_corr, r)
        self._reorder_u = CorrelatedUniform(direction.reorder_corr, r)
        self._ms_per_bit = None if direction.rate_kbit is None else 1.0 / direction.rate_kbit
        self._queue: list[float] = []  # departure times still in the future (a min-heap)
        self._last = float("-inf")  # departure of the last in-order packet
        self._counter = 0  # packets since the last reordered one (netem's q->counter)
        self._submitted = self._scheduled = self._lost = 0
        self._queue_drops = self._duplicated = self._reordered = 0

    @property
    def stats(self) -> SchedulerStats:
        """A snapshot of the counters (reading it changes nothing)."""
        return SchedulerStats(
            self._submitted,
            self._scheduled,
            self._lost,
            self._queue_drops,
            self._duplicated,
            self._reordered,
        )

    def queue_len(self, now_ms: float) -> int:
        """Packets still waiting to leave at ``now_ms``."""
        self._release(now_ms)
        return len(self._queue)

    def _release(self, now_ms: float) -> None:
        queue = self._queue
        while queue and queue[0] <= now_ms:
            heapq.heappop(queue)

    def submit(self, size_bytes: int, now_ms: float) -> list[float]:
        """Departure times (ms) of a packet of ``size_bytes`` arriving at ``now_ms``.

        ``[]``: lost or dropped; one time: forwarded; two: duplicated. Times never precede
        ``now_ms``; without reordering they never precede an earlier departure.
        """
        self._release(now_ms)
        self._submitted += 1
        out: list[float] = []
        self._enqueue(size_bytes, now_ms, out, may_duplicate=True)
        return out

    def _enqueue(self, size: int, now: float, out: list[float], *, may_duplicate: bool) -> None:
        d = self.direction
        count = 1
        if may_duplicate and d.duplicate > 0 and self._dup_u() < d.duplicate:
            count += 1
        if self._loss.lost():
            count -= 1
        if count == 0:
            self._lost += 1
            return
        if len(self._queue) >= d.limit_pkts:
            self._queue_drops += count
            return
        departure = self._departure(size, now)
        heapq.heappush(self._queue, departure)
        out.append(departure)
        self._scheduled += 1
        if count > 1:
            self._duplicated += 1
            self._enqueue(size, now, out, may_duplicate=False)

    def _departure(self, size: int, now: float) -> float:
        d = self.direction
        if d.reorder > 0 and self._counter >= d.reorder_gap - 1 and self._reorder_u() < d.reorder:
            # netem puts this packet at the head of the queue, to leave now.
            self._counter = 0
            self._reordered += 1
            return now
        self._counter += 1
        delay = d.delay_ms
        if d.jitter_ms > 0:
            delay += d.jitter_ms * table_lookup(d.distribution, self._delay_u())
            delay = max(delay, 0.0)
        departure = max(now + delay, self._last)
        if self._ms_per_bit is not None:
            departure += size * 8 * self._ms_per_bit
        self._last = departure
        return departure
