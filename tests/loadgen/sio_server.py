"""A small Socket.IO chat-and-order server: "a team's own stack" for the adapter tests.

python-socketio's AsyncServer on aiohttp, on 127.0.0.1:0, speaking the API documented in
`loadgen.locust.adapters.socket_io`. Run as `python tests/loadgen/sio_server.py [--fail K]`;
prints `listening http://127.0.0.1:PORT` once it accepts connections. `GET /healthz` answers
"ok"; `GET /stats` returns what it received (chats, orders by market, …) so a test can count.
`--fail order` makes every order ack an error (a refusing stack).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
from collections import Counter
from typing import Any

import socketio
from aiohttp import web

THINK_S = 0.2  # the host "thinks" this long before answering a question, s
POLL_ID = "poll-1"  # one poll, open from the start


def build(fail: frozenset[str]) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
    app = web.Application()
    sio.attach(app)
    viewers: dict[str, dict[str, Any]] = {}  # sid → {viewer_id, market, room}
    counts: Counter[str] = Counter()
    orders: dict[str, dict[str, Any]] = {}  # idempotency key → order
    codes = (f"ref-{k}" for k in itertools.count(1))

    @sio.event
    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        room = str(data.get("room") or "demo")
        viewers[sid] = {"viewer_id": data.get("viewer_id"), "market": data.get("market"),
                        "room": room}  # fmt: skip
        await sio.enter_room(sid, room)
        counts["joins"] += 1
        return {"ok": True, "poll_id": POLL_ID}

    @sio.event
    async def chat(sid: str, data: dict[str, Any]) -> None:
        counts["chats"] += 1
        room = viewers.get(sid, {}).get("room", "demo")
        await sio.emit("chat", {"id": data.get("id"), "text": data.get("text")}, room=room)

    @sio.event
    async def like(sid: str, data: dict[str, Any]) -> None:
        counts["likes"] += 1

    @sio.event
    async def question(sid: str, data: dict[str, Any]) -> None:
        counts["questions"] += 1

        async def answer() -> None:
            await asyncio.sleep(THINK_S)
            await sio.emit("answer", {"question_id": data.get("id")}, to=sid)

        sio.start_background_task(answer)

    @sio.event
    async def vote(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("poll_id") != POLL_ID:
            return {"ok": False, "error": "no such poll"}
        counts["votes"] += 1
        return {"ok": True}

    @sio.event
    async def order(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        if "order" in fail:
            return {"error": "orders are closed"}
        key = str(data.get("idempotency_key") or "")
        if key in orders:
            return {"order_id": orders[key]["order_id"], "replay": True}
        market = viewers.get(sid, {}).get("market", "?")
        orders[key] = {"order_id": f"o-{len(orders) + 1}", "market": market}
        counts[f"orders.{market}"] += 1
        return {"order_id": orders[key]["order_id"], "replay": False}

    @sio.event
    async def share(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        counts["shares"] += 1
        return {"code": next(codes)}

    @sio.event
    async def disconnect(sid: str, *reason: Any) -> None:
        viewers.pop(sid, None)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(dict(counts))

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/stats", stats)
    return app


async def serve(fail: frozenset[str]) -> None:
    runner = web.AppRunner(build(fail))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()  # until the test terminates the process
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fail", action="append", default=[], choices=["order"])
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(frozenset(args.fail)))
    print(json.dumps({"stopped": True}), flush=True)
