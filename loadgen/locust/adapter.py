"""The interaction adapter: how one virtual viewer's script talks to a stack's own API.

The plan gives every virtual viewer a script (join, connect, chat, like, question, vote, order,
share, leave at set plan times, see `loadgen.plan.document.Script`); the Locust user
(`loadgen.locust.viewer`) plays it by calling one `Adapter` per script. livelab's own protocol
(docs/protocol.md) is the default adapter, `loadgen.locust.adapters.reference:ReferenceAdapter`;
a team points livelab at its own chat and order API by subclassing `Adapter` and naming the class
in `[load] adapter = "package.module:Class"` or `livelab run --adapter package.module:Class`
(docs/adapters.md; `loadgen.locust.adapters.socketio:SocketIOAdapter` is a worked example).

An adapter runs inside Locust, under gevent: blocking socket libraries cooperate (gevent patched
them), and a background receiver is a `gevent.spawn`. It never calls Locust itself: it measures
with `record(metric, value_ms, ok, error)`, `timed(metric)` or the pending-reply helpers
(`expect` / `resolve` / `expire`), all of which feed the same `events.request.fire` pipeline and
exact sample book under livelab's metric names (`METRIC_OF`). An exception escaping an adapter
method is caught by the viewer and counted as a failure of that action under the exception's
name; the script goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from loadgen.plan.document import Script

__all__ = [
    "ADAPTER_ERROR",
    "METRIC_OF",
    "REQUIRED_METHODS",
    "Adapter",
    "AdapterContext",
    "AlreadyRecorded",
    "Report",
    "Timing",
    "describe",
]

Report = Callable[[str, float, bool, "str | None"], None]
# The metric each scripted action is measured under (docs/protocol.md, docs/design.md);
# like and leave have none: their failures go under ADAPTER_ERROR.
METRIC_OF = {
    "join": "join_ms",
    "connect": "ws_connect_ms",
    "chat": "chat_rtt_ms",
    "question": "answer_ms",
    "vote": "vote_ack_ms",
    "order": "order_ms",
    "share": "referral_ms",
    "cohost": "cohost_invite_ms",
}
ADAPTER_ERROR = "adapter_error"
# What a team must implement (the base class raises NotImplementedError for each).
REQUIRED_METHODS = ("join", "chat", "like", "question", "vote", "order", "share", "leave")


def describe(exc: BaseException) -> str:
    """`Type: first line of the message`, at most 200 characters (a Locust failure key)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]


@dataclass(frozen=True)
class AdapterContext:
    """What the viewer hands an adapter: the target, the script, and where samples go.

    `base_url` is the `--target` (or the reference stack's) URL without a trailing slash;
    `clock` returns monotonic seconds; `ws_address` is "host:port" of an impairing TCP relay
    for this viewer's network profile (None: connect directly); `referral_codes` is the list
    the process's viewers share (codes created by `share`, used by referred viewers' `join`).
    """

    base_url: str
    room: str
    script: Script
    report: Report
    clock: Callable[[], float] = time.monotonic
    ws_address: str | None = None
    referral_codes: list[str] = field(default_factory=list)


@dataclass
class Timing:
    """A measurement in progress (see `Adapter.timed`); `fail(error)` marks it failed."""

    ok: bool = True
    error: str | None = None

    def fail(self, error: str) -> None:
        self.ok, self.error = False, error


@dataclass
class _Pending:
    metric: str
    sent: float  # clock seconds


class Adapter:
    """Base class of interaction adapters: subclass it and implement `REQUIRED_METHODS`.

    Methods are called in script order, from one greenlet per viewer:

    - `join() -> bool`: enter the room (HTTP, say); record `join_ms`. False: not joined.
    - `connect() -> bool`: open the live channel (WebSocket, Socket.IO); record
      `ws_connect_ms`. Optional: the default has no channel and returns True.
    - `chat()`: send one chat message; record `chat_rtt_ms` = sent → own message seen.
    - `like()`: send a like (not measured).
    - `question()`: ask the host; record `answer_ms` = sent → the host's answer seen.
    - `vote() -> bool`: vote in the open poll; record `vote_ack_ms`. False when no poll is
      open (nothing sent; counted as a skipped vote).
    - `order(price_cents, idempotency_key)`: place one order for `price_cents` under the key;
      record `order_ms`. The key is stable for this script's order, so a retry with the same
      key must not order twice.
    - `share()`: share or create a referral; record `referral_ms`; append a created code to
      `self.codes` so later referred viewers can use it.
    - `leave()`: close everything; called once, after the linger (`close`).
    - `cohost()` / `cohost_leave()`: go on air with the host (a plan's co-host session) and
      leave it; record `cohost_invite_ms`. Optional: the defaults do nothing, so an adapter
      written before co-hosting plays a plan with co-host sessions unchanged.

    Counters the run reports: `disconnects` (channel lost) and `replays` (orders answered as
    idempotent replays). Helpers: `record`, `timed`, `expect`/`resolve`/`expire`, `now`.
    """

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self.script = ctx.script
        self.codes = ctx.referral_codes
        self.disconnects = 0
        self.replays = 0
        self._pending: dict[str, _Pending] = {}

    # --- measuring (the only way samples leave an adapter) ---------------------------------
    def now(self) -> float:
        """The adapter's clock, monotonic seconds."""
        return self.ctx.clock()

    def record(
        self, metric: str, value_ms: float, ok: bool = True, error: str | None = None
    ) -> None:
        """One sample of `metric` (ms): into Locust's stats (type = market) and the sample book."""
        self.ctx.report(metric, float(value_ms), ok, None if ok else (error or "failed"))

    @contextmanager
    def timed(self, metric: str) -> Iterator[Timing]:
        """Time the block in ms and record it under `metric` on exit: failed if the block
        called `timing.fail(error)` or raised (the exception is recorded by name, then
        re-raised: it counts once, here, not again in the viewer)."""
        t0 = self.now()
        timing = Timing()
        try:
            yield timing
        except Exception as exc:
            self.record(metric, (self.now() - t0) * 1000.0, False, describe(exc))
            raise AlreadyRecorded(exc) from exc
        self.record(metric, (self.now() - t0) * 1000.0, timing.ok, timing.error)

    def expect(self, key: str, metric: str) -> None:
        """Start waiting for a reply identified by `key` (e.g. a chat message id)."""
        self._pending[key] = _Pending(metric, self.now())

    def resolve(self, key: str, ok: bool = True, error: str | None = None) -> bool:
        """The reply for `key` arrived (or was refused): record the wait; False if unknown."""
        wait = self._pending.pop(key, None)
        if wait is None:
            return False
        self.record(wait.metric, (self.now() - wait.sent) * 1000.0, ok, error)
        return True

    def expire(self, timeout_s: float) -> None:
        """Count replies outstanding for more than `timeout_s` seconds as failures."""
        now = self.now()
        for key, wait in list(self._pending.items()):
            if now - wait.sent > timeout_s:
                self.resolve(key, False, f"no reply within {timeout_s:g} s")

    def outstanding(self) -> int:
        """Replies still awaited (the viewer lingers for them before `leave`)."""
        return len(self._pending)

    # --- the live channel (optional) -------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Whether the live channel is up; adapters without one are always connected."""
        return True

    def connect(self) -> bool:
        return True

    def ensure_connected(self, until: float) -> bool:
        """Connected, or one attempt to connect; `until` (clock seconds) bounds retries in
        adapters that back off and retry (the reference adapter does)."""
        return self.connected or self.connect()

    # --- what a team implements ------------------------------------------------------------
    def join(self) -> bool:
        raise NotImplementedError

    def chat(self) -> None:
        raise NotImplementedError

    def like(self) -> None:
        raise NotImplementedError

    def question(self) -> None:
        raise NotImplementedError

    def vote(self) -> bool:
        raise NotImplementedError

    def order(self, price_cents: int, idempotency_key: str) -> None:
        raise NotImplementedError

    def share(self) -> None:
        raise NotImplementedError

    def leave(self) -> None:
        raise NotImplementedError

    def cohost(self) -> None:
        """Optional: ask to go on air (docs/protocol.md "Co-host"); nothing by default."""

    def cohost_leave(self) -> None:
        """Optional: leave the air; nothing by default."""

    # --- end of the script -----------------------------------------------------------------
    def close(
        self, linger_s: float, stop: Callable[[], bool], nap: Callable[[float], None]
    ) -> None:
        """Wait up to `linger_s` seconds for outstanding replies (napping with `nap`, so a
        gevent sleep in Locust), then forget them (a viewer that left no longer counts what
        it never saw) and `leave()`."""
        deadline = self.now() + linger_s
        while self.outstanding() and self.connected and self.now() < deadline and not stop():
            nap(0.05)
        self._pending.clear()
        self.leave()


class AlreadyRecorded(Exception):
    """An exception `Adapter.timed` already recorded; the viewer does not count it again."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(describe(cause))
        self.cause = cause
