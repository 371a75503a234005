"""An impairing UDP relay: ``client → listen → (up scheduler) → target`` and back (down).

Each client address gets its own upstream socket (bound to the listen host, connected to the
target), so replies find their way back, and its own pair of schedulers: every viewer has its
own path. Datagrams are timestamped by the kernel on arrival (`netio`), departures are computed
from that instant and released by one `DeliveryQueue` for the whole relay (FIFO among equal
times, one timer). Between two datagrams of a read batch the relay sends whatever has come
due, so reading a burst never holds back departures. Flows idle for ``idle_timeout_s`` are
closed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from dataclasses import dataclass, field

import numpy as np

from netem_profiles.datagram import DeliveryQueue
from netem_profiles.model import Profile
from netem_profiles.netio import enable_rx_timestamps, realtime_offset, recv_with_timestamp
from netem_profiles.scheduler import ImpairmentScheduler, SchedulerStats, make_random
from netem_profiles.timing import LatenessSnapshot

__all__ = ["RelayStats", "UdpRelay"]

log = logging.getLogger(__name__)
_MAX_DATAGRAM = 65535
_READ_BATCH = 64  # datagrams per readiness callback, so one busy socket cannot starve others


@dataclass(frozen=True)
class RelayStats:
    """Relay counters: flows seen, per-direction scheduler totals, send errors, and the
    lateness of sends against their scheduled departure (ms)."""

    flows: int
    up: SchedulerStats
    down: SchedulerStats
    send_errors: int
    lateness: LatenessSnapshot

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        from dataclasses import asdict

        return asdict(self)


def _add(a: SchedulerStats, b: SchedulerStats) -> SchedulerStats:
    return SchedulerStats(*(x + y for x, y in zip(vars(a).values(), vars(b).values(), strict=True)))


_ZERO = SchedulerStats(0, 0, 0, 0, 0, 0)


@dataclass
class _Flow:
    client: tuple[str, int]
    sock: socket.socket
    up: ImpairmentScheduler
    down: ImpairmentScheduler
    last_seen: float = 0.0
    closed: bool = field(default=False)


class UdpRelay:
    """Relay datagrams between clients of ``listen`` and ``target`` through ``profile``.

    ``rng`` seeds the per-flow schedulers (flow k gets the k-th seed drawn from it), so a fixed
    seed and the same traffic give the same impairment. Use as ``async with UdpRelay(...)``
    or call `start` / `close`.
    """

    def __init__(
        self,
        profile: Profile,
        listen: tuple[str, int],
        target: tuple[str, int],
        *,
        rng: random.Random | np.random.Generator | int | None = None,
        idle_timeout_s: float = 60.0,
    ) -> None:
        self.profile = profile
        self.listen = listen
        self.target = target
        self._seeds = make_random(rng)
        self._idle_timeout = idle_timeout_s
        self._flows: dict[tuple[str, int], _Flow] = {}
        self._closed_up = _ZERO
        self._closed_down = _ZERO
        self._flow_count = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: DeliveryQueue[tuple[socket.socket, bytes, tuple[str, int] | None]] | None = (
            None
        )
        self._sweeper: asyncio.TimerHandle | None = None
        self._offset = realtime_offset()

    @property
    def address(self) -> tuple[str, int]:
        """The bound listen address (the real port when ``listen`` asked for port 0)."""
        if self._sock is None:
            raise RuntimeError("relay not started")
        host, port = self._sock.getsockname()[:2]
        return host, port

    async def start(self) -> tuple[str, int]:
        """Bind and start relaying; returns the bound listen address."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._queue = DeliveryQueue(loop, self._send)
        family = socket.AF_INET6 if ":" in self.listen[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.bind(self.listen)
        enable_rx_timestamps(sock)
        self._sock = sock
        loop.add_reader(sock.fileno(), self._on_client_data)
        self._sweeper = loop.call_later(self._idle_timeout / 2, self._sweep)
        return self.address

    async def __aenter__(self) -> UdpRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def active_flows(self) -> int:
        """Client flows currently open."""
        return len(self._flows)

    @property
    def stats(self) -> RelayStats:
        """A snapshot of the counters."""
        up, down = self._closed_up, self._closed_down
        for flow in self._flows.values():
            up = _add(up, flow.up.stats)
            down = _add(down, flow.down.stats)
        queue = self._queue
        lateness = queue.lateness.snapshot() if queue else LatenessSnapshot(0, 0, 0, 0, 0)
        return RelayStats(
            flows=self._flow_count,
            up=up,
            down=down,
            send_errors=queue.errors if queue else 0,
            lateness=lateness,
        )

    def _send(self, item: tuple[socket.socket, bytes, tuple[str, int] | None]) -> None:
        sock, data, addr = item
        if sock.fileno() < 0:
            return  # flow closed while the packet was in flight
        if addr is None:
            sock.send(data)
        else:
            sock.sendto(data, addr)

    def _now(self, kernel_time: float | None) -> float:
        loop = self._loop
        if loop is None:
            raise RuntimeError("relay not started")
        now = loop.time()
        # A timestamp from the future, or implausibly old, means the realtime clock stepped
        # between the kernel's stamp and our offset: trust the loop's clock instead.
        if kernel_time is None or not now - 1.0 < kernel_time <= now:
            return now
        return kernel_time

    def _flow(self, client: tuple[str, int]) -> _Flow:
        flow = self._flows.get(client)
        if flow is not None:
            return flow
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        up_sock = socket.socket(family, socket.SOCK_DGRAM)
        up_sock.setblocking(False)
        up_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        up_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        up_sock.bind((self.listen[0], 0))
        up_sock.connect(self.target)
        enable_rx_timestamps(up_sock)
        flow = _Flow(
            client=client,
            sock=up_sock,
            up=ImpairmentScheduler(self.profile.up, random.Random(self._seeds.getrandbits(64))),
            down=ImpairmentScheduler(self.profile.down, random.Random(self._seeds.getrandbits(64))),
        )
        self._flows[client] = flow
        self._flow_count += 1
        if self._loop is not None:
            self._loop.add_reader(up_sock.fileno(), self._on_target_data, flow)
        return flow

    def _on_client_data(self) -> None:
        sock, queue = self._sock, self._queue
        if sock is None or queue is None:
            return
        self._offset = realtime_offset()
        for _ in range(_READ_BATCH):
            try:
                data, client, kernel_time = recv_with_timestamp(sock, _MAX_DATAGRAM, self._offset)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                log.debug("listen socket error: %s", exc)
                continue
            arrival = self._now(kernel_time)
            flow = self._flow(client)
            flow.last_seen = arrival
            for departure in flow.up.submit(len(data), arrival * 1e3):
                queue.put(departure / 1e3, (flow.sock, data, None))
            queue.flush_due()  # sends already due go before the next read, not after the batch

    def _on_target_data(self, flow: _Flow) -> None:
        sock, queue = self._sock, self._queue
        if sock is None or queue is None or flow.closed:
            return
        self._offset = realtime_offset()
        for _ in range(_READ_BATCH):
            try:
                data, _addr, kernel_time = recv_with_timestamp(
                    flow.sock, _MAX_DATAGRAM, self._offset
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # the target is not listening (ICMP unreachable)
                log.debug("target socket error for %s: %s", flow.client, exc)
                continue
            arrival = self._now(kernel_time)
            flow.last_seen = arrival
            for departure in flow.down.submit(len(data), arrival * 1e3):
                queue.put(departure / 1e3, (sock, data, flow.client))
            queue.flush_due()

    def _close_flow(self, flow: _Flow) -> None:
        flow.closed = True
        self._closed_up = _add(self._closed_up, flow.up.stats)
        self._closed_down = _add(self._closed_down, flow.down.stats)
        if self._loop is not None:
            self._loop.remove_reader(flow.sock.fileno())
        flow.sock.close()
        self._flows.pop(flow.client, None)

    def _sweep(self) -> None:
        loop = self._loop
        if loop is None:
            return
        horizon = loop.time() - self._idle_timeout
        for flow in [f for f in self._flows.values() if f.last_seen < horizon]:
            self._close_flow(flow)
        self._sweeper = loop.call_later(self._idle_timeout / 2, self._sweep)

    def close(self) -> None:
        """Stop relaying: close every flow and the listen socket, drop packets in flight."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._queue is not None:
            self._queue.close()
        for flow in list(self._flows.values()):
            self._close_flow(flow)
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
