"""A co-host guest on aiortc: join, raise a hand, accept, watch the host, publish, leave.

Used by the stack's tests and by the media panel's ``cohost`` viewer (`loadgen.panel.cohost`),
which puts every HTTP/WebSocket exchange behind the guest's profile (``url_for``, a relay) and
its ICE sockets too (``on_gathered``).

* `GuestTrack` is the guest's camera: 320×180 at 15 fps (a phone's small co-host tile, and a
  quarter of the host's coding cost on a shared machine), band 0 of the barcode = its capture
  time, band 1 = the newest host stamp the guest has seen (`echo`), the guest's "answer".
* `CohostGuest.go_on_air` sends ``cohost_request``, waits for ``cohost_invite``, accepts, opens
  its own WHEP session to the host (decoding each frame: ``host_to_guest`` = shown − host
  capture stamp) and publishes `GuestTrack` plus silent Opus audio by WHIP. With the stack's
  ``--audio`` it also listens to the host: a beep's onset heard at H left the host at the last
  whole second (`stack.audio`), so ``host_audio`` = H mod 1000 ms (below 1 s).
* `GuestAudience` is a plain viewer whose WHEP offer has the guest slots' m-lines: it decodes
  one slot's video (``guest_to_viewer`` = shown − guest capture stamp).

Times are wall-clock epoch ms (`clock_ms`), the barcodes' clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError

from loadgen.panel.viewer import wall_ms
from loadgen.panel.whep_viewer import (
    PanelPath,
    ViewerStats,
    discarding_handler,
    panel_receive_path,
)
from stack import barcode, whep_leave, whep_offer
from stack.ice import rtc_configuration
from stack.picture import PictureSource

__all__ = ["CohostGuest", "GuestAudience", "GuestTrack"]

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
GUEST_FPS = 15
GUEST_SIZE = (320, 180)  # px; the barcode's blocks are 8 px at this width, two bands fit
# Peak |sample| (s16) above which a decoded host audio frame is beeping (the beep peaks at
# 0.2 × 32767 ≈ 6550; Opus's silence decodes to ~0).
BEEP_THRESHOLD = 2000
# How long a guest waits for its invitation after raising a hand, seconds.
INVITE_TIMEOUT_S = 10.0


def _same(url: str) -> str:
    return url


class GuestTrack(MediaStreamTrack):
    """The guest's camera: moving picture, its capture time in band 0, `echo` in band 1."""

    kind = "video"

    def __init__(
        self,
        clock_ms: Callable[[], float] = wall_ms,
        fps: int = GUEST_FPS,
        size: tuple[int, int] = GUEST_SIZE,
    ) -> None:
        super().__init__()
        self.echo = 0  # the newest host capture stamp the guest has seen (0: none yet)
        self._clock_ms = clock_ms
        self._fps = fps
        self._picture = PictureSource(*size)
        self._n = 0  # frames made (the picture's motion)
        self._k = 0  # frames since the pacing (re)started
        self._start: float | None = None
        self._origin = 0.0
        self._last_pts = -1

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = self._origin = loop.time()
        delay = self._start + self._k / self._fps - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            self._start, self._k = loop.time(), 0  # stalled a second: resynchronise
        # pts from the elapsed time, so a resynchronisation never sends the encoder backwards.
        pts = max(self._last_pts + 1, int((loop.time() - self._origin) * VIDEO_CLOCK))
        self._last_pts = pts
        y, u, v = self._picture.render(self._n, int(self._clock_ms()))
        if self.echo:
            barcode.encode((y, u, v), self.echo, band=1)
        packed = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)])
        frame = av.VideoFrame.from_ndarray(packed.reshape(-1, y.shape[1]), format="yuv420p")
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        self._k += 1
        return frame


async def _decode_frames(
    track: MediaStreamTrack, on_frame: Callable[[float, av.VideoFrame], None], clock: Any
) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            on_frame(clock(), frame)  # type: ignore[arg-type]


class CohostGuest:
    """One guest of ``room`` on the stack at ``base_url`` (``http://127.0.0.1:PORT``).

    ``url_for(url)`` maps a URL of the stack to the one to use (a relay's); ``on_gathered(pc)``
    runs once each peer connection's candidates are gathered, before the far end learns them.
    """

    def __init__(
        self,
        base_url: str,
        room: str,
        viewer_id: str,
        http: aiohttp.ClientSession,
        market: str = "ID",
        url_for: Callable[[str], str] = _same,
        on_gathered: Callable[[RTCPeerConnection], None] | None = None,
        clock_ms: Callable[[], float] = wall_ms,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.room = room
        self.viewer_id = viewer_id
        self.market = market
        self.http = http
        self.url_for = url_for
        self.on_gathered = on_gathered
        self.clock_ms = clock_ms
        self.token = ""
        self.slot: int | None = None
        self.track = GuestTrack(clock_ms)
        self.messages: list[dict[str, Any]] = []  # every WebSocket message, batches unpacked
        self.host_to_guest: list[tuple[float, float]] = []  # (shown wall ms, latency ms)
        self.host_frames_ms: list[float] = []
        self.host_audio: list[tuple[float, float]] = []  # (heard wall ms, beep latency ms)
        self._in_beep = False
        self.phases: dict[str, float] = {}  # invite_ms, accept_ms, on_air_ms (from the request)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._invited = asyncio.Event()
        self._invite: dict[str, Any] | None = None
        self._watch_pc: RTCPeerConnection | None = None
        self._watch_location: str | None = None
        self._publish_pc: RTCPeerConnection | None = None
        self._publish_location: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._paths: list[PanelPath] = []

    def _url(self, path: str) -> str:
        return self.url_for(self.base_url + path)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def join(self) -> None:
        """Join the room and open the WebSocket."""
        body = {"viewer_id": self.viewer_id, "market": self.market}
        async with self.http.post(self._url(f"/api/rooms/{self.room}/join"), json=body) as resp:
            resp.raise_for_status()
            self.token = (await resp.json())["token"]
        ws_url = self._url(f"/api/rooms/{self.room}/ws?token={self.token}")
        self._ws = await self.http.ws_connect(ws_url.replace("http", "ws", 1))
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            msg = json.loads(frame.data)
            for m in msg["messages"] if msg.get("type") == "batch" else [msg]:
                self.messages.append(m)
                if m.get("type") == "cohost_invite" and self._invite is None:
                    self._invite = m
                    self._invited.set()

    async def go_on_air(self) -> None:
        """Raise a hand, accept the invitation, watch the host, publish. RuntimeError (with the
        stack's answer) if any step is refused."""
        assert self._ws is not None, "join() first"
        t0 = self.clock_ms()
        await self._ws.send_str(json.dumps({"type": "cohost_request"}))
        try:
            await asyncio.wait_for(self._invited.wait(), INVITE_TIMEOUT_S)
        except TimeoutError:
            errors = [m for m in self.messages if m.get("type") == "error"]
            raise RuntimeError(f"no cohost_invite in {INVITE_TIMEOUT_S:g} s: {errors}") from None
        self.phases["invite_ms"] = self.clock_ms() - t0
        assert self._invite is not None
        url = self._url(f"/api/rooms/{self.room}/cohost/accept")
        body = {"invite_id": self._invite["invite_id"]}
        async with self.http.post(url, json=body, headers=self._auth()) as resp:
            if resp.status != 201:
                raise RuntimeError(f"accept: HTTP {resp.status} {await resp.text()}")
            accepted = await resp.json()
        self.slot = int(accepted["slot"])
        self.phases["accept_ms"] = self.clock_ms() - t0
        await self._watch_host()
        await self._publish(accepted["whip_url"])
        self.phases["on_air_ms"] = self.clock_ms() - t0

    def _gathered(self, pc: RTCPeerConnection) -> None:
        if self.on_gathered is not None:
            self.on_gathered(pc)

    def _heard(self, now: float, frame: Any) -> None:
        """One decoded 20 ms audio frame of the host: a beep's onset gives a latency sample."""
        loud = int(np.abs(frame.to_ndarray()).max()) > BEEP_THRESHOLD
        if loud and not self._in_beep:
            self.host_audio.append((now, now % 1000.0))
        self._in_beep = loud

    async def _watch_host(self) -> None:
        pc = self._watch_pc = RTCPeerConnection(rtc_configuration())
        transceiver = pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")  # the host's beeps, with --audio

        def shown(now: float, ts: int | None) -> None:
            self.host_frames_ms.append(now)
            if ts is not None:
                self.host_to_guest.append((now, now - ts))
                self.track.echo = max(self.track.echo, ts)

        # The host's video through the panel's receive path (the one jitter-buffer fix).
        self._paths.append(panel_receive_path(transceiver.receiver, self.clock_ms, shown))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._tasks.append(
                    asyncio.ensure_future(_decode_frames(track, self._heard, self.clock_ms))
                )

        await pc.setLocalDescription(await pc.createOffer())
        self._gathered(pc)
        answer, self._watch_location = await whep_offer(
            self.http, self._url(f"/whep/{self.room}"), pc.localDescription.sdp
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def _publish(self, whip_path: str) -> None:
        pc = self._publish_pc = RTCPeerConnection(rtc_configuration())
        pc.addTransceiver(self.track, direction="sendonly")
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        self._gathered(pc)
        url = self._url(f"{whip_path}?token={self.token}")
        answer, self._publish_location = await whep_offer(self.http, url, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def leave(self) -> dict[str, Any]:
        """Go off air; returns the stack's report (``host_saw``: what the host measured)."""
        url = self._url(f"/api/rooms/{self.room}/cohost")
        async with self.http.delete(url, headers=self._auth()) as resp:
            if resp.status == 200:
                report: dict[str, Any] = await resp.json()
                return report
        async with self.http.get(url + "/me", headers=self._auth()) as resp:
            return await resp.json() if resp.status == 200 else {}

    async def close(self) -> None:
        """Close every connection (idempotent); the stack frees the slot if still held."""
        for task in self._tasks:
            task.cancel()
        for path in self._paths:
            await path.close()
        self._paths.clear()
        self.track.stop()
        for pc, location in (
            (self._publish_pc, self._publish_location),
            (self._watch_pc, self._watch_location),
        ):
            if pc is not None:
                await whep_leave(self.http, self.url_for(location) if location else None)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5.0):
                        await pc.close()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


class GuestAudience:
    """A viewer of ``whep_url`` that also receives guest slots 0..``slots``−1 and decodes
    slot ``watch_slot``'s video (``guest_to_viewer``: (shown wall ms, latency ms))."""

    def __init__(
        self,
        whep_url: str,
        http: aiohttp.ClientSession,
        slots: int,
        watch_slot: int,
        clock_ms: Callable[[], float] = wall_ms,
    ) -> None:
        self.url = whep_url
        self.http = http
        self.slots = slots
        self.watch_slot = watch_slot
        self.clock_ms = clock_ms
        self.guest_to_viewer: list[tuple[float, float]] = []
        # Packet counts of the m-lines not decoded, in m-line order (the watched one skipped).
        self.counted: dict[int, ViewerStats] = {}
        # max-bundle: one transport for every m-line from the start. With aiortc's default
        # (balanced) a second audio m-line keeps a transport that BUNDLE then stops.
        config = rtc_configuration()
        config.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
        self.pc = RTCPeerConnection(config)
        self.location: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._path: PanelPath | None = None

    async def start(self) -> None:
        pc = self.pc
        pc.addTransceiver("video", direction="recvonly")  # the host
        pc.addTransceiver("audio", direction="recvonly")
        for _ in range(self.slots):
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
        videos = [t for t in pc.getTransceivers() if t.kind == "video"]
        watched = videos[1 + self.watch_slot].receiver
        for transceiver in pc.getTransceivers():
            if transceiver.receiver is not watched:
                # Received (the session is real) but counted and discarded, never decoded.
                stats = self.counted.setdefault(len(self.counted), ViewerStats())
                transceiver.receiver._handle_rtp_packet = discarding_handler(  # type: ignore[method-assign]
                    stats, self.clock_ms
                )

        def shown(now: float, ts: int | None) -> None:
            if ts is not None:
                self.guest_to_viewer.append((now, now - ts))

        self._path = panel_receive_path(watched, self.clock_ms, shown)

        await pc.setLocalDescription(await pc.createOffer())
        answer, self.location = await whep_offer(self.http, self.url, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._path is not None:
            await self._path.close()
            self._path = None
        await whep_leave(self.http, self.location)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self.pc.close()
