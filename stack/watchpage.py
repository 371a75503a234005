"""The watch page: `GET /watch/{room}` (plain HTML) and `GET /watch.js` (its client), no build.

The page joins the room, plays the video over WHEP, and offers chat, poll votes, a buy button
(an order with an `Idempotency-Key`) and the countdown board; see `stack/watch.js`. The files
are read once, at import, from the package.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from aiohttp import web

from stack.cors import CORS_HEADERS

__all__ = ["watch_routes"]

RoomName = Callable[[web.Request], str]

_HTML = files("stack").joinpath("watch.html").read_bytes()
_JS = files("stack").joinpath("watch.js").read_bytes()
# The page may change with the stack; a browser re-checks it rather than run a stale client.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def watch_routes(room_name: RoomName) -> list[web.RouteDef]:
    """Routes of the page; `room_name(request)` validates `{room}` (400 for a bad name)."""

    async def page(request: web.Request) -> web.Response:
        room_name(request)
        return web.Response(
            body=_HTML, content_type="text/html", charset="utf-8", headers=_NO_CACHE
        )

    async def script(request: web.Request) -> web.Response:
        # CORS too: a page on another origin may load this client from the stack.
        return web.Response(
            body=_JS,
            content_type="text/javascript",
            charset="utf-8",
            headers={**_NO_CACHE, **CORS_HEADERS},
        )

    return [web.get("/watch/{room}", page), web.get("/watch.js", script)]
