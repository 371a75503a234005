"""WHIP ingest and WHEP egress (IETF WHIP/WHEP): SDP offer in, 201 + answer + Location out.

One `VideoHub` per room. WHEP viewers get a `ForwardTrack` (packets, never an encoder); a WHIP
publisher's receiver feeds the hub through `stack.ingest`. The answer carries every candidate of
the stack (only 127.0.0.1 when serving locally, see `stack.ice`); a client may trickle its own by
PATCH (`stack.trickle`). CORS for browser pages is `stack.cors`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.sdp import SessionDescription

from stack.body import read_body
from stack.fanout import VideoHub
from stack.httperr import ApiError
from stack.ice import rtc_configuration
from stack.ingest import attach_audio_forwarder, attach_forwarder
from stack.trickle import TRICKLE_CONTENT_TYPE, apply_trickle

__all__ = ["MediaService", "MediaStats"]

log = logging.getLogger(__name__)

ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Peer connections cost memory and a UDP socket each; past this, offers get 503.
MAX_SESSIONS = 5000
MAX_ROOMS = 1000
MAX_SDP_BYTES = 64 * 1024
# Errors aiortc raises for an offer it cannot parse or negotiate; anything else is our bug.
# OperationError: an m-line whose payload types have no usable a=rtpmap. StopIteration:
# aiortc's parser looks codecs up with next(), so an a=fmtp line for a payload type without
# a=rtpmap escapes as StopIteration (as RuntimeError once it leaves a coroutine) — which is
# why `_read_offer` parses the offer itself first, outside any coroutine frame.
SDP_ERRORS = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    InvalidAccessError,
    InvalidStateError,
    OperationError,
)
# AssertionError: aiortc's parser asserts that an m= line matches its pattern; AttributeError:
# an attribute line without its value ("a=rtcp", "a=rtpmap").
SDP_PARSE_ERRORS = (*SDP_ERRORS, StopIteration, AssertionError, AttributeError)


@dataclass
class MediaStats:
    """Counters for /metrics."""

    whep_sessions_total: int = 0
    whip_sessions_total: int = 0
    rtp_packets_sent: int = 0
    sdp_rejected: int = 0


@dataclass
class _Session:
    id: str
    room: str
    kind: str  # "whep" | "whip" (a co-host guest's too)
    pc: RTCPeerConnection
    on_close: Callable[[], None] | None = None  # a guest's: free its slot (stack.cohost)


class MediaService:
    """Owns the rooms' hubs and every media peer connection."""

    def __init__(self, stun: str | None = None, clock_ms: Callable[[], float] | None = None):
        self._stun = stun
        self._clock_ms = clock_ms or (lambda: time.monotonic() * 1000)
        self.hubs: dict[str, VideoHub] = {}
        self.audio_hubs: dict[str, VideoHub] = {}  # rooms with audio (the synthetic host's)
        self.sessions: dict[str, _Session] = {}
        self.publishers: dict[str, str] = {}  # room -> WHIP session id
        self.reserved_rooms: set[str] = set()  # rooms with a built-in host
        # Co-host guest slots: (room, slot) -> (video hub, audio hub). Every WHEP session gets
        # one pre-negotiated video and audio track per slot it offers (docs/protocol.md).
        self.guest_hubs: dict[tuple[str, int], tuple[VideoHub, VideoHub]] = {}
        self.max_guests = 0  # set by the server (StackOptions.max_guests)
        self.stats = MediaStats()

    def hub(self, room: str) -> VideoHub:
        hub = self.hubs.get(room)
        if hub is None:
            if len(self.hubs) >= MAX_ROOMS:
                raise _http_error(503, "too_many_rooms", f"at most {MAX_ROOMS} media rooms")
            hub = self.hubs[room] = VideoHub(self._clock_ms)
        return hub

    def audio_hub(self, room: str) -> VideoHub:
        hub = self.audio_hubs.get(room)
        if hub is None:
            hub = self.audio_hubs[room] = VideoHub(self._clock_ms, kind="audio")
        return hub

    def guest_hub(self, room: str, slot: int) -> tuple[VideoHub, VideoHub]:
        """The (video, audio) hubs of guest `slot` in `room` (created on first use)."""
        hubs = self.guest_hubs.get((room, slot))
        if hubs is None:
            hubs = self.guest_hubs[room, slot] = (
                VideoHub(self._clock_ms),
                VideoHub(self._clock_ms, kind="audio"),
            )
        return hubs

    def viewer_count(self, room: str | None = None) -> int:
        return sum(1 for s in self.sessions.values() if s.kind == "whep" and room in (None, s.room))

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/whep/{room}", self.handle_whep),
            web.post("/whip/{room}", self.handle_whip),
            web.delete("/whep/{room}/{session}", self.handle_delete),
            web.delete("/whip/{room}/{session}", self.handle_delete),
            web.patch("/whep/{room}/{session}", self.handle_patch),
            web.patch("/whip/{room}/{session}", self.handle_patch),
            web.get("/whep/{room}", self.handle_get),
            web.get("/whip/{room}", self.handle_get),
            web.get("/whep/{room}/{session}", self.handle_get),
            web.get("/whip/{room}/{session}", self.handle_get),
        ]

    async def _read_offer(self, request: web.Request) -> tuple[str, RTCSessionDescription]:
        room = request.match_info["room"]
        if not ROOM_RE.match(room):
            raise _http_error(400, "bad_room", f"room {room!r}: use [A-Za-z0-9_-]")
        if request.content_type != "application/sdp":
            raise _http_error(
                415,
                "bad_content_type",
                f"Content-Type {request.content_type!r}: expected application/sdp",
            )
        if request.content_length is not None and request.content_length > MAX_SDP_BYTES:
            raise _http_error(413, "sdp_too_large", "SDP over 64 KiB")
        body = await read_body(request, MAX_SDP_BYTES)
        if len(body) > MAX_SDP_BYTES:
            raise _http_error(413, "sdp_too_large", "SDP over 64 KiB")
        sdp = body.decode("utf-8", errors="replace")
        if not sdp.startswith("v=0"):
            self.stats.sdp_rejected += 1
            raise _http_error(400, "invalid_sdp", "SDP offer must start with v=0")
        if "\nm=video" not in sdp:
            self.stats.sdp_rejected += 1
            raise _http_error(400, "invalid_sdp", "SDP offer has no video m-line")
        try:
            parsed = SessionDescription.parse(
                sdp
            )  # as setRemoteDescription will, outside a coroutine
        except SDP_PARSE_ERRORS as exc:
            self.stats.sdp_rejected += 1
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise _http_error(400, "invalid_sdp", f"cannot parse offer ({reason})") from None
        problem = _transport_problem(parsed)
        if problem:
            self.stats.sdp_rejected += 1
            raise _http_error(400, "invalid_sdp", problem)
        return room, RTCSessionDescription(sdp=sdp, type="offer")

    async def _negotiate(
        self, pc: RTCPeerConnection, offer: RTCSessionDescription, before_answer: Callable[[], None]
    ) -> str:
        try:
            await pc.setRemoteDescription(offer)
            before_answer()
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except SDP_ERRORS as exc:
            self.stats.sdp_rejected += 1
            await pc.close()
            raise _http_error(400, "invalid_sdp", f"cannot use offer: {exc}") from exc
        if "a=rtpmap" not in pc.localDescription.sdp or "VP8" not in pc.localDescription.sdp:
            await pc.close()
            raise _http_error(400, "invalid_sdp", "offer has no VP8 video")
        return str(pc.localDescription.sdp)

    def _register(self, room: str, kind: str, pc: RTCPeerConnection) -> _Session:
        session = _Session(uuid.uuid4().hex, room, kind, pc)
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close_session(session.id)

        return session

    def _created(self, request: web.Request, session: _Session, sdp: str) -> web.Response:
        location = f"/{session.kind}/{session.room}/{session.id}"
        headers = {
            "Location": location,
            "ETag": _etag(session),
            "Accept-Patch": TRICKLE_CONTENT_TYPE,
        }
        if self._stun:
            headers["Link"] = f'<{self._stun}>; rel="ice-server"'
        return web.Response(
            status=201, body=sdp.encode(), content_type="application/sdp", headers=headers
        )

    async def handle_whep(self, request: web.Request) -> web.Response:
        """POST /whep/{room}: a viewer's recvonly offer → 201 answer with the room's video."""
        room, offer = await self._read_offer(request)
        if len(self.sessions) >= MAX_SESSIONS:
            raise _http_error(503, "too_many_sessions", f"at most {MAX_SESSIONS} media sessions")
        pc = RTCPeerConnection(rtc_configuration(self._stun))
        hub = self.hub(room)
        track_holder: list[object] = []

        def add_track() -> None:
            track = hub.subscribe()
            track_holder.append(track)
            sender = pc.addTrack(track)
            _prefer_vp8(pc)
            # A viewer's PLI/FIR asks the room's single encoder (rate-limited by the hub),
            # not this sender's (non-existent) encoder.
            sender._send_keyframe = hub.request_keyframe  # type: ignore[method-assign]
            audio = self.audio_hubs.get(room)
            if audio is not None and any(t.kind == "audio" for t in pc.getTransceivers()):
                audio_track = audio.subscribe()
                track_holder.append(audio_track)
                pc.addTrack(audio_track)
            self._add_guest_slots(pc, room, track_holder)

        try:
            sdp = await self._negotiate(pc, offer, add_track)
        except ApiError:
            for track in track_holder:
                track.stop()  # type: ignore[attr-defined]
            raise
        session = self._register(room, "whep", pc)
        self._count_packets(pc)
        self.stats.whep_sessions_total += 1
        return self._created(request, session, sdp)

    def _add_guest_slots(self, pc: RTCPeerConnection, room: str, holder: list[object]) -> None:
        """The k-th video (audio) m-line after the first carries guest slot k−1's video (audio),
        for slots up to `max_guests`; a slot without a guest on air sends nothing."""
        videos = [t for t in pc.getTransceivers() if t.kind == "video"]
        audios = [t for t in pc.getTransceivers() if t.kind == "audio"]
        for kind, of_kind in (("video", videos), ("audio", audios)):
            for slot, transceiver in enumerate(of_kind[1 : 1 + self.max_guests]):
                # aiortc (BALANCED bundle policy) gives a second m-line of a kind the first
                # one's transport when the offer arrives, then moves only the first onto the
                # BUNDLE transport: follow it, or this m-line stays on a stopped transport.
                first = of_kind[0].receiver.transport
                if transceiver.receiver.transport is not first:
                    transceiver.receiver.setTransport(first)
                    transceiver.sender.setTransport(first)
                video_hub, audio_hub = self.guest_hub(room, slot)
                hub = video_hub if kind == "video" else audio_hub
                track = hub.subscribe()
                holder.append(track)
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendrecv"  # as addTrack does; the answer says sendonly
                if kind == "video":
                    transceiver.sender._send_keyframe = hub.request_keyframe  # type: ignore[method-assign]

    async def handle_guest_whip(
        self,
        request: web.Request,
        slot: int,
        tap: Callable[[bytes], None],
        on_close: Callable[[], None],
    ) -> tuple[str, web.Response]:
        """A co-host guest's sendonly offer into guest `slot` (authorised by `stack.cohost`):
        video to the slot's video hub (and to `tap`, the host watching), audio to its audio
        hub. Returns (session id, the 201); `on_close` runs when the session ends."""
        room, offer = await self._read_offer(request)
        if len(self.sessions) >= MAX_SESSIONS:
            raise _http_error(503, "too_many_sessions", f"at most {MAX_SESSIONS} media sessions")
        video_hub, audio_hub = self.guest_hub(room, slot)
        pc = RTCPeerConnection(rtc_configuration(self._stun))

        @pc.on("track")
        def on_track(track: object) -> None:
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is not track:
                    continue
                if transceiver.kind == "video":
                    attach_forwarder(transceiver.receiver, video_hub, tap)
                else:
                    attach_audio_forwarder(transceiver.receiver, audio_hub)

        sdp = await self._negotiate(pc, offer, lambda: None)
        session = self._register(room, "whip", pc)
        session.on_close = on_close
        self.stats.whip_sessions_total += 1
        return session.id, self._created(request, session, sdp)

    async def close_session(self, session_id: str) -> None:
        """End one session (a guest dropped by `stack.cohost`); nothing if already gone."""
        await self._close_session(session_id)

    async def handle_whip(self, request: web.Request) -> web.Response:
        """POST /whip/{room}: a publisher's sendonly offer → 201; 409 if the room has a host."""
        room, offer = await self._read_offer(request)
        if room in self.publishers or room in self.reserved_rooms:
            raise _http_error(409, "room_has_host", f"room {room!r} has a publisher")
        hub = self.hub(room)
        pc = RTCPeerConnection(rtc_configuration(self._stun))
        self.publishers[room] = "pending"

        @pc.on("track")
        def on_track(track: object) -> None:
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video" and transceiver.receiver.track is track:
                    attach_forwarder(transceiver.receiver, hub)

        try:
            sdp = await self._negotiate(pc, offer, lambda: None)
        except ApiError:
            self.publishers.pop(room, None)
            raise
        session = self._register(room, "whip", pc)
        self.publishers[room] = session.id
        self.stats.whip_sessions_total += 1
        return self._created(request, session, sdp)

    async def handle_delete(self, request: web.Request) -> web.Response:
        """DELETE <Location>: end a WHIP or WHEP session."""
        session = self._session(request)
        await self._close_session(session.id)
        return web.Response(status=200)

    async def handle_patch(self, request: web.Request) -> web.Response:
        """PATCH <Location>: trickle ICE candidates (204); ICE restarts get 422 (stack.trickle)."""
        session = self._session(request)
        return await apply_trickle(request, session.pc, _etag(session))

    async def handle_get(self, request: web.Request) -> web.Response:
        """GET an endpoint or a session: `204`, no content (the WHEP draft; resources have no
        representation); `404` for an unknown session."""
        if "session" in request.match_info:
            self._session(request)
        return web.Response(status=204)

    def _session(self, request: web.Request) -> _Session:
        session = self.sessions.get(request.match_info["session"])
        if session is None or session.room != request.match_info["room"]:
            raise _http_error(404, "no_session", "no such session")
        return session

    async def _close_session(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        if session.kind == "whip" and self.publishers.get(session.room) == session_id:
            del self.publishers[session.room]
            self.hub(session.room).on_keyframe_request = None
        if session.on_close is not None:
            session.on_close()
        await session.pc.close()

    def _count_packets(self, pc: RTCPeerConnection) -> None:
        # Count RTP packets (retransmissions included) at the DTLS transport, the one point
        # every packet of this viewer passes.
        for sender in pc.getSenders():
            transport = sender.transport
            if transport is None or getattr(transport, "_livelab_counted", False):
                continue
            counted = _counting(transport._send_rtp, self.stats)
            transport._send_rtp = counted  # type: ignore[method-assign,assignment]
            transport._livelab_counted = True  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Close every peer connection (shutdown)."""
        await asyncio.gather(
            *(self._close_session(sid) for sid in list(self.sessions)), return_exceptions=True
        )
        for hub in self.hubs.values():
            hub.close()
        for video_hub, audio_hub in self.guest_hubs.values():
            video_hub.close()
            audio_hub.close()


def _counting(
    send: Callable[[bytes], Awaitable[None]], stats: MediaStats
) -> Callable[[bytes], Awaitable[None]]:
    async def counted(data: bytes) -> None:
        stats.rtp_packets_sent += 1
        await send(data)

    return counted


def _prefer_vp8(pc: RTCPeerConnection) -> None:
    codecs = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in ("video/VP8", "video/rtx")
    ]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(codecs)


def _transport_problem(offer: SessionDescription) -> str | None:
    """Why ICE or DTLS could never start with this offer, or None.

    aiortc accepts an offer without these and answers it, then fails in a background task
    (an AssertionError nobody retrieves); the offer is as unusable as one that does not parse.
    """
    for media in offer.media:
        if media.dtls is None or not media.dtls.fingerprints:
            return f"m={media.kind} has no a=fingerprint (DTLS-SRTP needs one)"
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            return f"m={media.kind} has no a=ice-ufrag and a=ice-pwd"
    return None


def _etag(session: _Session) -> str:
    # One ICE session per media session (no restarts), so the session id is a strong tag.
    return f'"{session.id}"'


def _http_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)
