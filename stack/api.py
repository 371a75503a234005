"""The HTTP API: join, orders, referrals, leaderboard, health, metrics, admin faults."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from livelab.errors import ConfigError
from stack.body import read_body
from stack.httperr import ApiError
from stack.ledger import IdempotencyConflict, LedgerUnavailable

if TYPE_CHECKING:
    from stack.server import StackServer

__all__ = ["api_routes"]

MAX_BODY_BYTES = 16 * 1024
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
    raw = await read_body(request, MAX_BODY_BYTES)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ApiError(400, "bad_json", f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, typ: type, required: bool, lo: int, hi: int) -> Any:
    """Validate one field: strings by length lo..hi, ints by value lo..hi."""
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, "missing_field", f"{name} is required")
        return None
    value = body[name]
    if typ is int:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ApiError(400, "bad_field", f"{name} must be an integer in {lo}..{hi}")
    elif not isinstance(value, str) or not lo <= len(value) <= hi:
        raise ApiError(400, "bad_field", f"{name} must be a string of {lo}..{hi} characters")
    return value


def _ledger_unavailable() -> ApiError:
    """The ledger's disk refused the write (full, read-only): nothing was stored, retry later."""
    return ApiError(
        503,
        "ledger_unavailable",
        "the order ledger cannot store writes now; nothing was stored, retry later",
        headers={"Retry-After": "1"},
    )


def api_routes(server: StackServer) -> list[web.RouteDef]:
    async def join(request: web.Request) -> web.Response:
        room = server.room_name(request)
        body = await _json_body(request)
        viewer = _field(body, "viewer_id", str, True, 1, 64)
        market = _field(body, "market", str, True, 1, 16)
        code = _field(body, "referral_code", str, False, 1, 64)
        referral = None
        if code:
            try:
                referral = await server.ledger.attribute(room, viewer, code, int(server.clock_ms()))
            except LedgerUnavailable:
                # The viewer still joins and chats; only the attribution is not stored.
                referral = "unavailable"
            if referral == "recorded":
                server.metrics.inc("livelab_stack_referral_joins_total")
                server.room(room).leaderboard_dirty = True
        token = server.signer.issue(room, viewer, market, server.options.token_ttl_s)
        origin = f"{request.scheme}://{request.host}"
        ws_origin = origin.replace("http", "ws", 1)
        server.metrics.inc("livelab_stack_joins_total")
        return web.json_response(
            {
                "token": token,
                "ws_url": f"{ws_origin}/api/rooms/{room}/ws?token={token}",
                "whep_url": f"{origin}/whep/{room}",
                "viewer_count": len(server.room(room).conns),
                "referral": referral,
            }
        )

    async def place_order(request: web.Request) -> web.Response:
        room = server.room_name(request)
        claims = server.authenticate(request, room)
        key = request.headers.get("Idempotency-Key")
        if not key or not _KEY_RE.match(key):
            raise ApiError(400, "missing_idempotency_key", "Idempotency-Key: 1-128 visible chars")
        body = await _json_body(request)
        order_body = {
            "sku": _field(body, "sku", str, True, 1, 64),
            "qty": _field(body, "qty", int, False, 1, 99) or 1,
            "price_cents": _field(body, "price_cents", int, False, 0, 10_000_000) or 0,
        }
        try:
            order, created = await server.ledger.place_order(
                room, claims.viewer, key, order_body, int(server.clock_ms())
            )
        except IdempotencyConflict:
            raise ApiError(
                422, "idempotency_conflict", "Idempotency-Key reused with a different order"
            ) from None
        except LedgerUnavailable:
            raise _ledger_unavailable() from None
        server.metrics.inc(
            "livelab_stack_orders_total" if created else "livelab_stack_order_replays_total"
        )
        return web.json_response(order.as_json(), status=201 if created else 200)

    async def get_order(request: web.Request) -> web.Response:
        room = server.room_name(request)
        claims = server.authenticate(request, room)
        order = await server.ledger.get_order(request.match_info["order_id"])
        if order is None or order.room != room or order.viewer_id != claims.viewer:
            raise ApiError(404, "no_order", "no such order for this viewer")
        return web.json_response(order.as_json())

    async def referral(request: web.Request) -> web.Response:
        room = server.room_name(request)
        claims = server.authenticate(request, room)
        try:
            code = await server.ledger.referral_code(room, claims.viewer, int(server.clock_ms()))
        except LedgerUnavailable:
            raise _ledger_unavailable() from None
        return web.json_response({"code": code}, status=201)

    async def leaderboard(request: web.Request) -> web.Response:
        room = server.room_name(request)
        return web.json_response({"room": room, "entries": await server.ledger.leaderboard(room)})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "rooms": len(server.rooms),
                "ws_connections": server.ws_connection_count(),
                "whep_viewers": server.media.viewer_count(),
            }
        )

    # prometheus_client writes the exposition and negotiates its format (text or OpenMetrics).
    exposition = make_aiohttp_handler(server.metrics.registry)

    async def metrics(request: web.Request) -> web.StreamResponse:
        response = await exposition(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def get_faults(request: web.Request) -> web.Response:
        server.authenticate_admin(request)
        return web.json_response(server.faults.values)

    async def set_faults(request: web.Request) -> web.Response:
        server.authenticate_admin(request)
        body = await _json_body(request)
        try:
            server.faults.update(body)
            await server.ledger.set_read_only(server.faults.ledger_read_only)
        except ConfigError as exc:
            raise ApiError(400, "bad_fault", str(exc)) from None
        except ValueError as exc:
            server.faults.values["ledger_read_only"] = 0.0
            raise ApiError(400, "bad_fault", str(exc)) from None
        return web.json_response(server.faults.values)

    return [
        web.post("/api/rooms/{room}/join", join),
        web.post("/api/rooms/{room}/orders", place_order),
        web.get("/api/rooms/{room}/orders/{order_id}", get_order),
        web.post("/api/rooms/{room}/referrals", referral),
        web.get("/api/rooms/{room}/leaderboard", leaderboard),
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
        web.get("/admin/faults", get_faults),
        web.post("/admin/faults", set_faults),
    ]
