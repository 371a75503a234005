"""Impairing asyncio datagram endpoints: sends and receives pass through a scheduler.

This is how a client (e.g. aioice's UDP transport inside an aiortc viewer) sits behind a profile:

    transport, protocol = await loop.create_datagram_endpoint(...)
    profile = load_profile("ID-4g")
    wrapped = impair_endpoint(transport, protocol, profile, loop, rng=random.Random(seed))
    # the client's `sendto` goes through the up scheduler (viewer → origin), and datagrams
    # reach `protocol.datagram_received` after the down scheduler (origin → viewer).

`impair_endpoint` replaces ``protocol.transport`` when the protocol keeps one (aioice's
``StunProtocol`` does) and returns the wrapped transport for callers that keep their own.
The two halves are also usable alone: `ImpairedDatagramTransport` and `impair_protocol`.

Delivery uses one `DeliveryQueue` per direction: a heap ordered by (due time, arrival sequence)
and a single timer for the earliest item, so packets due at the same instant leave in arrival
order (one ``call_at`` per packet would not guarantee that) and the loop holds one timer per
direction, not one per packet in flight. Use `netem_profiles.timing.new_event_loop` for
sub-millisecond timer precision, or ``DeliveryQueue(..., own_timer=True)`` (a timerfd) on any loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np

from netem_profiles.model import Profile
from netem_profiles.scheduler import ImpairmentScheduler, make_random
from netem_profiles.timing import DeadlineTimer, LatenessHistogram

__all__ = [
    "DeliveryQueue",
    "ImpairedDatagramTransport",
    "impair_endpoint",
    "impair_protocol",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeliveryQueue(Generic[T]):
    """Hands items to ``deliver`` at their due loop time (s), FIFO among equal due times.

    ``deliver`` runs inside the loop; an `OSError` from it (a send to a closed or unreachable
    socket) is logged and counted in ``errors``, anything else propagates to the loop's handler.
    Every delivery's lateness (loop time at delivery − due time) goes to ``lateness``.

    With ``own_timer=True`` the timer is a `DeadlineTimer` (a timerfd at an absolute time), so
    deliveries are precise on any selector loop, asyncio's default one included; by default it is
    the loop's own ``call_at``, precise on `timing.new_event_loop` (the relay command's loop) and
    to 1 ms on the default loop, which batches a busy process's wake-ups (the media panel, where
    one wake-up per packet cost CPU the browsers needed). Each wake-up delivers everything due, and
    a relay that is busy reading calls `flush_due` between datagrams, so a burst of arrivals does
    not hold back departures already due (on a loaded machine that wait was the larger error).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[T], None],
        *,
        own_timer: bool = False,
    ) -> None:
        self._loop = loop
        self._deliver = deliver
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._timer = DeadlineTimer(loop, self._fire, use_timerfd=own_timer)
        self._timer_due = float("inf")
        self._closed = False
        self.lateness = LatenessHistogram()
        self.delivered = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        """Items waiting for their due time."""
        return len(self._heap)

    def put(self, due: float, item: T) -> None:
        """Deliver ``item`` at loop time ``due`` (seconds)."""
        if self._closed:
            return
        heapq.heappush(self._heap, (due, next(self._seq), item))
        if due < self._timer_due:
            self._timer_due = due
            self._timer.arm_at(due)

    def flush_due(self) -> None:
        """Deliver what is already due now, without waiting for the timer's wake-up."""
        heap = self._heap
        if heap and heap[0][0] <= self._loop.time():
            self._fire()

    def _fire(self) -> None:
        heap = self._heap
        clock = self._loop.time
        lateness = self.lateness
        deliver = self._deliver
        # asyncio's own timers run once loop.time() is within one clock resolution of them;
        # the timerfd fires at the deadline itself, so nothing is sent early.
        horizon = 0.0 if self._timer.precise else self._loop._clock_resolution  # type: ignore[attr-defined]
        now = clock()
        while heap and heap[0][0] <= now + horizon:
            due, _, item = heapq.heappop(heap)
            lateness.record(now - due)
            try:
                deliver(item)
                self.delivered += 1
            except OSError as exc:
                self.errors += 1
                log.debug("delivery failed: %s", exc)
            if heap and heap[0][0] > now:
                now = clock()  # only read the clock again when the next item needs it
        if heap and not self._closed:
            self._timer_due = heap[0][0]
            self._timer.arm_at(self._timer_due)
        else:
            self._timer_due = float("inf")

    def close(self) -> None:
        """Drop everything pending and stop the timer."""
        self._closed = True
        self._heap.clear()
        self._timer_due = float("inf")
        self._timer.close()


class ImpairedDatagramTransport(asyncio.DatagramTransport):
    """Wraps a datagram transport so ``sendto`` passes through ``scheduler`` (the up direction).

    Everything else (``get_extra_info``, ``is_closing``, …) is the inner transport's. ``close``
    drops packets still in flight, as a closed socket would.
    """

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        scheduler: ImpairmentScheduler,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__()
        self.inner = transport
        self.scheduler = scheduler
        self._loop = loop
        self.queue: DeliveryQueue[tuple[bytes, Any]] = DeliveryQueue(loop, self._send_now)
        # The receive side's queue when `impair_endpoint` built both halves; closed with us.
        self.receive_queue: DeliveryQueue[tuple[bytes, Any]] | None = None

    def _send_now(self, item: tuple[bytes, Any]) -> None:
        if not self.inner.is_closing():
            data, addr = item
            self.inner.sendto(data, addr)

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        payload = bytes(data)
        now_ms = self._loop.time() * 1e3
        for departure in self.scheduler.submit(len(payload), now_ms):
            self.queue.put(departure / 1e3, (payload, addr))

    def _stop(self) -> None:
        self.queue.close()
        if self.receive_queue is not None:
            self.receive_queue.close()

    def close(self) -> None:
        self._stop()
        self.inner.close()

    def abort(self) -> None:
        self._stop()
        self.inner.abort()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.inner.get_protocol()

    def __getattr__(self, name: str) -> Any:
        # Anything else the concrete transport offers (e.g. get_write_buffer_size).
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def impair_protocol(
    protocol: asyncio.DatagramProtocol,
    scheduler: ImpairmentScheduler,
    loop: asyncio.AbstractEventLoop,
) -> DeliveryQueue[tuple[bytes, Any]]:
    """Route ``protocol.datagram_received`` through ``scheduler`` (the down direction).

    Replaces the method on this instance only; returns the delivery queue (for its stats and to
    ``close()`` it when the endpoint closes).
    """
    original = protocol.datagram_received

    def deliver(item: tuple[bytes, Any]) -> None:
        original(*item)

    queue: DeliveryQueue[tuple[bytes, Any]] = DeliveryQueue(loop, deliver)

    def datagram_received(data: bytes, addr: Any) -> None:
        now_ms = loop.time() * 1e3
        for departure in scheduler.submit(len(data), now_ms):
            queue.put(departure / 1e3, (data, addr))

    protocol.datagram_received = datagram_received  # type: ignore[method-assign]
    return queue


def impair_endpoint(
    transport: asyncio.DatagramTransport,
    protocol: asyncio.DatagramProtocol,
    profile: Profile,
    loop: asyncio.AbstractEventLoop,
    *,
    rng: random.Random | np.random.Generator | int | None = None,
) -> ImpairedDatagramTransport:
    """Put a client endpoint behind ``profile``: sends take ``up``, receives take ``down``.

    Each direction gets its own scheduler seeded from ``rng``. Returns the wrapped transport
    (also stored as ``protocol.transport`` when the protocol has that attribute); closing it
    also stops the receive queue.
    """
    r = make_random(rng)
    up = ImpairmentScheduler(profile.up, random.Random(r.getrandbits(64)))
    down = ImpairmentScheduler(profile.down, random.Random(r.getrandbits(64)))
    wrapped = ImpairedDatagramTransport(transport, up, loop)
    wrapped.receive_queue = impair_protocol(protocol, down, loop)
    if hasattr(protocol, "transport"):
        protocol.transport = wrapped
    return wrapped
