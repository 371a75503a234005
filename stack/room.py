"""A live room's interaction side: who is connected, what they say, and what the host does.

Deliveries go through one delivery task per room. In a small room a message is sent as soon as
the task runs (lowest latency); in a room with more than `batch_threshold` connections the task
waits for the next `batch_tick_ms` tick and sends all pending messages as one
`{"type": "batch", "messages": [...]}` frame per viewer, serialised once for the whole room, so
the cost grows with viewers × ticks rather than viewers × messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from stack.metrics import Histogram, Registry
from stack.ratelimit import TokenBucket
from stack.schedule import HostSchedule
from stack.tasks import spawn

__all__ = ["Connection", "Room", "RoomSettings", "ws_text_frame"]

log = logging.getLogger(__name__)

# A viewer whose socket buffer holds more than this is not reading: it is cut off (1013) so it
# cannot hold the room's delivery task hostage.
MAX_WRITE_BUFFER_BYTES = 4 * 1024 * 1024


def ws_text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 §5.2) carrying `payload`."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


@dataclass(frozen=True)
class RoomSettings:
    batch_tick_ms: float
    batch_threshold: int
    think_time_s: float
    schedule: HostSchedule


@dataclass(eq=False)
class Connection:
    """One viewer's WebSocket."""

    ws: web.WebSocketResponse
    viewer: str
    market: str
    bucket: TokenBucket
    transport: Any  # asyncio.Transport of the HTTP connection, for its write-buffer size
    closing: bool = False


@dataclass
class _Pending:
    msg: dict[str, Any]
    origin_ms: float  # when the server received the message that caused it (epoch ms)


@dataclass
class Tallies:
    likes: int = 0
    shares: int = 0
    votes: dict[str, dict[str, int]] = field(default_factory=dict)


class Room:
    """State and background tasks of one room. `clock_ms` gives epoch ms (injected)."""

    def __init__(
        self,
        name: str,
        settings: RoomSettings,
        metrics: Registry,
        lag: Histogram,
        fanout: Histogram,
        clock_ms: Callable[[], float],
        leaderboard: Callable[[], Any],
    ) -> None:
        self.name = name
        self.settings = settings
        self.metrics = metrics
        self.lag = lag
        self.fanout = fanout
        self.clock_ms = clock_ms
        self.opened_ms = int(clock_ms())
        self.open_poll: dict[str, Any] | None = None
        self.conns: set[Connection] = set()
        self.tallies = Tallies()
        self._leaderboard = leaderboard
        self._outbox: list[_Pending] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._viewers_sent = -1
        self.leaderboard_dirty = False

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        def crashed(name: str) -> None:
            self.metrics.inc("livelab_stack_errors_total", code="task_died")

        for coro, name in (
            (self._deliver_loop(), "deliver"),
            (self._host_loop(), "host"),
            (self._status_loop(), "status"),
        ):
            self._tasks.append(spawn(coro, f"room-{self.name}-{name}", crashed))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def add(self, conn: Connection) -> None:
        self.conns.add(conn)

    def remove(self, conn: Connection) -> None:
        self.conns.discard(conn)

    # sending ----------------------------------------------------------------------------------
    def broadcast(self, msg: dict[str, Any], origin_ms: float | None = None) -> None:
        """Queue `msg` for every viewer of the room."""
        self._outbox.append(_Pending(msg, self.clock_ms() if origin_ms is None else origin_ms))
        self._wake.set()

    async def send_one(self, conn: Connection, msg: dict[str, Any]) -> None:
        """Send `msg` to one viewer now (errors, pongs, welcome)."""
        if conn.closing or conn.ws.closed:
            return
        try:
            await conn.ws.send_str(json.dumps(msg, separators=(",", ":")))
        except ConnectionError:
            conn.closing = True
        else:
            self.metrics.inc("livelab_stack_ws_messages_out_total")
            self.metrics.inc("livelab_stack_ws_frames_out_total")

    async def _deliver_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick_s = self.settings.batch_tick_ms / 1000
        next_tick = loop.time()
        while True:
            await self._wake.wait()
            if len(self.conns) > self.settings.batch_threshold:
                next_tick = max(next_tick + tick_s, loop.time())
                delay = next_tick - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._wake.clear()
            pending, self._outbox = self._outbox, []
            if pending:
                await self._flush(pending)

    async def _flush(self, pending: list[_Pending]) -> None:
        if len(pending) == 1 and len(self.conns) <= self.settings.batch_threshold:
            data = json.dumps(pending[0].msg, separators=(",", ":"))
        else:
            data = json.dumps(
                {"type": "batch", "messages": [p.msg for p in pending]}, separators=(",", ":")
            )
        # Frame once, write the same bytes to every socket: per viewer this costs one
        # transport.write (no per-socket framing, no per-socket await). Safe because the stack
        # negotiates no WebSocket extensions (compress=False) and server frames are unmasked;
        # each write is one whole frame, so it cannot interleave with aiohttp's own writes.
        frame = ws_text_frame(data.encode())
        started_ms = self.clock_ms()
        sent = 0
        for conn in list(self.conns):
            transport = conn.transport
            if conn.closing or conn.ws.closed or transport is None or transport.is_closing():
                continue
            if transport.get_write_buffer_size() > MAX_WRITE_BUFFER_BYTES:
                conn.closing = True
                self.metrics.inc("livelab_stack_errors_total", code="slow_consumer")
                asyncio.get_running_loop().create_task(
                    conn.ws.close(code=1013, message=b"not reading")
                )
                continue
            transport.write(frame)
            sent += 1
        done_ms = self.clock_ms()
        self.fanout.observe(done_ms - started_ms)
        for p in pending:
            self.lag.observe(done_ms - p.origin_ms, times=max(sent, 1))
        self.metrics.inc("livelab_stack_ws_messages_out_total", len(pending) * sent)
        self.metrics.inc("livelab_stack_ws_frames_out_total", sent)
        # Let readers and other rooms run between two large fan-outs.
        await asyncio.sleep(0)

    # the simulated host -----------------------------------------------------------------------
    def answer_later(self, viewer: str, question_id: str) -> None:
        """The host answers a question after its think time."""

        def answer() -> None:
            self.broadcast(
                {
                    "type": "answer",
                    "question_id": question_id,
                    "to": viewer,
                    "ts": int(self.clock_ms()),
                }
            )

        asyncio.get_running_loop().call_later(self.settings.think_time_s, answer)

    async def _host_loop(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() - (self.clock_ms() - self.opened_ms) / 1000
        schedule = self.settings.schedule
        k = 0
        while schedule.count is None or k < schedule.count:
            for at_s, msg in schedule.events(k, self.opened_ms):
                delay = start + at_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if msg["type"] == "poll":
                    self.tallies.votes.setdefault(msg["poll_id"], {})
                    self.open_poll = msg  # late joiners get it in their welcome
                self.broadcast(msg)
            k += 1

    def current_poll(self) -> dict[str, Any] | None:
        """The last poll the host opened, while it is open (for a joining viewer's welcome)."""
        poll = self.open_poll
        if poll is None or float(poll.get("closes_at", 0)) <= self.clock_ms():
            return None
        return poll

    async def _status_loop(self) -> None:
        """Once a second: viewer count and leaderboard, when they changed."""
        while True:
            await asyncio.sleep(1.0)
            count = len(self.conns)
            if count != self._viewers_sent:
                self._viewers_sent = count
                self.broadcast({"type": "viewers", "count": count})
            if self.leaderboard_dirty:
                self.leaderboard_dirty = False
                entries = await self._leaderboard()
                self.broadcast({"type": "leaderboard", "entries": entries})
