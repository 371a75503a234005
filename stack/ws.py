"""GET /api/rooms/{room}/ws?token=…: the viewer's WebSocket (see docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from stack.messages import ProtocolError, parse_client_message
from stack.ratelimit import TokenBucket
from stack.room import Connection, Room

if TYPE_CHECKING:
    from stack.server import StackServer

__all__ = ["handle_ws"]

log = logging.getLogger(__name__)

# Frames above the protocol's 4 KiB limit still get an error frame; only frames above this hard
# limit make aiohttp close the connection (1009).
HARD_MAX_FRAME_BYTES = 64 * 1024


async def handle_ws(server: StackServer, request: web.Request) -> web.StreamResponse:
    room_name = request.match_info["room"]
    claims = server.authenticate(request, room_name)  # 401/403 before the upgrade
    room = server.room(room_name)
    # No permessage-deflate: a room sends the same small frame to thousands of sockets, and
    # compressing it once per socket would cost more CPU than the bytes it saves on loopback.
    ws = web.WebSocketResponse(max_msg_size=HARD_MAX_FRAME_BYTES, heartbeat=30.0, compress=False)
    await ws.prepare(request)
    opts = server.options
    conn = Connection(
        ws=ws,
        viewer=claims.viewer,
        market=claims.market,
        bucket=TokenBucket(opts.rate_limit_per_s, now_s=server.clock_ms() / 1000),
        transport=request.transport,
    )
    room.add(conn)
    server.metrics.inc("livelab_stack_ws_connections_total")
    welcome: dict[str, Any] = {
        "type": "welcome",
        "room": room_name,
        "viewer_id": claims.viewer,
        "viewer_count": len(room.conns),
        "ts": int(server.clock_ms()),
    }
    poll = room.current_poll()
    if poll is not None:
        welcome["poll"] = poll
    await room.send_one(conn, welcome)
    try:
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                if not await _on_text(server, room, conn, frame.data):
                    break
            elif frame.type == WSMsgType.BINARY:
                await _reply_error(
                    server, room, conn, ProtocolError("bad_json", "binary frames are not accepted")
                )
            elif frame.type == WSMsgType.ERROR:
                break
    finally:
        room.remove(conn)
    return ws


async def _reply_error(
    server: StackServer, room: Room, conn: Connection, err: ProtocolError
) -> None:
    server.metrics.inc("livelab_stack_errors_total", code=err.code)
    await room.send_one(conn, err.frame())


async def _on_text(server: StackServer, room: Room, conn: Connection, text: str) -> bool:
    """Handle one frame; False when the connection must end."""
    opts = server.options
    if not conn.bucket.allow(server.clock_ms() / 1000):  # the server's one clock
        if conn.bucket.strikes == 1:
            await _reply_error(
                server,
                room,
                conn,
                ProtocolError("rate_limited", f"over {opts.rate_limit_per_s:g} messages/s"),
            )
        if conn.bucket.strikes > 2 * opts.rate_limit_per_s:
            server.metrics.inc("livelab_stack_errors_total", code="rate_limit_close")
            await conn.ws.close(code=1008, message=b"rate limit exceeded")
            return False
        return True
    if server.faults.drop_ws():
        server.metrics.inc("livelab_stack_errors_total", code="injected_drop")
        conn.closing = True
        if conn.transport is not None:
            conn.transport.close()  # abrupt: no close frame, as a dying network would do
        return False
    try:
        msg = parse_client_message(text, opts.max_frame_bytes)
    except ProtocolError as err:
        await _reply_error(server, room, conn, err)
        return True
    server.metrics.inc("livelab_stack_ws_messages_in_total", type=msg["type"])
    await _dispatch(server, room, conn, msg)
    return True


async def _dispatch(server: StackServer, room: Room, conn: Connection, msg: dict[str, Any]) -> None:
    now = server.clock_ms()
    kind = msg["type"]
    if kind == "chat":
        out = {
            "type": "chat",
            "id": msg["id"],
            "from": conn.viewer,
            "text": msg["text"],
            "ts": int(now),
        }
        delay = server.faults.chat_delay_s
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, room.broadcast, out, now)
        else:
            room.broadcast(out, now)
    elif kind == "like":
        room.tallies.likes += msg.get("count", 1)
    elif kind == "vote":
        poll = room.tallies.votes.get(msg["poll_id"])
        if poll is None:
            await _reply_error(
                server, room, conn, ProtocolError("bad_field", "no such open poll", msg["poll_id"])
            )
            return
        poll[msg["option"]] = poll.get(msg["option"], 0) + 1
    elif kind == "question":
        room.answer_later(conn.viewer, msg["id"])
    elif kind == "share":
        room.tallies.shares += 1
    elif kind == "ping":
        await room.send_one(conn, {"type": "pong", "id": msg.get("id"), "ts": int(now)})
    elif kind == "cohost_request":
        refused = await server.cohost.on_request(room, conn)
        if refused is not None:
            refused["ref"] = msg.get("id")
            server.metrics.inc("livelab_stack_errors_total", code=refused["code"])
            await room.send_one(conn, refused)
