"""CORS for the endpoints a browser page on another origin calls: WHIP, WHEP and the room API.

A page served from another origin (a team's own player, `@eyevinn`/medooze WHEP clients, a test
page) can only read a WHEP answer if the server allows it: the browser sends an `OPTIONS`
preflight first (the offer is `application/sdp`, not a "simple" content type), then reads
`Location`, `ETag`, `Link` and `Accept-Patch` only if they are exposed (RFC 9725, WHIP, and the
WHEP draft expect browser clients and name these headers). Tokens travel in
`Authorization: Bearer` (never cookies), so `Access-Control-Allow-Origin: *` is safe and no
credentials mode is offered.

WebSocket upgrades are not subject to CORS; `/metrics`, `/healthz` and `/admin/*` are not for
pages and get no CORS headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["CORS_HEADERS", "cors_applies", "cors_middleware"]

# Paths a cross-origin page may call (the WebSocket path is listed but needs no preflight).
_PREFIXES = ("/whep/", "/whip/", "/api/rooms/")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch",
}
_PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, If-Match, Idempotency-Key",
    # Seconds a browser may cache this preflight (Chromium caps it at 7200).
    "Access-Control-Max-Age": "600",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cors_applies(path: str) -> bool:
    """True for the paths that answer preflights and carry CORS headers."""
    return path.startswith(_PREFIXES)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer `OPTIONS` preflights with 204; add the CORS headers to every other answer.

    Error answers (`ApiError`, 404, 405) carry them too, so a page can read the JSON error.
    """
    if not cors_applies(request.path):
        return await handler(request)
    if request.method == "OPTIONS":
        headers = dict(_PREFLIGHT_HEADERS)
        if request.path.startswith(("/whep/", "/whip/")):
            # The WHEP draft: an endpoint's OPTIONS says what it takes by POST; a session's
            # (/whep/{room}/{session}) what it takes by PATCH.
            if request.path.rstrip("/").count("/") == 2:
                headers["Accept-Post"] = "application/sdp"
            else:
                headers["Accept-Patch"] = "application/trickle-ice-sdpfrag"
        return web.Response(status=204, headers=headers)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(CORS_HEADERS)
        raise
    if not response.prepared:  # a WebSocket has already sent its headers
        response.headers.update(CORS_HEADERS)
    return response
