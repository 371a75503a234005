# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""The Locust user: a slot that plays the plan's viewer scripts one after another.

A user takes the next script of its process's share (by join time), sleeps until the join,
joins over HTTP, opens the WebSocket and performs each action at its scheduled time, then
leaves (waiting up to `--livelab-linger-s` for outstanding replies) and takes the next script.
How late a script or an action starts against its schedule is recorded (`start_lag_ms`,
`action_lag_ms`): a generator that cannot keep up shows it there. Only imported by Locust.
"""

from __future__ import annotations

from typing import Any

from locust import User, constant, task
from locust.exception import StopUser

from loadgen.locust.client import REPLY_TIMEOUT_S, ViewerClient
from loadgen.locust.runtime import RUNTIME
from loadgen.plan import Script

__all__ = ["Viewer"]

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
    # The client each script is played with; a subclass may swap in its own (chaos runs).
    client_class: type[ViewerClient] = ViewerClient

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

        client = self.client_class(
            RUNTIME.base_url,
            RUNTIME.room,
            script,
            report,
            ws_address=RUNTIME.relays.get(script.profile),
            referral_codes=RUNTIME.codes,
        )
        try:
            self._run_actions(client, script)
        finally:
            client.close(RUNTIME.linger_s, RUNTIME.stopping.is_set)
            RUNTIME.disconnects += client.disconnects
            RUNTIME.order_replays += client.replays
            RUNTIME.active -= 1
            by_market[script.market] -= 1
            RUNTIME.finished += 1

    def _run_actions(self, client: ViewerClient, script: Script) -> None:
        handlers: dict[str, Any] = {
            "chat": client.chat,
            "like": client.like,
            "question": client.question,
            "share": client.share,
            "order": lambda: client.order(script.order_cents),
        }
        for t, kind in script.actions:
            if not _sleep_until(t):
                return
            client.expire(REPLY_TIMEOUT_S)
            if kind == "join":
                client.join()
                continue
            if kind == "leave":
                return
            if kind != "connect":
                RUNTIME.health(script, "action_lag_ms", RUNTIME.now_s() - t)
            if kind == "order":  # HTTP: needs no socket
                handlers[kind]()
                continue
            if not client.ensure_connected(until=RUNTIME.clock_at(script.end_s)):
                continue
            if kind == "connect":
                continue
            if kind == "vote":
                if not client.vote():
                    RUNTIME.votes_skipped += 1
                continue
            handlers[kind]()
