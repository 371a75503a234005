"""`StackServer`: wires the ledger, rooms, media and HTTP routes into one aiohttp application."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from stack.api import api_routes
from stack.audio import SyntheticAudio
from stack.cohost import CohostDesk
from stack.cors import cors_middleware
from stack.faults import Faults
from stack.httperr import ApiError
from stack.ledger import Ledger
from stack.looplag import LoopLag, task_count
from stack.media import ROOM_RE, MediaService
from stack.metrics import Registry
from stack.options import StackOptions
from stack.room import Room, RoomSettings
from stack.schedule import HostSchedule
from stack.synthetic import SyntheticHost
from stack.tokens import Claims, TokenError, TokenSigner
from stack.vp8 import Vp8Settings
from stack.watchpage import watch_routes
from stack.ws import handle_ws

__all__ = ["StackServer"]

log = logging.getLogger(__name__)

MAX_ROOMS = 1000


def _wall_ms() -> float:
    return time.time() * 1000


class StackServer:
    """The reference stack in one process. `clock_ms` gives epoch ms (injected for tests)."""

    def __init__(self, options: StackOptions, clock_ms: Callable[[], float] = _wall_ms) -> None:
        self.options = options.validate()
        self.clock_ms = clock_ms
        secret = options.secret.encode() if options.secret else secrets.token_bytes(32)
        self.signer = TokenSigner(secret, lambda: clock_ms() / 1000)
        self.ledger = Ledger(options.db)
        self.media = MediaService(stun=options.stun)
        self.media.max_guests = options.max_guests
        self.cohost = CohostDesk(self)
        self.faults = Faults(options.faults, seed=options.fault_seed)
        self.rooms: dict[str, Room] = {}
        self.host: SyntheticHost | None = None
        self.audio: SyntheticAudio | None = None
        self.base_url = ""  # set by stack.serve.run_server once listening
        self.metrics = Registry()
        self.loop_lag = LoopLag()
        self._register_metrics()
        self._room_settings = RoomSettings(
            batch_tick_ms=options.batch_tick_ms,
            batch_threshold=options.batch_threshold,
            think_time_s=options.think_time_s,
            schedule=HostSchedule(
                options.mini_peak_every_s, options.announce_ahead_s, peaks=options.peaks
            ),
        )

    # wiring ------------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[cors_middleware, self._middleware], client_max_size=64 * 1024
        )
        app.add_routes(api_routes(self))
        app.add_routes(watch_routes(self.room_name))
        app.add_routes(self.cohost.routes())
        app.add_routes(self.media.routes())
        app.add_routes([web.get("/api/rooms/{room}/ws", self._ws)])
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        return await handle_ws(self, request)

    async def _startup(self, app: web.Application) -> None:
        self.loop_lag.start()
        self.cohost.start()
        await self.ledger.open()
        await self.ledger.set_read_only(self.faults.ledger_read_only)
        self.room(self.options.room)
        if self.options.host == "synthetic":
            self.media.reserved_rooms.add(self.options.room)
            self.host = SyntheticHost(
                self.media.hub(self.options.room),
                Vp8Settings(),
                keyframe_interval_s=self.options.keyframe_interval_s,
            )
            self.host.start()
            if self.options.audio:
                self.audio = SyntheticAudio(self.media.audio_hub(self.options.room))
                self.audio.start()

    async def _shutdown(self, app: web.Application) -> None:
        # Runs before aiohttp closes idle connections: say goodbye on every WebSocket.
        for room in self.rooms.values():
            for conn in list(room.conns):
                conn.closing = True
                await conn.ws.close(code=1001, message=b"server shutting down")

    async def _cleanup(self, app: web.Application) -> None:
        await self.loop_lag.stop()
        await self.cohost.stop()
        for room in self.rooms.values():
            await room.stop()
        if self.host is not None:
            await self.host.stop()
        if self.audio is not None:
            await self.audio.stop()
        await self.media.close()
        await self.ledger.close()

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/api/") and not path.endswith("/ws") and self.faults.api_error():
                raise ApiError(503, "injected_fault", "fault injection: error_rate")
            return await handler(request)
        except ApiError as exc:
            self.metrics.inc("livelab_stack_errors_total", code=exc.code)
            raise
        except web.HTTPException as exc:
            self.metrics.inc("livelab_stack_errors_total", code=f"http_{exc.status}")
            raise
        except Exception:
            # A bug of ours: log it, count it, answer 500 — one request fails, the server lives.
            log.exception("unhandled error on %s %s", request.method, path)
            self.metrics.inc("livelab_stack_errors_total", code="internal")
            raise ApiError(500, "internal", "internal server error") from None

    # helpers for handlers -----------------------------------------------------------------------
    def room_name(self, request: web.Request) -> str:
        room = request.match_info["room"]
        if not ROOM_RE.match(room):
            raise ApiError(400, "bad_room", f"room {room[:80]!r}: use 1-64 of [A-Za-z0-9_-]")
        return room

    def room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None:
            if len(self.rooms) >= MAX_ROOMS:
                raise ApiError(503, "too_many_rooms", f"at most {MAX_ROOMS} rooms")
            room = Room(
                name,
                self._room_settings,
                self.metrics,
                self._lag,
                self._fanout,
                self.clock_ms,
                lambda: self.ledger.leaderboard(name),
            )
            self.rooms[name] = room
            room.start()
        return room

    def authenticate(self, request: web.Request, room: str) -> Claims:
        """Claims of the request's join token (Bearer header or ?token=); 401/403 otherwise."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        token = token or request.query.get("token")
        try:
            return self.signer.verify(token, room)
        except TokenError as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None

    def authenticate_admin(self, request: web.Request) -> None:
        expected = self.options.admin_token
        if not expected:
            raise ApiError(403, "admin_disabled", "start the stack with --admin-token to enable")
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        # surrogateescape: header bytes that are not UTF-8 reach us as lone surrogates.
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
            raise ApiError(401, "invalid_admin_token", "admin token missing or wrong")

    def ws_connection_count(self) -> int:
        return sum(len(r.conns) for r in self.rooms.values())

    # metrics ------------------------------------------------------------------------------------
    def _register_metrics(self) -> None:
        m = self.metrics
        for name, text in [
            ("livelab_stack_ws_connections_total", "WebSocket connections accepted"),
            ("livelab_stack_ws_messages_in_total", "valid client messages received, by type"),
            ("livelab_stack_ws_messages_out_total", "messages delivered (a batch counts each)"),
            ("livelab_stack_ws_frames_out_total", "WebSocket frames sent"),
            ("livelab_stack_joins_total", "successful joins"),
            ("livelab_stack_referral_joins_total", "joins attributed to a referral code"),
            ("livelab_stack_orders_total", "orders created (durable before the 201)"),
            ("livelab_stack_order_replays_total", "orders answered from the idempotency key"),
            ("livelab_stack_errors_total", "errors by code (error frames and HTTP errors)"),
            ("livelab_stack_cohost_invites_total", "co-host invitations sent"),
            ("livelab_stack_cohost_ended_total", "co-host guests off air, by reason"),
        ]:
            m.counter(name, text)
        self._lag = m.histogram(
            "livelab_stack_delivery_lag_ms",
            "server receive (or host event) to frame written to every viewer socket, ms",
        )
        self._fanout = m.histogram(
            "livelab_stack_fanout_ms", "time to write one delivery frame to every socket, ms"
        )
        m.gauge(
            "livelab_stack_ws_connections",
            "open WebSocket connections",
            lambda: float(self.ws_connection_count()),
        )
        m.gauge(
            "livelab_stack_whep_viewers",
            "open WHEP sessions",
            lambda: float(self.media.viewer_count()),
        )
        m.gauge("livelab_stack_rooms", "rooms", lambda: float(len(self.rooms)))
        m.gauge("livelab_stack_asyncio_tasks", "tasks alive on the server's event loop", task_count)
        m.gauge(
            "livelab_stack_loop_lag_ms",
            "worst event-loop wake-up lateness since the previous scrape, ms",
            self.loop_lag.take_max_ms,
        )
        stats = self.media.stats
        m.counter_fn(
            "livelab_stack_rtp_packets_sent_total",
            "RTP packets sent to WHEP viewers",
            lambda: float(stats.rtp_packets_sent),
        )
        m.counter_fn(
            "livelab_stack_whep_sessions_total",
            "WHEP sessions created",
            lambda: float(stats.whep_sessions_total),
        )
        m.counter_fn(
            "livelab_stack_whip_sessions_total",
            "WHIP sessions created",
            lambda: float(stats.whip_sessions_total),
        )
        m.counter_fn(
            "livelab_stack_video_frames_encoded_total",
            "frames encoded by the synthetic host (once each, whatever the viewers)",
            lambda: float(self.host.frames_encoded if self.host else 0),
        )
        m.counter_fn(
            "livelab_stack_audio_frames_encoded_total",
            "Opus frames encoded by the synthetic host (once each, whatever the listeners)",
            lambda: float(self.audio.encoder.frames_encoded if self.audio else 0),
        )
        m.counter_fn(
            "livelab_stack_video_frames_forwarded_total",
            "encoded frames handed to viewer senders",
            lambda: float(sum(h.stats.frames_out for h in self.media.hubs.values())),
        )
        m.counter_fn(
            "livelab_stack_keyframe_requests_total",
            "keyframe requests (PLI/FIR, joins) from viewers",
            lambda: float(sum(h.stats.keyframe_requests for h in self.media.hubs.values())),
        )
