"""Send fuzzed inputs (`benchmarks.fuzz_inputs`) to a live stack; check what must hold after each.

After every input:

1. no internal error: no 5xx answer, no server log record at ERROR or above, and the raw
   answer is well-formed HTTP;
2. the WebSocket is kept wherever docs/protocol.md says so: an invalid frame gets an `error`
   frame with a documented code and the connection still answers a `ping` (only a frame over the
   64 KiB hard limit may close it, with 1009);
3. every answer's status is one the endpoint documents;
4. the ledger: a `201` never comes twice for one (room, viewer, Idempotency-Key), a `200`
   replay returns the acknowledged order unchanged, a `422` names a key that was used.

`check_invariants()` then asks: is the server alive (`/healthz`), do eight identical orders
sent at once with one new key get one 201 and seven 200s with that same order, does each
acknowledged order still read back and replay to the same order, does the SQLite file hold
exactly one row per key and nothing unacknowledged, and did the bystander's socket receive
nothing meant for the fuzzer.

`benchmarks.fuzz_live.LiveStack` runs a stack and a harness for synchronous hypothesis tests. Needs
the dev extra: it imports `benchmarks.fuzz_inputs`, which needs hypothesis. Nothing in the server
imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from benchmarks.fuzz_inputs import BASE64URL, OTHER_ROOM, ROOM, Auth, HttpInput, RawInput, WsInput
from stack.cors import cors_applies
from stack.server import StackServer
from stack.ws import HARD_MAX_FRAME_BYTES

__all__ = ["ADMIN_TOKEN", "FuzzFailure", "FuzzHarness"]

ADMIN_TOKEN = "fuzz-admin-token"
TIMEOUT_S = 10.0  # any single answer; a loaded 2-core machine is slow, a hung server is slower
WS_IDLE_S = 20.0  # the stack's WebSocket heartbeat is 30 s, plus 15 s for the pong
# A fuzzed `cohost_request` is a real raised hand: an invitation, or one of its refusals.
WS_ERROR_CODES = {
    "bad_json", "missing_field", "bad_field", "unknown_type", "too_large", "guest_slots_full",
    "already_guest", "cohost_disabled",
}  # fmt: skip
SERVER_TYPES = {
    "welcome", "chat", "answer", "countdown", "lottery", "flash_deal", "poll", "viewers",
    "leaderboard", "pong", "error", "batch", "cohost_invite", "cohost_on", "cohost_off",
}  # fmt: skip
# Statuses each endpoint family may answer (docs/protocol.md); 404/405 where the path or method
# does not match a route at all.
ALLOWED_STATUS: dict[str, set[int]] = {
    "join": {200, 400, 404, 405, 413},
    "orders": {200, 201, 400, 401, 403, 404, 405, 413, 422},
    "order_get": {200, 400, 401, 403, 404, 405},
    "referrals": {201, 400, 401, 403, 404, 405},
    "reads": {200, 400, 401, 404, 405},
    "admin": {200, 400, 401, 413},
    "whep": {201, 400, 404, 405, 413, 415},
    "whip": {201, 400, 404, 405, 409, 413, 415},
    "media_delete": {200, 404, 405},
}


class FuzzFailure(AssertionError):
    """An input broke a rule; the message names the input and the rule."""


@dataclass
class _Acked:
    order: dict[str, Any]
    headers: dict[str, str]  # as sent: the token and the Idempotency-Key
    query: dict[str, str]
    body: bytes


class _ErrorLog(logging.Handler):
    """Collects log records at ERROR and above from every logger in the process."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class FuzzHarness:
    """Drives one live `StackServer`; `counts` holds how many inputs of each kind were sent."""

    server: StackServer
    session: aiohttp.ClientSession
    db_path: str
    counts: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, str] = field(default_factory=dict)
    acked: dict[tuple[str, str, str], _Acked] = field(default_factory=dict)
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _bystander: aiohttp.ClientWebSocketResponse | None = None
    _pings: int = 0
    _bursts: int = 0
    _ws_used_s: float = 0.0
    _log: _ErrorLog = field(default_factory=_ErrorLog)
    _bystander_frames: list[dict[str, Any]] = field(default_factory=list)
    _bystander_task: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return self.server.base_url

    async def start(self) -> None:
        logging.getLogger().addHandler(self._log)
        for viewer, room in [("v-1", ROOM), ("v-2", ROOM), ("fuzzer", ROOM), ("w-1", OTHER_ROOM)]:
            self.tokens[viewer] = await self._join(viewer, room)
        self.tokens["bystander"] = await self._join("bystander", ROOM)
        self._bystander = await self._connect("bystander")
        # Read the bystander's socket all along: aiohttp answers the server's heartbeat pings
        # only while someone reads, and an unread socket is closed after 30 s.
        self._bystander_task = asyncio.create_task(self._read_bystander(self._bystander))
        self._ws = await self._connect("fuzzer")
        self._ws_used_s = time.monotonic()

    async def _read_bystander(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                items = frame["messages"] if frame.get("type") == "batch" else [frame]
                self._bystander_frames.extend(items)

    async def close(self) -> None:
        if self._bystander_task is not None:
            self._bystander_task.cancel()
        for ws in (self._ws, self._bystander):
            if ws is not None:
                await ws.close()
        logging.getLogger().removeHandler(self._log)

    async def _join(self, viewer: str, room: str) -> str:
        url = f"{self.base}/api/rooms/{room}/join"
        async with self.session.post(url, json={"viewer_id": viewer, "market": "ID"}) as resp:
            if resp.status != 200:
                raise FuzzFailure(f"setup: join {viewer} answered {resp.status}")
            token: str = (await resp.json())["token"]
            return token

    async def _connect(self, viewer: str) -> aiohttp.ClientWebSocketResponse:
        url = f"{self.base}/api/rooms/{ROOM}/ws"
        ws = await self.session.ws_connect(url, params={"token": self.tokens[viewer]})
        welcome = await ws.receive_json(timeout=TIMEOUT_S)
        if welcome.get("type") != "welcome":
            raise FuzzFailure(f"setup: {viewer} got {welcome} instead of welcome")
        return ws

    # -- one input ------------------------------------------------------------------------
    async def send(self, inp: WsInput | HttpInput | RawInput) -> str:
        """Send one input and check it; returns a short outcome (status or frame codes)."""
        try:
            if isinstance(inp, WsInput):
                label, outcome = f"ws.{inp.kind}", await self._send_ws(inp)
            elif isinstance(inp, HttpInput):
                label, outcome = f"http.{inp.kind}", await self._send_http(inp)
            else:
                label, outcome = f"raw.{inp.kind}", await self._send_raw(inp)
        except FuzzFailure:
            self._log.records.clear()  # this input's; do not blame the next one
            raise
        self.counts[label] += 1
        self.outcomes[f"{label} {outcome}"] += 1
        self._check_log(inp)
        return outcome

    def _check_log(self, inp: object) -> None:
        if self._log.records:
            record = self._log.records[0]
            self._log.records.clear()
            trace = logging.Formatter().format(record)
            raise FuzzFailure(f"server logged, after {inp!r}:\n{trace}")

    async def _send_ws(self, inp: WsInput) -> str:
        idle_s = time.monotonic() - self._ws_used_s
        if self._ws is None or self._ws.closed or idle_s > WS_IDLE_S:
            # Closed by a finding before this one, or unread so long that the server's heartbeat
            # (no pong: aiohttp answers pings only while reading) is about to close it.
            if self._ws is not None:
                await self._ws.close()
            self._ws = await self._connect("fuzzer")
        self._ws_used_s = time.monotonic()
        ws = self._ws
        try:
            if inp.data or inp.kind == "binary":
                await ws.send_bytes(inp.data)
            else:
                await ws.send_str(inp.text)
        except ConnectionError as exc:
            raise FuzzFailure(f"WebSocket gone before {inp!r}: {exc}") from None
        self._pings += 1
        ping_id = f"fuzz-{self._pings}"
        await ws.send_json({"type": "ping", "id": ping_id})
        codes: list[str] = []
        while True:
            msg = await ws.receive(timeout=TIMEOUT_S)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                if len(inp.text.encode()) > HARD_MAX_FRAME_BYTES and msg.data == 1009:
                    self._ws = await self._connect("fuzzer")  # documented: 1009, reconnect
                    return "closed 1009"
                raise FuzzFailure(f"WebSocket closed ({msg.data}, {msg.extra}) by {inp!r}")
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise FuzzFailure(f"server sent a {msg.type.name} frame after {inp!r}")
            frame = json.loads(msg.data)
            for item in frame["messages"] if frame.get("type") == "batch" else [frame]:
                kind = item.get("type")
                if kind not in SERVER_TYPES:
                    raise FuzzFailure(f"server sent unknown type {kind!r} after {inp!r}")
                if kind == "error":
                    if item.get("code") not in WS_ERROR_CODES:
                        raise FuzzFailure(f"undocumented error {item} after {inp!r}")
                    codes.append(item["code"])
                if kind == "pong" and item.get("id") == ping_id:
                    if inp.kind == "binary" and codes != ["bad_json"]:
                        raise FuzzFailure(f"binary frame got {codes}, not one bad_json error")
                    return ",".join(codes) or "ok"

    def _resolve(self, auth: Auth, viewer: str) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, query) carrying the token `auth` describes."""
        token: str | None = {
            "none": None,
            "viewer": self.tokens.get(viewer or "v-1"),
            "other_room": self.tokens["w-1"],
            "admin": ADMIN_TOKEN,
            "junk": auth.text,
        }[auth.base]
        if token is not None and auth.base != "junk":
            token = _spoil(token, auth)
        if token is None:
            return {}, {}
        headers = {"Authorization": f"Bearer {token}"}
        if auth.where == "lower":
            headers = {"authorization": f"bearer {token}"}
        query = {"token": token}
        return {
            "header": (headers, {}),
            "lower": (headers, {}),
            "query": ({}, query),
            "both": (headers, query),
        }[auth.where]

    async def _send_http(self, inp: HttpInput) -> str:
        headers, query = self._resolve(inp.auth, inp.viewer)
        headers.update(inp.headers)
        if inp.content_type is not None:
            headers["Content-Type"] = inp.content_type
        url = self.base + inp.path
        if inp.path.endswith("/orders/known") and self.acked:  # an order that exists (v-1's)
            url = url.replace("known", next(iter(self.acked.values())).order["order_id"])
        try:
            async with self.session.request(
                inp.method, url, data=inp.body or None, headers=headers, params=query
            ) as resp:
                status, body = resp.status, await resp.read()
                location = resp.headers.get("Location", "")
        except (ValueError, aiohttp.InvalidURL):
            return "unsendable"  # the client library refused the URL or a header: not a finding
        kind = inp.kind
        if status >= 500:
            raise FuzzFailure(f"{status} {body[:300]!r} for {inp!r}")
        preflight = inp.method == "OPTIONS" and cors_applies(urlsplit(url).path) and status == 204
        if status not in ALLOWED_STATUS[kind] and not preflight:  # 204: the CORS preflight
            raise FuzzFailure(f"undocumented status {status} {body[:200]!r} for {inp!r}")
        if inp.kind == "orders" and status in (200, 201, 422):
            self._check_order(inp, status, body, headers, query)
        if inp.kind == "order_get" and status == 200:
            order = json.loads(body)
            if order not in [a.order for a in self.acked.values()]:
                raise FuzzFailure(f"GET answered an order never acknowledged: {order}")
        if inp.kind == "admin" and status == 200 and inp.method == "POST":
            await self._reset_faults()
        if status == 201 and kind in ("whep", "whip"):
            await self._delete_session(location, inp)
        return str(status)

    def _check_order(
        self,
        inp: HttpInput,
        status: int,
        body: bytes,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> None:
        key = dict(inp.headers)["Idempotency-Key"].strip(" \t")  # HTTP drops surrounding OWS
        if status == 422:
            if not any(k[2] == key for k in self.acked):
                raise FuzzFailure(f"422 idempotency_conflict for a new key: {inp!r}")
            return
        order = json.loads(body)
        where = (order["room"], order["viewer_id"], key)
        if status == 201:
            if where in self.acked:
                raise FuzzFailure(f"second 201 for key {where}: {order} after {self.acked[where]}")
            self.acked[where] = _Acked(order, headers, query, inp.body)
        elif where not in self.acked:
            raise FuzzFailure(f"200 replay for a key never acknowledged: {where} {inp!r}")
        elif self.acked[where].order != order:
            raise FuzzFailure(f"replay answered {order}, acknowledged {self.acked[where].order}")

    async def _reset_faults(self) -> None:
        zeros = {"chat_delay_ms": 0, "error_rate": 0, "drop_ws": 0}
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with self.session.post(f"{self.base}/admin/faults", json=zeros, headers=headers) as r:
            if r.status != 200:
                raise FuzzFailure(f"resetting faults answered {r.status}")

    async def _delete_session(self, location: str, inp: HttpInput) -> None:
        async with self.session.delete(self.base + location) as resp:
            if resp.status != 200:
                raise FuzzFailure(f"DELETE {location} answered {resp.status} after {inp!r}")

    async def _send_raw(self, inp: RawInput) -> str:
        host, port = self.base.removeprefix("http://").rsplit(":", 1)
        data = inp.data.replace(b"{token}", self.tokens["v-1"].encode())
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(data)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(65536), TIMEOUT_S)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        head = answer.split(b"\r\n", 1)[0].split(b" ")
        if len(head) < 2 or not head[0].startswith(b"HTTP/1.") or not head[1].isdigit():
            raise FuzzFailure(f"not an HTTP answer {answer[:200]!r} to {inp!r}")
        if int(head[1]) >= 500:
            raise FuzzFailure(f"{answer[:300]!r} for {inp!r}")
        return head[1].decode()

    # -- after many inputs ------------------------------------------------------------------
    async def check_invariants(self) -> dict[str, int]:
        """Server alive, ledger consistent, bystander untouched; returns figures for a report."""
        async with self.session.get(f"{self.base}/healthz") as resp:
            if resp.status != 200 or (await resp.json())["status"] != "ok":
                raise FuzzFailure(f"/healthz answered {resp.status}")
        await self._concurrent_replays()
        for where, acked in self.acked.items():
            url = f"{self.base}/api/rooms/{where[0]}/orders"
            h, q = acked.headers, acked.query
            async with self.session.post(url, data=acked.body, headers=h, params=q) as resp:
                if resp.status != 200 or await resp.json() != acked.order:
                    raise FuzzFailure(f"replay of {where} answered {resp.status}")
            order_url = f"{url}/{acked.order['order_id']}"
            async with self.session.get(order_url, headers=h, params=q) as resp:
                if resp.status != 200 or await resp.json() != acked.order:
                    raise FuzzFailure(f"acknowledged order {where} reads back {resp.status}")
        rows, duplicates = _ledger_rows(self.db_path)
        if duplicates:
            raise FuzzFailure(f"keys holding two rows: {duplicates}")
        if set(rows) != {a.order["order_id"] for a in self.acked.values()}:
            raise FuzzFailure(f"ledger holds {len(rows)} orders, {len(self.acked)} acknowledged")
        if self.server.metrics.value("livelab_stack_errors_total", code="internal"):
            raise FuzzFailure("the server counted internal errors")
        await self._check_bystander()
        self._check_log("the invariant checks")
        return {"orders_acknowledged": len(self.acked), "ledger_rows": len(rows)}

    async def _concurrent_replays(self, n: int = 8) -> None:
        """`n` identical orders with one new key at once: one 201, the rest 200 and the same."""
        self._bursts += 1
        key = f"burst-{self._bursts}"
        headers = {"Authorization": f"Bearer {self.tokens['v-1']}", "Idempotency-Key": key}
        body = json.dumps({"sku": "tea-3", "qty": 2}).encode()
        url = f"{self.base}/api/rooms/{ROOM}/orders"

        async def one() -> tuple[int, dict[str, Any]]:
            async with self.session.post(url, data=body, headers=headers) as resp:
                return resp.status, await resp.json()

        answers = await asyncio.gather(*(one() for _ in range(n)))
        statuses = sorted(status for status, _ in answers)
        orders = {json.dumps(order, sort_keys=True) for _, order in answers}
        if statuses != [200] * (n - 1) + [201] or len(orders) != 1:
            raise FuzzFailure(f"{n} concurrent orders with key {key}: {statuses}, {orders}")
        order = answers[0][1]
        self.acked[(ROOM, "v-1", key)] = _Acked(order, headers, {}, body)

    async def _check_bystander(self) -> None:
        ws = self._bystander
        assert ws is not None  # start() ran
        if ws.closed:
            raise FuzzFailure(f"the bystander's socket was closed ({ws.close_code})")
        await ws.send_json({"type": "ping", "id": "bystander"})
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for item in self._bystander_frames:
                if item.get("type") == "error" or (
                    item.get("type") == "pong" and item.get("id") != "bystander"
                ):
                    raise FuzzFailure(f"the bystander received {item}, meant for the fuzzer")
            if any(i.get("type") == "pong" for i in self._bystander_frames):
                self._bystander_frames.clear()
                return
            await asyncio.sleep(0.01)  # bounded by the deadline; the reader task fills the list
        raise FuzzFailure(f"the bystander's pong never came within {TIMEOUT_S} s")


def _spoil(token: str, auth: Auth) -> str:
    body, _, sig = token.partition(".")
    if auth.spoil == "flip_sig" and sig:
        flipped = BASE64URL[(BASE64URL.index(sig[-1]) + 1) % 64] if sig[-1] in BASE64URL else "A"
        return f"{body}.{sig[:-1]}{flipped}"
    if auth.spoil == "non_ascii_sig":
        return f"{token}{auth.text or 'é'}"
    if auth.spoil == "truncate":
        return token[: len(token) // 2]
    if auth.spoil == "append":
        return token + auth.text
    if auth.spoil == "swap_parts":
        return f"{sig}.{body}"
    return token


def _ledger_rows(path: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(order ids, (room, viewer, key) groups holding more than one row), read from the file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ids = [r[0] for r in db.execute("SELECT order_id FROM orders")]
        dups = db.execute(
            "SELECT room, viewer_id, idempotency_key FROM orders"
            " GROUP BY room, viewer_id, idempotency_key HAVING COUNT(*) > 1"
        ).fetchall()
    finally:
        db.close()
    return ids, [tuple(d) for d in dups]
