# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""The chaos run's locustfile: livelab's plan-replaying viewers, made to outlast crashes.

Each viewer plays its script as in `livelab run`, with three differences (`ChaosClient`):

- an order is retried with its Idempotency-Key until acknowledged (or `ORDER_GRACE_S` after the
  viewer's script ends), sleeping by `loadgen.backoff` between tries;
- a dropped WebSocket is reconnected at once (in its own greenlet, same backoff law), not at
  the viewer's next action, so the time to come back after a restart is measured;
- every acknowledgement (key, order_id, status, token) and every connect, drop and leave
  (epoch seconds) is appended to `--livelab-out/chaos-events.jsonl`, which `livelab chaos`
  reads to check the ledger and time the reconnects.

Only ever imported inside a (local-mode) Locust process started by `livelab chaos`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

import gevent
from gevent.lock import BoundedSemaphore

from loadgen.chaos.verdict import EVENTS_FILE
from loadgen.locust import live_metrics as _live_metrics  # noqa: F401  (--livelab-metrics-port)
from loadgen.locust import viewer as _viewer
from loadgen.locust.adapters.reference import ReferenceAdapter
from loadgen.locust.client import ViewerClient
from loadgen.locust.runtime import RUNTIME
from loadgen.locust.shape import PlanShape

__all__ = ["ChaosClient", "ChaosViewer", "PlanShape"]
# How long past its script's end a viewer keeps retrying an unacknowledged order, s.
ORDER_GRACE_S = 20.0

_log: IO[str] | None = None


def _write(record: dict[str, Any]) -> None:
    """One line of the events log; flushed at once, since the point is surviving crashes."""
    global _log
    if RUNTIME.out is None:
        return
    if _log is None:
        # Kept open for the process's life: one append per event, no reopen cost.
        _log = Path(RUNTIME.out, EVENTS_FILE).open("a", encoding="utf-8")  # noqa: SIM115
    _log.write(json.dumps({"t": time.time(), **record}, separators=(",", ":")) + "\n")
    _log.flush()


class ChaosClient(ViewerClient):
    """A `ViewerClient` that retries orders until acknowledged and reconnects at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_ack = self._acked
        self.end_clock = RUNTIME.clock_at(self.script.end_s)
        self.closed = False
        self._connecting = BoundedSemaphore(1)  # one reconnect at a time per viewer

    def _acked(self, ack: dict[str, Any]) -> None:
        _write({"ev": "ack", "viewer": self.script.id, **ack})

    def order(self, price_cents: int, key: str | None = None, until: float | None = None) -> None:
        if until is None:
            until = self.end_clock + ORDER_GRACE_S
        super().order(price_cents, key=key, until=until)

    def connect(self) -> bool:
        if self.closed:  # a reconnect greenlet that woke after the viewer left
            return False
        ok = super().connect()
        if ok:
            _write({"ev": "connect", "viewer": self.script.id})
        return ok

    def ensure_connected(self, until: float) -> bool:
        with self._connecting:
            return self.closed or super().ensure_connected(until)

    def _receive(self, ws: Any) -> None:
        super()._receive(ws)
        if self.ws is None and not self.closed:  # the server went away, not us
            _write({"ev": "drop", "viewer": self.script.id})
            gevent.spawn(self.ensure_connected, self.end_clock)

    def close(self, linger_s: float, stop: Any) -> None:
        self.closed = True
        _write({"ev": "leave", "viewer": self.script.id})
        super().close(linger_s, stop)


class ChaosAdapter(ReferenceAdapter):
    """livelab's own protocol, spoken by a `ChaosClient`."""

    client_class = ChaosClient


class ChaosViewer(_viewer.Viewer):
    """The plan's viewer slot, playing each script with a `ChaosClient`."""

    adapter_class = ChaosAdapter
