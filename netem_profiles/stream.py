"""The stream scheduler: a profile applied to a reliable byte stream (TCP), as a pure function.

A TCP relay cannot drop or duplicate bytes: the stream is reliable and ordered. So, per chunk of
bytes read from one side (the relay reads at most ``chunk_limit`` bytes at a time):

- delay and jitter: one draw per chunk, as for a packet (`ImpairmentScheduler` semantics);
- bandwidth: serialisation ``size × 8 / rate`` after the previous chunk (netem's ``rate``);
- order: a chunk never leaves before the previous one (a byte stream is in order);
- loss becomes retransmission delay: each of the chunk's segments (``mss`` bytes) takes a loss
  draw from the profile's loss model (random or Gilbert-Elliott); if any is lost, the chunk and
  everything behind it waits one retransmission timeout, ``max(min_rto_ms, 2 × RTT)``. Losses
  within one chunk (one flight) are recovered together, as a SACK recovery would; a chunk with
  a loss costs one RTO, not one per segment;
- duplication and reordering are invisible on a stream (TCP hides them) and are ignored.
"""

from __future__ import annotations

import math
import random

import numpy as np

from netem_profiles._dist import table_lookup
from netem_profiles.model import Direction
from netem_profiles.scheduler import CorrelatedUniform, LossProcess, make_random

__all__ = ["StreamScheduler", "rto_ms"]

MSS = 1448  # bytes of TCP payload per segment on a 1500-byte MTU with timestamps


def rto_ms(rtt_ms: float, min_rto_ms: float = 200.0) -> float:
    """Retransmission timeout charged for a loss (ms): max(min_rto_ms, 2 × RTT)."""
    return max(min_rto_ms, 2.0 * rtt_ms)


class StreamScheduler:
    """Delivery times (ms) for chunks of a byte stream crossing one direction of a profile.

    ``rtt_ms`` is the path's round trip (e.g. ``profile.rtt_ms``), used for the RTO.
    """

    def __init__(
        self,
        direction: Direction,
        rng: random.Random | np.random.Generator | int | None = None,
        *,
        rtt_ms: float,
        mss: int = MSS,
        min_rto_ms: float = 200.0,
    ) -> None:
        self.direction = direction
        r = make_random(rng)
        self._loss = LossProcess(direction, r)
        self._delay_u = CorrelatedUniform(direction.delay_corr, r)
        self._mss = mss
        self._rto = rto_ms(rtt_ms, min_rto_ms)
        self._last = float("-inf")
        self.chunks = 0
        self.retransmissions = 0

    @property
    def last_departure_ms(self) -> float:
        """Delivery time of the latest chunk so far (ms; -inf before the first)."""
        return self._last

    @property
    def chunk_limit(self) -> int:
        """Bytes to read per chunk: ≤ 10 ms of serialisation at the rate, within [MSS, 64 KiB]."""
        rate = self.direction.rate_kbit
        if rate is None:
            return 65536
        return int(min(65536, max(self._mss, rate * 1000 / 8 * 0.010)))

    def submit(self, size_bytes: int, now_ms: float) -> float:
        """Delivery time (ms) of a chunk of ``size_bytes`` read at ``now_ms``."""
        d = self.direction
        self.chunks += 1
        delay = d.delay_ms
        if d.jitter_ms > 0:
            delay = max(0.0, delay + d.jitter_ms * table_lookup(d.distribution, self._delay_u()))
        departure = max(now_ms + delay, self._last)
        if d.rate_kbit is not None:
            departure += size_bytes * 8 / d.rate_kbit
        if d.loss > 0 or d.ge is not None:
            segments = max(1, math.ceil(size_bytes / self._mss))
            if any([self._loss.lost() for _ in range(segments)]):
                self.retransmissions += 1
                departure += self._rto
        self._last = departure
        return departure
