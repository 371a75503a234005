"""Delivery queue, precise timers and impaired datagram endpoints, on real loopback sockets."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from netem_profiles import parse_spec
from netem_profiles.datagram import DeliveryQueue, impair_endpoint
from netem_profiles.timing import (
    DeadlineTimer,
    LatenessHistogram,
    new_event_loop,
    precise_timers_available,
    request_short_slice,
)


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run on the precise loop; like asyncio.run, cancel leftover tasks before closing it."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(asyncio.wait_for(coro_fn(), 30))


def test_delivery_queue_keeps_fifo_order_for_equal_deadlines() -> None:
    async def body() -> list[int]:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        done = asyncio.Event()

        def deliver(i: int) -> None:
            got.append(i)
            if len(got) == 300:
                done.set()

        q: DeliveryQueue[int] = DeliveryQueue(loop, deliver)
        due = loop.time() + 0.02
        for i in range(200):
            q.put(due, i)  # all due at the same instant
        for i in range(200, 300):
            q.put(due - 0.01, i)  # put later but due earlier: they go first
        await asyncio.wait_for(done.wait(), 5)
        assert q.pending == 0 and q.delivered == 300
        assert q.lateness.snapshot().count == 300
        return got

    got = run(body)
    assert got == list(range(200, 300)) + list(range(200))


def test_delivery_queue_counts_os_errors_and_keeps_going() -> None:
    async def body() -> tuple[int, list[int]]:
        loop = asyncio.get_running_loop()
        got: list[int] = []

        def deliver(i: int) -> None:
            if i == 1:
                raise OSError("unreachable")
            got.append(i)

        q: DeliveryQueue[int] = DeliveryQueue(loop, deliver)
        for i in range(3):
            q.put(loop.time() + 0.001 * i, i)
        deadline = loop.time() + 5
        while q.pending and loop.time() < deadline:
            await asyncio.sleep(0.005)
        return q.errors, got

    assert run(body) == (1, [0, 2])


@pytest.mark.skipif(not precise_timers_available(), reason="needs Linux timerfd")
def test_precise_loop_fires_timers_well_under_a_millisecond_late() -> None:
    # With epoll's millisecond timeout a timer due in 0.x ms fires up to 1 ms late (median
    # ~0.5 ms); the timerfd selector wakes at the deadline. The median is robust to a busy box.
    async def body() -> list[float]:
        loop = asyncio.get_running_loop()
        late: list[float] = []
        rng = random.Random(1)
        for _ in range(200):
            fired = asyncio.Event()
            due = loop.time() + rng.uniform(0.0002, 0.0009)
            loop.call_at(due, lambda d=due, ev=fired: (late.append(loop.time() - d), ev.set()))
            await fired.wait()
        return late

    late = run(body)
    assert statistics.median(late) < 0.0003


@pytest.mark.skipif(not precise_timers_available(), reason="needs Linux timerfd")
def test_delivery_queue_is_precise_on_the_default_loop_too() -> None:
    # The panel runs its relays on asyncio's default loop, whose own timers round the wait up to
    # the next millisecond: a delivery due in 0.2-0.9 ms would then be at least 0.1 ms late,
    # every time. With the queue's timerfd most are well under that on an idle machine; on a
    # loaded one the run queue delays many wake-ups, so the test asks only for a tenth of them.
    async def body() -> tuple[bool, list[float]]:
        loop = asyncio.get_running_loop()
        late: list[float] = []
        got = asyncio.Event()

        def deliver(due: float) -> None:
            late.append(loop.time() - due)
            got.set()

        q: DeliveryQueue[float] = DeliveryQueue(loop, deliver, own_timer=True)
        rng = random.Random(2)
        try:
            for _ in range(200):
                got.clear()
                due = loop.time() + rng.uniform(0.0002, 0.0009)
                q.put(due, due)
                await asyncio.wait_for(got.wait(), 5)
            return q._timer.precise and q._timer._fd >= 0, late
        finally:
            q.close()

    with asyncio.Runner() as runner:  # the default loop, not new_event_loop
        precise, late = runner.run(body())
    assert precise
    assert len(late) == 200 and min(late) >= 0.0  # never early
    assert sum(x < 0.0001 for x in late) >= 20, sorted(late)[:20]


def test_delivery_queue_flush_due_sends_what_is_due_without_the_timer() -> None:
    async def body() -> tuple[list[int], list[int]]:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        q: DeliveryQueue[int] = DeliveryQueue(loop, got.append)
        try:
            q.put(loop.time() - 0.001, 1)  # already due
            q.put(loop.time() + 0.5, 2)  # not yet
            q.flush_due()  # synchronously, no loop turn
            first = list(got)
            deadline = loop.time() + 5
            while q.pending and loop.time() < deadline:
                await asyncio.sleep(0.02)
            return first, got
        finally:
            q.close()

    assert run(body) == ([1], [1, 2])


@pytest.mark.skipif(not precise_timers_available(), reason="needs Linux timerfd")
def test_deadline_timer_rearms_and_disarms() -> None:
    async def body() -> list[str]:
        loop = asyncio.get_running_loop()
        fired: list[str] = []
        timer = DeadlineTimer(loop, lambda: fired.append("fired"))
        try:
            timer.arm_at(loop.time() + 0.05)
            timer.arm_at(loop.time() + 0.005)  # replaces the first deadline
            await asyncio.sleep(0.2)
            timer.arm_at(loop.time() + 0.02)
            timer.disarm()
            await asyncio.sleep(0.1)
            return fired
        finally:
            timer.close()

    with asyncio.Runner() as runner:
        assert runner.run(body()) == ["fired"]


def test_short_slice_keeps_normal_priority() -> None:
    # In a thread of its own: sched_setattr(0, …) changes the calling thread only.
    import os
    import threading

    out: dict[str, object] = {}

    def body() -> None:
        out["slice"] = request_short_slice(200_000)
        out["policy"] = os.sched_getscheduler(0)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    if out["slice"] is None or out["slice"] != 200_000:
        pytest.skip(f"kernel without EEVDF custom slices (got {out['slice']!r})")
    assert out["policy"] == os.SCHED_OTHER


def test_lateness_histogram_percentiles() -> None:
    h = LatenessHistogram()
    for i in range(100):
        h.record(i * 1e-5)  # 0 .. 0.99 ms
    snap = h.snapshot()
    assert snap.count == 100
    assert snap.p50_ms == pytest.approx(0.50, abs=0.011)
    assert snap.p99_ms == pytest.approx(0.99, abs=0.011)
    assert snap.max_ms == pytest.approx(0.99)


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data, addr)


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: dict[bytes, float] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received[data] = time.monotonic()


async def echo_rtts(spec: str, n: int = 40, seed: int = 1) -> tuple[list[float], Client, Any]:
    loop = asyncio.get_running_loop()
    echo_t, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = echo_t.get_extra_info("sockname")[1]
    transport, client = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    wrapped = impair_endpoint(transport, client, parse_spec(spec), loop, rng=seed)
    sent = {}
    try:
        for i in range(n):
            key = str(i).encode()
            sent[key] = time.monotonic()
            client.transport.sendto(key)  # the protocol's transport is now the wrapped one
            await asyncio.sleep(0.01)
        deadline = loop.time() + 3
        while len(client.received) < n and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        rtts = [(client.received[k] - sent[k]) * 1e3 for k in client.received]
        return rtts, client, wrapped
    finally:
        wrapped.close()
        echo_t.close()


def test_impaired_endpoint_delays_each_direction() -> None:
    rtts, client, wrapped = run(lambda: echo_rtts("delay 5ms down delay 20ms up delay 10ms"))
    assert client.transport is wrapped
    assert len(rtts) == 40
    assert min(rtts) >= 30.0
    assert statistics.median(rtts) < 45.0  # an upper bound with room for a busy machine
    assert wrapped.scheduler.stats.submitted == 40
    assert wrapped.receive_queue is not None and wrapped.receive_queue.delivered == 40


def test_impaired_endpoint_loses_on_the_receive_side() -> None:
    rtts, _, wrapped = run(lambda: echo_rtts("down loss 100%", n=20))
    assert rtts == []
    assert wrapped.scheduler.stats.scheduled == 20  # the up side forwarded everything
