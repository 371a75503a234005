"""One virtual viewer speaking the stack protocol (docs/protocol.md) over HTTP and WebSocket.

Runs inside Locust processes (gevent has patched sockets, so the blocking websocket-client and
requests calls cooperate). Each measurement goes to `report(metric, value_ms, ok, error)`:

- `join_ms`: POST /api/rooms/{room}/join → token;  `ws_connect_ms`: WebSocket handshake;
- `chat_rtt_ms`: chat sent → the same id seen in the room's chat (own message echoed back);
- `answer_ms`: question sent → the host's `answer` for that question id seen;
- `vote_ack_ms`: vote sent → the `pong` of a `ping` sent right behind it (the server handles a
  connection's frames in order, so the pong means the vote was taken; an `error` whose `ref` is
  the poll id first means it was refused);
- `order_ms`: POST orders with an Idempotency-Key → 201 (created) or 200 (an idempotent
  replay: the stack had already taken an order under that key, e.g. the first attempt's
  answer was lost); replays are counted in `replays`;
- `referral_ms`: POST referrals → a code.
- `cohost_invite_ms`: `cohost_request` sent → the host's `cohost_invite` seen;
  `cohost_accept_ms`: the accept POST → 201 (its guest slot). The viewer then holds the slot
  without media (media is the panel's cohost viewer) until `cohost_leave` (DELETE; a slot the
  stack already freed, 404, is not a failure) or the stack's `publish_within_s` lapses.

The receiver runs in its own greenlet; waits that outlive `REPLY_TIMEOUT_S` count as failures.
When the socket drops, the next action reconnects (joining again if the token is refused), so a
stack restart mid-run costs errors, not the session. Every retry — reconnects and order
retries alike — sleeps by one law, `loadgen.backoff` (capped exponential with full jitter),
drawn from a generator seeded by the viewer's id, so a run's retry timing is reproducible.
An order is retried with the same Idempotency-Key once by default, or until acknowledged when
`order(..., until=...)` gives a deadline (chaos runs).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gevent
import requests
import websocket

from loadgen.backoff import DEFAULT_BACKOFF, Backoff
from loadgen.plan import Script

__all__ = ["REPLY_TIMEOUT_S", "ViewerClient"]

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0
Report = Callable[[str, float, bool, "str | None"], None]
# An acknowledged order: key, order_id, status (201 new, 200 replay), token, body, attempts.
OnAck = Callable[[dict[str, Any]], None]
_ids = itertools.count()


@dataclass
class _Wait:
    metric: str
    sent: float  # clock seconds
    key: str


class ViewerClient:
    """Joins, connects and acts for one `Script`. `clock` returns seconds (monotonic)."""

    def __init__(
        self,
        base_url: str,
        room: str,
        script: Script,
        report: Report,
        *,
        clock: Callable[[], float] = time.monotonic,
        ws_address: str | None = None,
        referral_codes: list[str] | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        on_ack: OnAck | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.room = room
        self.script = script
        self.report = report
        self.clock = clock
        self.ws_address = ws_address  # "host:port" of an impairing relay for the WebSocket
        self.codes = referral_codes if referral_codes is not None else []
        self.http = requests.Session()
        self.token: str | None = None
        self.ws_url: str | None = None
        self.ws: websocket.WebSocket | None = None
        self.receiver: gevent.Greenlet | None = None
        self.waits: dict[str, _Wait] = {}
        self.poll_id: str | None = None
        self.sku = "sku-plan"
        self.failures = 0
        self.disconnects = 0
        self.replays = 0  # orders answered 200: the ledger already held the key
        self._seq = next(_ids)
        self.backoff = backoff
        # Seeded by the viewer, not the process: the same script retries at the same offsets.
        self.rng = random.Random(zlib.crc32(script.id.encode()))
        self.on_ack = on_ack

    # --- helpers --------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}-{self.script.id}-{self._seq}-{next(_ids)}"

    def _ms(self, since: float) -> float:
        return (self.clock() - since) * 1000.0

    @property
    def connected(self) -> bool:
        return self.ws is not None and self.ws.connected

    # --- HTTP -----------------------------------------------------------------------------
    def join(self) -> bool:
        body: dict[str, Any] = {"viewer_id": self.script.id, "market": self.script.market}
        if self.script.referred and self.codes:
            body["referral_code"] = self.codes[
                zlib.crc32(self.script.id.encode()) % len(self.codes)
            ]
        t0 = self.clock()
        try:
            resp = self.http.post(
                f"{self.base_url}/api/rooms/{self.room}/join", json=body, timeout=HTTP_TIMEOUT_S
            )
            resp.raise_for_status()
            data = resp.json()
            self.token, self.ws_url = str(data["token"]), str(data["ws_url"])
        except (requests.RequestException, ValueError, KeyError) as exc:
            self.report("join_ms", self._ms(t0), False, _describe(exc))
            return False
        self.report("join_ms", self._ms(t0), True, None)
        return True

    def order(self, price_cents: int, key: str | None = None, until: float | None = None) -> None:
        """POST one order under Idempotency-Key `key` (default: a fresh one), retrying with the
        same key after a network error, a 5xx, a 429 or a refused token (a retry is safe: the
        key makes it idempotent).

        Without `until`: one retry. With `until` (clock seconds): retry until acknowledged or
        the next sleep would pass `until`. Another 4xx is final (a retry would get the same
        answer). Sleeps follow `self.backoff`.
        """
        if not self.token and not self.join():
            return
        key = key or self._id("order")
        body: dict[str, Any] = {"sku": self.sku, "qty": 1, "price_cents": max(int(price_cents), 0)}
        url = f"{self.base_url}/api/rooms/{self.room}/orders"
        t0 = self.clock()
        attempt = 0
        while True:
            retry = True
            try:
                headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
                resp = self.http.post(url, json=body, headers=headers, timeout=HTTP_TIMEOUT_S)
                data = resp.json() if resp.status_code in (200, 201) else {}
                if "order_id" in data:
                    self.replays += resp.status_code == 200
                    self.report("order_ms", self._ms(t0), True, None)
                    if self.on_ack is not None:
                        self.on_ack({"key": key, "order_id": str(data["order_id"]),
                                     "status": resp.status_code, "token": self.token,
                                     "body": body, "attempts": attempt + 1})  # fmt: skip
                    return
                error = f"HTTP {resp.status_code}"
                if resp.status_code == 401:
                    self.token = None  # the stack forgot us (new secret): join again
                retry = resp.status_code >= 500 or resp.status_code in (401, 429)
            except (requests.RequestException, ValueError) as exc:
                error = _describe(exc)
            delay = self.backoff.delay_s(attempt, self.rng)
            attempt += 1
            last = attempt >= 2 if until is None else self.clock() + delay >= until
            if not retry or last:
                break
            gevent.sleep(delay)
            if not self.token and not self.join():
                continue
        self.report("order_ms", self._ms(t0), False, error)

    def referral(self) -> None:
        if not self.token:
            return
        t0 = self.clock()
        try:
            resp = self.http.post(
                f"{self.base_url}/api/rooms/{self.room}/referrals",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=HTTP_TIMEOUT_S,
            )
            resp.raise_for_status()
            code = str(resp.json()["code"])
        except (requests.RequestException, ValueError, KeyError) as exc:
            self.report("referral_ms", self._ms(t0), False, _describe(exc))
            return
        self.report("referral_ms", self._ms(t0), True, None)
        self.codes.append(code)

    # --- WebSocket ------------------------------------------------------------------------
    def _target_url(self) -> str:
        assert self.ws_url is not None  # set by join(); internal invariant
        if not self.ws_address:
            return self.ws_url
        parts = urlsplit(self.ws_url)
        return urlunsplit(parts._replace(netloc=self.ws_address))

    def connect(self) -> bool:
        if not self.token and not self.join():
            return False
        t0 = self.clock()
        try:
            ws = websocket.create_connection(self._target_url(), timeout=HTTP_TIMEOUT_S)
        except (OSError, websocket.WebSocketException) as exc:
            self.report("ws_connect_ms", self._ms(t0), False, _describe(exc))
            if "401" in str(exc) or "403" in str(exc):
                self.token = None  # expired or unknown: join again next time
            return False
        ws.settimeout(None)
        self.ws = ws
        self.report("ws_connect_ms", self._ms(t0), True, None)
        self.receiver = gevent.spawn(self._receive, ws)
        return True

    def ensure_connected(self, until: float) -> bool:
        """Reconnect with backoff until connected or the clock passes `until` (seconds)."""
        attempt = 0
        while not self.connected:
            if self.connect():
                return True
            delay = self.backoff.delay_s(attempt, self.rng)
            attempt += 1
            if self.clock() + delay >= until:
                return False
            gevent.sleep(delay)
        return True

    def _receive(self, ws: websocket.WebSocket) -> None:
        try:
            while True:
                text = ws.recv()
                if not text:
                    break
                msg = json.loads(text)
                for item in msg.get("messages", []) if msg.get("type") == "batch" else [msg]:
                    self._on_message(item)
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            log.debug("viewer %s: socket ended: %s", self.script.id, exc)
        finally:
            if self.ws is ws:
                self.disconnects += 1
                self.ws = None
                with contextlib.suppress(OSError, websocket.WebSocketException):
                    ws.close()

    def _resolve(self, key: str, ok: bool = True, error: str | None = None) -> None:
        wait = self.waits.pop(key, None)
        if wait is not None:
            self.report(wait.metric, self._ms(wait.sent), ok, error)

    def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "chat":
            self._resolve(f"chat:{msg.get('id')}")
        elif kind == "answer":
            self._resolve(f"question:{msg.get('question_id')}")
        elif kind == "pong":
            self._resolve(f"ping:{msg.get('id')}")
        elif kind == "poll":
            self.poll_id = str(msg.get("poll_id"))
        elif kind == "welcome" and isinstance(msg.get("poll"), dict):
            self.poll_id = str(msg["poll"].get("poll_id"))  # joined while a poll was open
        elif kind == "cohost_invite":
            self._resolve("cohost:invite")
            invite_id = msg.get("invite_id")
            if isinstance(invite_id, str):
                # Accept in a greenlet of its own: the receiver keeps reading meanwhile.
                gevent.spawn(self._cohost_accept, invite_id)
        elif kind == "flash_deal":
            self.sku = str(msg.get("sku") or self.sku)
        elif kind == "error":
            ref = msg.get("ref")
            for key, wait in list(self.waits.items()):
                if wait.key == ref:
                    self._resolve(key, False, f"{msg.get('code')}: {msg.get('message')}")

    def _send(self, payload: dict[str, Any], wait_key: str | None, metric: str, ref: str) -> bool:
        if not self.connected:
            self.report(metric, 0.0, False, "not connected")
            return False
        if wait_key is not None:
            self.waits[wait_key] = _Wait(metric, self.clock(), ref)
        try:
            assert self.ws is not None  # checked by self.connected
            self.ws.send(json.dumps(payload, separators=(",", ":")))
        except (OSError, websocket.WebSocketException) as exc:
            if wait_key is not None:
                self._resolve(wait_key, False, _describe(exc))
            return False
        return True

    def chat(self) -> None:
        cid = self._id("c")
        self._send(
            {"type": "chat", "id": cid, "text": "hi from livelab"},
            f"chat:{cid}",
            "chat_rtt_ms",
            cid,
        )

    def question(self) -> None:
        qid = self._id("q")
        payload = {"type": "question", "id": qid, "text": "does it ship to me?"}
        self._send(payload, f"question:{qid}", "answer_ms", qid)

    def like(self) -> None:
        if self.connected and self.ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                self.ws.send('{"type":"like","count":1}')

    def share(self) -> None:
        if self.connected and self.ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                self.ws.send('{"type":"share","channel":"link"}')
        self.referral()

    def vote(self) -> bool:
        """Vote in the open poll; False (nothing sent) when no poll has been announced."""
        if self.poll_id is None:
            return False
        if not self.connected or self.ws is None:
            self.report("vote_ack_ms", 0.0, False, "not connected")
            return True
        pid = self._id("p")
        wait_key = f"ping:{pid}"
        self.waits[wait_key] = _Wait("vote_ack_ms", self.clock(), self.poll_id)
        vote = {"type": "vote", "poll_id": self.poll_id, "option": "A"}
        try:
            self.ws.send(json.dumps(vote, separators=(",", ":")))
            self.ws.send(json.dumps({"type": "ping", "id": pid}, separators=(",", ":")))
        except (OSError, websocket.WebSocketException) as exc:
            self._resolve(wait_key, False, _describe(exc))
        return True

    def cohost(self) -> None:
        """Raise a hand (`cohost_request`); the invitation is accepted when it arrives."""
        rid = self._id("h")
        self._send({"type": "cohost_request", "id": rid}, "cohost:invite", "cohost_invite_ms", rid)

    def _cohost_accept(self, invite_id: str) -> None:
        t0 = self.clock()
        try:
            resp = self.http.post(
                f"{self.base_url}/api/rooms/{self.room}/cohost/accept",
                json={"invite_id": invite_id},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            self.report("cohost_accept_ms", self._ms(t0), False, _describe(exc))
            return
        ok = resp.status_code == 201
        self.report(
            "cohost_accept_ms", self._ms(t0), ok, None if ok else f"HTTP {resp.status_code}"
        )

    def cohost_leave(self) -> None:
        """Leave the air (DELETE); not on air (404) is fine: nothing to leave."""
        with contextlib.suppress(requests.RequestException):
            self.http.delete(
                f"{self.base_url}/api/rooms/{self.room}/cohost",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=HTTP_TIMEOUT_S,
            )

    def expire(self, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        """Count waits older than `timeout_s` as failures."""
        now = self.clock()
        for key, wait in list(self.waits.items()):
            if now - wait.sent > timeout_s:
                self._resolve(key, False, f"no reply within {timeout_s:g} s")

    def close(self, linger_s: float, stop: Callable[[], bool]) -> None:
        """Wait up to `linger_s` for outstanding replies, then close everything."""
        deadline = self.clock() + linger_s
        while self.waits and self.connected and self.clock() < deadline and not stop():
            gevent.sleep(0.05)
        self.waits.clear()  # a viewer that left no longer counts what it never saw
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                ws.close()
        if self.receiver is not None:
            self.receiver.kill(block=False)
        self.http.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
