"""Co-host (连麦): the host invites a viewer on air; the viewer accepts and publishes as a guest.

The protocol (docs/protocol.md "Co-host"):

1. **Invitation.** The host invites a connected viewer: the built-in host invites a viewer who
   raises a hand (`cohost_request` on the WebSocket) while a guest slot is free; an operator
   invites anyone with ``POST /api/rooms/{room}/cohost/invitations {"viewer_id"}`` (admin
   token). Either way the viewer's WebSocket gets ``cohost_invite {invite_id, expires_ms}``.
2. **Acceptance.** ``POST /api/rooms/{room}/cohost/accept {"invite_id"}`` with the viewer's join
   token: 201 with its guest ``slot`` and ``whip_url``; 403 ``not_invited`` without a live
   invitation; 409 ``guest_slots_full`` when every slot is taken.
3. **Publishing.** ``POST {whip_url}?token=…`` (WHIP, audio + video) within
   ``publish_within_s``: 201 and ``cohost_on`` is broadcast to the room; 403 ``not_accepted``
   for a viewer who holds no slot, 409 ``slot_taken`` for another viewer's slot or a second
   session on one's own.
4. **Leaving.** ``DELETE /api/rooms/{room}/cohost`` (or the WHIP session's DELETE, or the call
   dying) frees the slot and broadcasts ``cohost_off {reason}``. The answer, and
   ``GET /api/rooms/{room}/cohost/me``, carry what the host saw of the guest
   (`stack.guest_watch`). A guest whose video stops for ``guest_timeout_s`` (≤ 4.5 s) is
   dropped (``connection_lost``): ICE consent freshness would take 30 s to notice.

Invitations, slots and records are per process, in memory, and bounded (`MAX_RECORDS`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from stack.guest_watch import GuestWatcher
from stack.httperr import ApiError
from stack.tasks import spawn

if TYPE_CHECKING:
    from stack.room import Connection, Room
    from stack.server import StackServer

__all__ = ["CohostDesk"]

# Finished guests whose figures stay readable (GET …/cohost/me) after they left, at most.
MAX_RECORDS = 256
# How often (s) the desk checks for dead guests and lapsed acceptances.
WATCHDOG_S = 0.25


@dataclass
class Invitation:
    invite_id: str
    expires_ms: float


@dataclass
class Guest:
    """One viewer holding a guest slot: accepted, then publishing."""

    room: str
    viewer: str
    market: str
    slot: int
    accepted_ms: float
    publish_by_ms: float
    session_id: str | None = None
    on_air_ms: float | None = None
    watcher: GuestWatcher | None = None
    last_frames: int = 0
    last_progress_ms: float = 0.0
    ended: str | None = None  # the cohost_off reason once it has left
    ended_ms: float | None = None  # when it was taken off air (epoch ms)
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "viewer_id": self.viewer,
            "market": self.market,
            "on_air": self.on_air_ms is not None and self.ended is None,
        }


class CohostDesk:
    """Invitations and guest slots of every room of `server`, and the co-host routes."""

    def __init__(self, server: StackServer) -> None:
        self.server = server
        self.invitations: dict[tuple[str, str], Invitation] = {}
        self.guests: dict[str, dict[int, Guest]] = {}  # room -> slot -> guest
        self.records: OrderedDict[tuple[str, str], Guest] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    @property
    def max_guests(self) -> int:
        return self.server.options.max_guests

    def start(self) -> None:
        self._task = spawn(self._watchdog(), "cohost-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for slots in self.guests.values():
            for guest in slots.values():
                if guest.watcher is not None:
                    guest.watcher.close()

    # the flow ---------------------------------------------------------------------------------
    def _guest_of(self, room: str, viewer: str) -> Guest | None:
        return next((g for g in self.guests.get(room, {}).values() if g.viewer == viewer), None)

    def _free_slot(self, room: str) -> int | None:
        taken = self.guests.get(room, {})
        return next((s for s in range(self.max_guests) if s not in taken), None)

    def invite(self, room: Room, viewer: str) -> Invitation:
        """Invite `viewer` (connected to `room`) on air; sends it `cohost_invite`."""
        if self.max_guests == 0:
            raise ApiError(409, "cohost_disabled", "co-hosting is off (--max-guests 0)")
        conns = [c for c in room.conns if c.viewer == viewer and not c.closing]
        if not conns:
            raise ApiError(404, "not_in_room", f"viewer {viewer!r} has no WebSocket in the room")
        if self._guest_of(room.name, viewer) is not None:
            raise ApiError(409, "already_guest", f"viewer {viewer!r} already holds a guest slot")
        if self._free_slot(room.name) is None:
            raise ApiError(409, "guest_slots_full", f"all {self.max_guests} guest slots taken")
        now = self.server.clock_ms()
        invitation = Invitation(uuid.uuid4().hex[:16], now + self.server.options.invite_ttl_s * 1e3)
        self.invitations[room.name, viewer] = invitation
        msg = {
            "type": "cohost_invite",
            "invite_id": invitation.invite_id,
            "expires_ms": int(invitation.expires_ms),
            "ts": int(now),
        }
        for conn in conns:
            spawn(room.send_one(conn, msg), "cohost-invite")
        self.server.metrics.inc("livelab_stack_cohost_invites_total")
        return invitation

    async def on_request(self, room: Room, conn: Connection) -> dict[str, Any] | None:
        """A raised hand (`cohost_request`): the built-in host invites the viewer while a slot
        is free. Returns an error frame to send back, or None."""
        try:
            self.invite(room, conn.viewer)
        except ApiError as exc:
            return {"type": "error", "code": exc.code, "message": _message(exc), "ref": None}
        return None

    def accept(self, room: str, viewer: str, market: str, invite_id: str) -> Guest:
        now = self.server.clock_ms()
        invitation = self.invitations.get((room, viewer))
        if invitation is None or invitation.invite_id != invite_id or invitation.expires_ms < now:
            raise ApiError(403, "not_invited", "no live invitation with this invite_id for you")
        if self._guest_of(room, viewer) is not None:
            raise ApiError(409, "already_guest", "you already hold a guest slot")
        slot = self._free_slot(room)
        if slot is None:
            raise ApiError(409, "guest_slots_full", f"all {self.max_guests} guest slots taken")
        del self.invitations[room, viewer]
        publish_by = now + self.server.options.publish_within_s * 1e3
        guest = Guest(room, viewer, market, slot, now, publish_by, last_progress_ms=now)
        self.guests.setdefault(room, {})[slot] = guest
        return guest

    async def publish(self, request: web.Request, room: str, slot: int) -> web.Response:
        """The guest's WHIP POST into `slot`."""
        claims = self.server.authenticate(request, room)
        guest = self._guest_of(room, claims.viewer)
        if guest is None:
            raise ApiError(403, "not_accepted", "accept an invitation before publishing")
        if guest.slot != slot or guest.session_id is not None:
            raise ApiError(409, "slot_taken", f"guest slot {slot} is not free for this session")
        watcher = GuestWatcher()
        guest.session_id = "pending"
        try:
            session_id, response = await self.server.media.handle_guest_whip(
                request, slot, watcher.put, lambda: self._drop(guest, "left")
            )
        except BaseException:
            guest.session_id = None
            watcher.close()
            raise
        guest.session_id, guest.watcher = session_id, watcher
        guest.on_air_ms = guest.last_progress_ms = self.server.clock_ms()
        self.server.room(room).broadcast(
            {
                "type": "cohost_on",
                "slot": slot,
                "viewer_id": guest.viewer,
                "market": guest.market,
                "ts": int(guest.on_air_ms),
            }
        )
        return response

    def _drop(self, guest: Guest, reason: str) -> None:
        """Free `guest`'s slot (idempotent): record its figures, tell the room."""
        slots = self.guests.get(guest.room, {})
        if slots.get(guest.slot) is not guest:
            return
        del slots[guest.slot]
        guest.ended, guest.ended_ms = reason, self.server.clock_ms()
        if guest.watcher is not None:
            guest.figures = guest.watcher.figures()
            guest.watcher.close()
        video_hub, _ = self.server.media.guest_hub(guest.room, guest.slot)
        video_hub.on_keyframe_request = None
        self.records[guest.room, guest.viewer] = guest
        self.records.move_to_end((guest.room, guest.viewer))
        while len(self.records) > MAX_RECORDS:
            self.records.popitem(last=False)
        if guest.session_id not in (None, "pending"):
            spawn(self.server.media.close_session(guest.session_id), "cohost-close")
            self.server.room(guest.room).broadcast(
                {
                    "type": "cohost_off",
                    "slot": guest.slot,
                    "viewer_id": guest.viewer,
                    "reason": reason,
                    "ts": int(self.server.clock_ms()),
                }
            )
        self.server.metrics.inc("livelab_stack_cohost_ended_total", reason=reason)

    def report(self, room: str, viewer: str) -> dict[str, Any]:
        guest = self._guest_of(room, viewer) or self.records.get((room, viewer))
        if guest is None:
            raise ApiError(404, "not_guest", "you have not been on air in this room")
        figures = (
            guest.watcher.figures() if guest.ended is None and guest.watcher else guest.figures
        )
        ended_ms = None if guest.ended_ms is None else int(guest.ended_ms)
        return {**guest.summary(), "ended": guest.ended, "ended_ms": ended_ms, "host_saw": figures}

    async def _watchdog(self) -> None:
        timeout_ms = self.server.options.guest_timeout_s * 1e3
        while True:
            await asyncio.sleep(WATCHDOG_S)
            now = self.server.clock_ms()
            for key, invitation in list(self.invitations.items()):
                if invitation.expires_ms < now:
                    del self.invitations[key]
            for slots in list(self.guests.values()):
                for guest in list(slots.values()):
                    watcher = guest.watcher
                    if watcher is None:
                        if guest.session_id is None and now > guest.publish_by_ms:
                            self._drop(guest, "never_published")
                        continue
                    if watcher.frames_in != guest.last_frames:
                        guest.last_frames, guest.last_progress_ms = watcher.frames_in, now
                    elif now - guest.last_progress_ms > timeout_ms:
                        self._drop(guest, "connection_lost")

    # HTTP -------------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        from stack.api import _field, _json_body

        server = self.server

        async def invite(request: web.Request) -> web.Response:
            server.authenticate_admin(request)
            room = server.room_name(request)
            viewer = _field(await _json_body(request), "viewer_id", str, True, 1, 64)
            invitation = self.invite(server.room(room), viewer)
            return web.json_response(
                {
                    "invite_id": invitation.invite_id,
                    "viewer_id": viewer,
                    "expires_ms": int(invitation.expires_ms),
                },
                status=201,
            )

        async def accept(request: web.Request) -> web.Response:
            room = server.room_name(request)
            claims = server.authenticate(request, room)
            invite_id = _field(await _json_body(request), "invite_id", str, True, 1, 64)
            guest = self.accept(room, claims.viewer, claims.market, invite_id)
            return web.json_response(
                {
                    "slot": guest.slot,
                    "whip_url": f"/whip/{room}/guest/{guest.slot}",
                    "publish_by_ms": int(guest.publish_by_ms),
                },
                status=201,
            )

        async def leave(request: web.Request) -> web.Response:
            room = server.room_name(request)
            claims = server.authenticate(request, room)
            guest = self._guest_of(room, claims.viewer)
            if guest is None:
                raise ApiError(404, "not_guest", "you hold no guest slot in this room")
            self._drop(guest, "left")
            return web.json_response(self.report(room, claims.viewer))

        async def me(request: web.Request) -> web.Response:
            room = server.room_name(request)
            claims = server.authenticate(request, room)
            return web.json_response(self.report(room, claims.viewer))

        async def status(request: web.Request) -> web.Response:
            room = server.room_name(request)
            guests = sorted(self.guests.get(room, {}).values(), key=lambda g: g.slot)
            return web.json_response(
                {"max_guests": self.max_guests, "guests": [g.summary() for g in guests]}
            )

        async def publish(request: web.Request) -> web.Response:
            room = server.room_name(request)
            raw = request.match_info["slot"]
            if not raw.isdigit() or not 0 <= int(raw) < self.max_guests:
                raise ApiError(404, "no_slot", f"guest slots are 0..{self.max_guests - 1}")
            return await self.publish(request, room, int(raw))

        return [
            web.post("/api/rooms/{room}/cohost/invitations", invite),
            web.post("/api/rooms/{room}/cohost/accept", accept),
            web.delete("/api/rooms/{room}/cohost", leave),
            web.get("/api/rooms/{room}/cohost", status),
            web.get("/api/rooms/{room}/cohost/me", me),
            web.post("/whip/{room}/guest/{slot}", publish),
        ]


def _message(exc: ApiError) -> str:
    import json

    return str(json.loads(exc.text or "{}").get("error", {}).get("message", exc.code))
