"""A minimal WHEP viewer and WHIP publisher on aiortc, for tests, benchmarks and smoke checks,
and the WHEP signalling core every viewer of the project uses (`whep_offer`, `whep_leave`: the
stack's `WhepViewer` here and the media panel's `loadgen.panel.viewer.Viewer`).

`WhepViewer(decode=True)` decodes every frame and reads its barcode (glass-to-glass latency);
`marker_frames=True` completes frames at the RTP marker bit as browsers do (see
`MarkerJitterBuffer`); `decode=False` is a lightweight viewer whose receiver counts packets and
frames (at the marker bit) and discards them: the session is real (ICE, DTLS, SRTP), only
reassembly and decoding are skipped (load generation: hundreds of viewers per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from yarl import URL

from netem_profiles import netio
from stack import barcode
from stack.ice import restrict_ice_to_loopback, rtc_configuration

__all__ = ["MarkerJitterBuffer", "WhepViewer", "WhipPublisher", "whep_leave", "whep_offer"]

log = logging.getLogger(__name__)

_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, but a frame is complete at its RTP marker bit.

    Stock aiortc releases frame N only when the first packet of frame N+1 arrives, which adds one
    frame interval (67 ms at 15 fps) to every glass-to-glass figure. A browser completes a frame
    at its marker bit; this buffer does the same when every packet of the frame is present.
    """

    def __init__(self) -> None:
        super().__init__(capacity=512, is_video=True)

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli_flag, frame = super().add(packet)
        if frame is None and packet.marker and self._origin is not None:
            frame = self._complete_at(packet)
        return pli_flag, frame

    def _complete_at(self, last: RtpPacket) -> JitterFrame | None:
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            pos = (self._origin + count) % self.capacity  # type: ignore[operator]
            packet = self._packets[pos]
            if packet is None or packet.timestamp != last.timestamp:
                return None  # a gap, or an older incomplete frame still waiting
            packets.append(packet)
            if packet.sequence_number == last.sequence_number:
                self.remove(count + 1)
                data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]
                return JitterFrame(data=data, timestamp=last.timestamp)
        return None


def _wall_ms() -> float:
    return time.time() * 1000  # the barcode's clock: epoch ms


def _discarding_handler(stats: ViewerStats, clock_ms: Callable[[], float]) -> Any:
    """Stands in for a receiver's RTP handler: counts packets and frames, keeps nothing.

    Frames are counted at the RTP marker bit. The packet has been decrypted (SRTP) and parsed by
    then, so the peer connection is real end to end; only reassembly and decoding are skipped.
    """

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        stats.packets += 1
        stats.bytes += len(packet.payload)
        if packet.marker:
            stats.frames += 1
            if stats.first_frame_ms is None:
                stats.first_frame_ms = clock_ms()

    return handle


@dataclass
class ViewerStats:
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    first_frame_ms: float | None = None
    g2g_ms: list[float] = field(default_factory=list)  # receive time − barcode time, per frame
    stamps: list[int] = field(default_factory=list)  # barcode times read (epoch ms)
    unreadable: int = 0


def _loopback_if_local(url: str) -> None:
    """A local target: gather only 127.0.0.1 candidates in this process (see `stack.ice`)."""
    if netio.is_loopback(URL(url).host or ""):
        restrict_ice_to_loopback()


async def whep_offer(session: aiohttp.ClientSession, url: str, sdp: str) -> tuple[str, str | None]:
    """POST the SDP offer `sdp` to a WHEP (or WHIP) endpoint: (answer SDP, the session's URL
    from `Location`, resolved against `url`; None without one). RuntimeError unless HTTP 201."""
    async with session.post(url, data=sdp, headers={"Content-Type": "application/sdp"}) as resp:
        body = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"WHEP POST {url}: HTTP {resp.status} {body[:200]}")
        location = resp.headers.get("Location")
        return body, str(resp.url.join(URL(location))) if location else None


async def whep_leave(
    session: aiohttp.ClientSession, location: str | None, timeout_s: float = 2.0
) -> None:
    """DELETE the WHEP session at `location` (if any), within `timeout_s` seconds. A failure is
    logged, not raised: the session ends anyway when the peer connection closes."""
    if not location:
        return
    try:
        async with asyncio.timeout(timeout_s), session.delete(location):
            pass
    except (TimeoutError, OSError, RuntimeError, aiohttp.ClientError) as exc:
        log.debug("WHEP DELETE %s failed: %s", location, exc)


class WhepViewer:
    """One viewer of `whep_url`. `start()` negotiates; `stats` fills as media arrives, timed by
    `clock_ms` (epoch ms, the barcode's clock; injected for tests)."""

    def __init__(
        self,
        whep_url: str,
        decode: bool = True,
        marker_frames: bool = False,
        audio: bool = False,
        clock_ms: Callable[[], float] = _wall_ms,
    ) -> None:
        _loopback_if_local(whep_url)
        self.url = whep_url
        self.audio = audio
        self.audio_stats = ViewerStats()  # audio packets are counted, never decoded
        self.decode = decode
        self.marker_frames = marker_frames
        self.stats = ViewerStats()
        self.pc = RTCPeerConnection(rtc_configuration())
        self.location: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.started_ms = 0.0
        self.clock_ms = clock_ms

    async def start(
        self,
        session: aiohttp.ClientSession,
        on_gathered: Callable[[RTCPeerConnection], None] | None = None,
    ) -> None:
        """Offer, POST, apply the answer. `on_gathered(pc)` runs once the local candidates are
        gathered and before the offer is sent (e.g. to put the ICE sockets behind a profile)."""
        self.started_ms = self.clock_ms()
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if not self.decode:
            transceiver.receiver._handle_rtp_packet = _discarding_handler(self.stats, self.clock_ms)  # type: ignore[method-assign]
        if self.audio:
            audio = self.pc.addTransceiver("audio", direction="recvonly")
            audio.receiver._handle_rtp_packet = _discarding_handler(self.audio_stats, self.clock_ms)  # type: ignore[method-assign]
        if self.marker_frames:
            setattr(transceiver.receiver, _JITTER_ATTR, MarkerJitterBuffer())

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.decode:
                self._task = asyncio.ensure_future(self._consume(track))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        if on_gathered is not None:
            on_gathered(self.pc)
        answer, self.location = await whep_offer(session, self.url, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = self.clock_ms()
                ts = barcode.decode(frame)  # type: ignore[arg-type]
                self.stats.frames += 1
                if self.stats.first_frame_ms is None:
                    self.stats.first_frame_ms = now
                if ts is None:
                    self.stats.unreadable += 1
                else:
                    self.stats.g2g_ms.append(now - ts)
                    self.stats.stamps.append(ts)

    async def close(self, session: aiohttp.ClientSession | None = None) -> None:
        if session is not None:
            await whep_leave(session, self.location)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pc.close()


class WhipPublisher:
    """Publishes `track` (an aiortc video track), and `audio_track` if given, to `whip_url`."""

    def __init__(
        self, whip_url: str, track: MediaStreamTrack, audio_track: MediaStreamTrack | None = None
    ) -> None:
        _loopback_if_local(whip_url)
        self.url = whip_url
        self.pc = RTCPeerConnection(rtc_configuration())
        self.pc.addTransceiver(track, direction="sendonly")
        if audio_track is not None:
            self.pc.addTransceiver(audio_track, direction="sendonly")
        self.location: str | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer, self.location = await whep_offer(session, self.url, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self, session: aiohttp.ClientSession | None = None) -> None:
        """End the session: DELETE its resource (with `session`), then close the connection."""
        if session is not None and self.location:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.delete(self.location):
                    pass
        await self.pc.close()
