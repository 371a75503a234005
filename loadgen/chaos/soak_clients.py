"""The soak's client processes (asyncio world): WebSocket viewers that chat, like and order, and
lite WHEP viewers. Each process answers its parent over a pipe:

- ("sample",) → the chat delivery lags (ms) seen since the last sample, and running counts;
- ("stop",)   → closes everything and answers with the final counts.

WebSocket viewers act as Poisson processes at the given per-minute rates (seeded per viewer);
a chat carries its send time (epoch ms) as text, so every sampled viewer (one in
`sample_every`) measures each chat's delivery lag: send → its own receive, ms. Orders go over
HTTP with a fresh Idempotency-Key. A dropped socket is reconnected by `loadgen.backoff`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from loadgen.backoff import DEFAULT_BACKOFF

__all__ = ["Rates", "whep_worker", "ws_worker"]

ROOM = "demo"


@dataclass(frozen=True)
class Rates:
    """Per viewer-minute: chats, likes and orders."""

    chat: float
    like: float
    order: float


@dataclass
class _Counts:
    chats: int = 0
    likes: int = 0
    orders_ok: int = 0
    orders_failed: int = 0
    drops: int = 0
    connected: int = 0
    lags: list[float] = field(default_factory=list)

    def take(self) -> dict[str, Any]:
        lags, self.lags = self.lags, []
        return {"lags": lags, "chats": self.chats, "likes": self.likes,
                "orders_ok": self.orders_ok, "orders_failed": self.orders_failed,
                "drops": self.drops, "connected": self.connected}  # fmt: skip


def ws_worker(base: str, secret: str, first: int, count: int, rates: Rates, sample_every: int,
              ctl: Any, out: Any) -> None:  # fmt: skip
    """Process entry: `count` WebSocket viewers numbered from `first`."""
    asyncio.run(_ws_main(base, secret, first, count, rates, sample_every, ctl, out))


async def _ws_main(base: str, secret: str, first: int, count: int, rates: Rates,
                   sample_every: int, ctl: Any, out: Any) -> None:  # fmt: skip
    import aiohttp

    from stack import TokenSigner

    signer = TokenSigner(secret.encode(), time.time)
    counts = _Counts()
    gate = asyncio.Semaphore(50)
    ws_base = base.replace("http://", "ws://", 1)

    async def act(ws: Any, http: Any, token: str, vid: str, rng: random.Random) -> None:
        total = rates.chat + rates.like + rates.order  # per minute
        n = 0
        while not ws.closed:
            await asyncio.sleep(rng.expovariate(total / 60.0))
            pick = rng.random() * total
            n += 1
            try:
                if pick < rates.chat:
                    text = f"{time.time() * 1000:.3f}"
                    await ws.send_str(json.dumps({"type": "chat", "id": f"{vid}-{n}",
                                                  "text": text}))  # fmt: skip
                    counts.chats += 1
                elif pick < rates.chat + rates.like:
                    await ws.send_str('{"type":"like","count":1}')
                    counts.likes += 1
                else:
                    await _order(http, token, f"{vid}-{n}")
            except (ConnectionError, RuntimeError):
                return  # the socket is closing: the reader sees it end and reconnects

    async def _order(http: Any, token: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        body = {"sku": "sku-soak", "qty": 1, "price_cents": 1999}
        try:
            async with http.post(f"{base}/api/rooms/{ROOM}/orders", json=body,
                                 headers=headers) as resp:  # fmt: skip
                ok = resp.status in (200, 201)
        except (aiohttp.ClientError, OSError, TimeoutError):
            ok = False
        counts.orders_ok += ok
        counts.orders_failed += not ok

    async def viewer(i: int, session: Any) -> None:
        vid = f"soak-{first + i}"
        rng = random.Random(zlib.crc32(vid.encode()))
        token = signer.issue(ROOM, vid, "ID", 24 * 3600)
        url = f"{ws_base}/api/rooms/{ROOM}/ws?token={token}"
        sampled = i % sample_every == 0
        attempt = 0
        while True:
            try:
                async with gate:
                    ws = await session.ws_connect(url, autoping=True, heartbeat=None)
            except (aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.sleep(DEFAULT_BACKOFF.delay_s(attempt, rng))
                attempt += 1
                continue
            attempt = 0
            counts.connected += 1
            actor = asyncio.ensure_future(act(ws, session, token, vid, rng))
            try:
                async for msg in ws:
                    if sampled and msg.type == aiohttp.WSMsgType.TEXT:
                        _lags(json.loads(msg.data), counts.lags)
            finally:
                actor.cancel()
                counts.connected -= 1
            counts.drops += 1
            await asyncio.sleep(DEFAULT_BACKOFF.delay_s(attempt, rng))

    connector = aiohttp.TCPConnector(limit=0)  # each WebSocket holds a slot for its life
    timeout = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.ensure_future(viewer(i, session)) for i in range(count)]
        deadline = time.monotonic() + 120.0
        while counts.connected < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        out.put(("ready", counts.connected))
        while True:
            cmd = await asyncio.to_thread(ctl.recv)
            if cmd[0] == "sample":
                ctl.send(counts.take())
                continue
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctl.send(counts.take())
            return


def _lags(msg: dict[str, Any], into: list[float]) -> None:
    now = time.time() * 1000
    for m in msg.get("messages", []) if msg.get("type") == "batch" else [msg]:
        if m.get("type") == "chat":
            with contextlib.suppress(KeyError, ValueError):  # another client's chat text
                into.append(now - float(m["text"]))


def whep_worker(url: str, count: int, ctl: Any, out: Any) -> None:
    """Process entry: `count` lite WHEP viewers (real sessions, no decoding)."""
    asyncio.run(_whep_main(url, count, ctl, out))


async def _whep_main(url: str, count: int, ctl: Any, out: Any) -> None:
    import aiohttp

    from loadgen.panel import WhepViewer
    from stack import restrict_ice_to_loopback

    restrict_ice_to_loopback()
    viewers = [WhepViewer(url, decode=False) for _ in range(count)]
    async with aiohttp.ClientSession() as session:
        for v in viewers:
            await v.start(session)
        deadline = time.monotonic() + 60.0
        while any(v.stats.frames == 0 for v in viewers) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        out.put(("ready", sum(1 for v in viewers if v.stats.frames > 0)))
        while True:
            cmd = await asyncio.to_thread(ctl.recv)
            frames = [v.stats.frames for v in viewers]
            if cmd[0] == "sample":
                ctl.send({"frames": frames})
                continue
            for v in viewers:
                await v.close(session)
            ctl.send({"frames": frames})
            return
