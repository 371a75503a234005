"""An impairing TCP relay: each accepted connection is spliced to the target through a profile.

Bytes read from the client cross the ``up`` direction and bytes from the target the ``down``
direction, each with a `StreamScheduler` (delay and jitter per chunk, serialisation at the
rate, order kept, loss turned into retransmission delay; see `netem_profiles.stream` and
docs/netem.md). Chunks are released by a `DeliveryQueue`. Backpressure is TCP's own: when more
than ``limit_pkts × MSS`` bytes wait in a direction, the relay stops reading that side until
half has left, so a fast sender is slowed by flow control instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass

import numpy as np

from netem_profiles.datagram import DeliveryQueue
from netem_profiles.model import Direction, Profile
from netem_profiles.scheduler import make_random
from netem_profiles.stream import MSS, StreamScheduler
from netem_profiles.timing import LatenessHistogram, LatenessSnapshot

__all__ = ["TcpRelay", "TcpRelayStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TcpRelayStats:
    """Connections accepted and failed, bytes relayed per direction, chunks that paid a
    retransmission timeout, and the lateness of deliveries against their schedule (ms)."""

    connections: int
    failed_connects: int
    bytes_up: int
    bytes_down: int
    retransmissions: int
    lateness: LatenessSnapshot


class _Pump:
    """One direction of one connection."""

    def __init__(
        self,
        relay: TcpRelay,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        scheduler: StreamScheduler,
        direction: Direction,
    ) -> None:
        self.relay = relay
        self.reader = reader
        self.writer = writer
        self.scheduler = scheduler
        self.loop = asyncio.get_running_loop()
        self.queue: DeliveryQueue[bytes | None] = DeliveryQueue(self.loop, self._deliver)
        self.high = direction.limit_pkts * MSS
        self.pending = 0
        self.room = asyncio.Event()
        self.room.set()
        self.done = asyncio.Event()

    def _deliver(self, item: bytes | None) -> None:
        if item is None:
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
            self.done.set()
            return
        self.pending -= len(item)
        if self.pending <= self.high // 2:
            self.room.set()
        if not self.writer.is_closing():
            self.writer.write(item)

    async def run(self, up: bool) -> None:
        sched = self.scheduler
        try:
            while True:
                data = await self.reader.read(sched.chunk_limit)
                now_ms = self.loop.time() * 1e3
                if not data:
                    last = max(now_ms, sched.last_departure_ms)
                    self.queue.put(last / 1e3, None)
                    break
                due = sched.submit(len(data), now_ms)
                self.queue.put(due / 1e3, data)
                self.pending += len(data)
                self.relay.count_bytes(len(data), up)
                if self.pending > self.high:
                    self.room.clear()
                    await self.room.wait()
                await self.writer.drain()
            await self.done.wait()
        finally:
            self.relay.record(self.queue.lateness, sched.retransmissions)
            self.queue.close()


class TcpRelay:
    """Relay TCP connections from ``listen`` to ``target`` through ``profile``.

    ``rng`` seeds each connection's two schedulers in turn. ``min_rto_ms`` is the floor of the
    retransmission timeout charged per lossy chunk (RTO = max(min_rto_ms, 2 × profile RTT)).
    """

    def __init__(
        self,
        profile: Profile,
        listen: tuple[str, int],
        target: tuple[str, int],
        *,
        rng: random.Random | np.random.Generator | int | None = None,
        min_rto_ms: float = 200.0,
    ) -> None:
        self.profile = profile
        self.listen = listen
        self.target = target
        self._seeds = make_random(rng)
        self._min_rto = min_rto_ms
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # connection handlers
        self._pumps: set[asyncio.Task[None]] = set()  # their two directions
        self._lateness = LatenessHistogram()
        self._connections = self._failed = 0
        self._bytes = [0, 0]
        self._retransmissions = 0

    async def start(self) -> tuple[str, int]:
        """Listen; returns the bound address (real port when ``listen`` asked for 0)."""
        self._server = await asyncio.start_server(self._handle, *self.listen)
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        """The bound listen address."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("relay not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def __aenter__(self) -> TcpRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def stats(self) -> TcpRelayStats:
        """A snapshot of the counters (lateness of finished connections' directions)."""
        return TcpRelayStats(
            connections=self._connections,
            failed_connects=self._failed,
            bytes_up=self._bytes[0],
            bytes_down=self._bytes[1],
            retransmissions=self._retransmissions,
            lateness=self._lateness.snapshot(),
        )

    def count_bytes(self, n: int, up: bool) -> None:
        self._bytes[0 if up else 1] += n

    def record(self, lateness: LatenessHistogram, retransmissions: int) -> None:
        self._lateness.merge(lateness)
        self._retransmissions += retransmissions

    def _scheduler(self, direction: Direction) -> StreamScheduler:
        return StreamScheduler(
            direction,
            random.Random(self._seeds.getrandbits(64)),
            rtt_ms=self.profile.rtt_ms,
            min_rto_ms=self._min_rto,
        )

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._connections += 1
        writers = [c_writer]
        try:
            try:
                t_reader, t_writer = await asyncio.open_connection(*self.target)
            except OSError as exc:
                self._failed += 1
                log.warning("tcp-relay: cannot reach %s:%s: %s", *self.target, exc)
                return
            writers.append(t_writer)
            profile = self.profile
            up = _Pump(self, c_reader, t_writer, self._scheduler(profile.up), profile.up)
            down = _Pump(self, t_reader, c_writer, self._scheduler(profile.down), profile.down)
            pumps = {asyncio.create_task(up.run(up=True)), asyncio.create_task(down.run(up=False))}
            self._pumps |= pumps
            try:
                # Both directions run until EOF; an error on one (a reset) ends the other. The
                # handler itself must not end cancelled: Python 3.11's stream server logs that.
                _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
                for pump in pending:
                    pump.cancel()
                if pending:
                    await asyncio.wait(pending)
                for pump in pumps:  # retrieve every outcome, so none is reported unretrieved
                    error = None if pump.cancelled() else pump.exception()
                    if isinstance(error, ConnectionError):
                        log.debug("tcp-relay: connection ended: %s", error)
                    elif error is not None:
                        log.error("tcp-relay: pump failed", exc_info=error)
            finally:
                self._pumps -= pumps
        finally:
            for w in writers:
                w.close()
                with contextlib.suppress(ConnectionError):
                    await w.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        """Stop accepting, cancel live connections and wait for them to finish."""
        if self._server is not None:
            self._server.close()
        for pump in list(self._pumps):
            pump.cancel()  # each handler then closes its connection and returns
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        if self._server is not None:
            await self._server.wait_closed()
