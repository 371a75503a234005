# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""The Locust user: a slot that plays the plan's viewer scripts one after another.

A user takes the next script of its process's share (by join time), sleeps until the join,
has its adapter (`--livelab-adapter`, default livelab's own protocol; see
`loadgen.locust.adapter`) join, connect and perform each action at its scheduled time, then
leave (waiting up to `--livelab-linger-s` for outstanding replies), and takes the next script.
An exception out of the adapter counts as one failure of that action, filed in Locust's stats
under the exception itself (so under its type's name), and the script goes on.
How late a script or an action starts against its schedule is recorded (`start_lag_ms`,
`action_lag_ms`): a generator that cannot keep up shows it there. Only imported by Locust.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
from locust import User, constant, task
from locust.exception import StopUser

from loadgen.locust.adapter import (
    ADAPTER_ERROR,
    METRIC_OF,
    Adapter,
    AdapterContext,
    AlreadyRecorded,
)
from loadgen.locust.client import REPLY_TIMEOUT_S
from loadgen.locust.runtime import RUNTIME
from loadgen.plan import Script

__all__ = ["Viewer"]

log = logging.getLogger(__name__)

_RUN_NONCE = secrets.token_hex(6)  # per process; a process plays each script at most once

# Longest single sleep, so a stop (end of test, Ctrl-C) is noticed within this many seconds.
_NAP_S = 0.25


def _sleep_until(t_s: float) -> bool:
    """Sleep until plan time `t_s`; False if the run is stopping."""
    while True:
        left = t_s - RUNTIME.now_s()
        if left <= 0:
            return not RUNTIME.stopping.is_set()
        if RUNTIME.stopping.wait(min(left, _NAP_S)):
            return False


class Viewer(User):
    """One virtual viewer slot (see the module docstring)."""

    wait_time = constant(0)
    # The adapter each script is played with: None for the run's (`--livelab-adapter`); a
    # subclass may fix its own (chaos runs).
    adapter_class: type[Adapter] | None = None

    @task
    def play_next(self) -> None:
        script = RUNTIME.claim()
        if script is None:
            # Nothing left for this slot: idle (killable) until the test ends.
            if RUNTIME.stopping.wait(3600):
                raise StopUser
            return
        self.play(script)

    def play(self, script: Script) -> None:
        if not _sleep_until(script.start_s):
            return
        RUNTIME.health(script, "start_lag_ms", RUNTIME.now_s() - script.start_s)
        RUNTIME.started += 1
        RUNTIME.active += 1
        by_market = RUNTIME.active_by_market
        by_market[script.market] = by_market.get(script.market, 0) + 1

        def report(metric: str, value_ms: float, ok: bool, error: str | None) -> None:
            RUNTIME.report(script, metric, value_ms, ok, error)

        adapter = self.adapter_class or RUNTIME.adapter
        assert adapter is not None  # loaded by RUNTIME.setup
        ctx = AdapterContext(
            RUNTIME.base_url,
            RUNTIME.room,
            script,
            report,
            ws_address=RUNTIME.relays.get(script.profile),
            referral_codes=RUNTIME.codes,
        )
        client = _guarded(script, "join", lambda: adapter(ctx), None)
        if client is None:
            _finish(script)
            return
        try:
            self._run_actions(client, script)
        finally:
            linger = partial(client.close, RUNTIME.linger_s, RUNTIME.stopping.is_set, gevent.sleep)
            _guarded(script, "leave", linger, None)
            RUNTIME.disconnects += client.disconnects
            RUNTIME.order_replays += client.replays
            _finish(script)

    def _run_actions(self, client: Adapter, script: Script) -> None:
        # Each order's idempotency key is stable for that order of this script in this run (a
        # retry must not order twice), distinct per order (a script may buy more than once) and
        # new in every run (a replayed plan orders again).
        orders = itertools.count(1)

        def order() -> None:
            client.order(script.order_cents, f"order-{script.id}-{next(orders)}-{_RUN_NONCE}")

        handlers: dict[str, Callable[[], Any] | None] = {
            "chat": client.chat,
            "like": client.like,
            "question": client.question,
            "share": client.share,
            "order": order,
            # getattr: an adapter from before co-hosting may not have them at all.
            "cohost": getattr(client, "cohost", None),
            "cohost_leave": getattr(client, "cohost_leave", None),
        }
        for t, kind in script.actions:
            if not _sleep_until(t):
                return
            _guarded(script, "expire", lambda: client.expire(REPLY_TIMEOUT_S), None)
            if kind == "join":
                _guarded(script, kind, client.join, False)
                continue
            if kind == "leave":
                return
            if kind != "connect":
                RUNTIME.health(script, "action_lag_ms", RUNTIME.now_s() - t)
            if kind == "order":  # HTTP: needs no socket
                _guarded(script, kind, order, None)
                continue
            until = RUNTIME.clock_at(script.end_s)
            if not _guarded(script, "connect", partial(client.ensure_connected, until), False):
                continue
            if kind == "connect":
                continue
            if kind == "vote":
                if _guarded(script, kind, client.vote, True) is False:
                    RUNTIME.votes_skipped += 1
                continue
            handler = handlers.get(kind)
            if handler is None:  # an action from a newer plan than this viewer: not a failure
                log.debug("viewer %s: no handler for action %r, skipped", script.id, kind)
                continue
            _guarded(script, kind, handler, None)


def _guarded(script: Script, kind: str, call: Callable[[], Any], failed: Any) -> Any:
    """`call()`, or `failed` when it raised: the exception is one failure of action `kind`
    (its metric, or ADAPTER_ERROR for actions without one), filed under the exception."""
    try:
        return call()
    except AlreadyRecorded:  # Adapter.timed counted it already
        return failed
    except Exception as exc:  # a team's adapter may raise anything: count it, go on
        log.debug("adapter %s raised in %s: %r", script.id, kind, exc)
        RUNTIME.report(script, METRIC_OF.get(kind, ADAPTER_ERROR), 0.0, False, None, exc=exc)
        return failed


def _finish(script: Script) -> None:
    RUNTIME.active -= 1
    RUNTIME.active_by_market[script.market] -= 1
    RUNTIME.finished += 1
