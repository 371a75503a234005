"""A minimal WHEP viewer on aiortc for tests, benchmarks and smoke checks, on the panel's core.

It signs in and out with the WHEP signalling core every viewer of the project uses
(`stack.whep_offer`, `stack.whep_leave`) and, with ``marker_frames=True``, receives video through
the media panel's own receive path (`loadgen.panel.hook.PanelVideoReceiver` around the pure
`loadgen.panel.receiver.FrameBuffer`, frames decoded and barcodes read by
`loadgen.panel.decode.BarcodeDecoder`): one jitter-buffer fix for the whole project, the one the
panel's probe viewers measure with. The three receive modes:

* ``decode=False``: a lightweight viewer whose receiver counts packets and frames (at the marker
  bit) and discards them; the session is real (ICE, DTLS, SRTP), only reassembly and decoding are
  skipped (load generation: hundreds of viewers per process);
* ``decode=True`` (the default): aiortc's stock receiver, each decoded frame's barcode read —
  stock aiortc releases frame N only when frame N+1's first packet arrives, one frame interval
  (67 ms at 15 fps) late; kept as the reference a benchmark compares against;
* ``marker_frames=True``: the panel's receive path (frames complete at their last packet, NACK
  and PLI as the panel's probes send them), decoded and read off the event loop.

Times are wall-clock epoch ms (the barcode's clock), from the injected ``clock_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from loadgen.panel.decode import BarcodeDecoder
from loadgen.panel.hook import PanelVideoReceiver
from loadgen.panel.receiver import ReceiverPolicy
from loadgen.panel.viewer import wall_ms
from stack import barcode, loopback_if_local, rtc_configuration, whep_leave, whep_offer

__all__ = ["PanelPath", "ViewerStats", "WhepViewer", "discarding_handler", "panel_receive_path"]


@dataclass
class ViewerStats:
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    first_frame_ms: float | None = None
    g2g_ms: list[float] = field(default_factory=list)  # receive time − barcode time, per frame
    stamps: list[int] = field(default_factory=list)  # barcode times read (epoch ms)
    unreadable: int = 0

    def frame(self, now_ms: float, stamp_ms: int | None) -> None:
        """Count one decoded frame received at `now_ms` whose barcode read `stamp_ms`."""
        self.frames += 1
        if self.first_frame_ms is None:
            self.first_frame_ms = now_ms
        if stamp_ms is None:
            self.unreadable += 1
        else:
            self.g2g_ms.append(now_ms - stamp_ms)
            self.stamps.append(stamp_ms)


def discarding_handler(stats: ViewerStats, clock_ms: Callable[[], float]) -> Any:
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


class PanelPath:
    """The panel's receive path on one aiortc video receiver (see `panel_receive_path`)."""

    def __init__(self, hook: PanelVideoReceiver, decoder: BarcodeDecoder) -> None:
        self.hook = hook
        self.decoder = decoder

    async def close(self) -> None:
        self.hook.close()
        await asyncio.to_thread(self.decoder.close)


def panel_receive_path(
    receiver: Any,
    clock_ms: Callable[[], float],
    on_decoded: Callable[[float, int | None], None],
) -> PanelPath:
    """Receive `receiver`'s video through the panel's path (call before the remote description
    is set): frames complete at their last packet (`FrameBuffer`), are decoded off the loop and
    `on_decoded(now_ms, barcode_ms or None)` runs on the loop for each; a frame the decoder
    rejects asks for a keyframe."""
    hook: PanelVideoReceiver | None = None

    def rejected() -> None:
        if hook is not None:
            hook.request_keyframe()

    decoder = BarcodeDecoder(clock_ms, lambda item: on_decoded(item[1], item[2]), rejected)
    hook = PanelVideoReceiver(ReceiverPolicy(keep_data=True), clock_ms, decoder.put)
    hook.install(receiver)
    return PanelPath(hook, decoder)


class WhepViewer:
    """One viewer of `whep_url` (see the module docstring for the modes). `start()` negotiates;
    `stats` fills as media arrives."""

    def __init__(
        self,
        whep_url: str,
        decode: bool = True,
        marker_frames: bool = False,
        audio: bool = False,
        clock_ms: Callable[[], float] = wall_ms,
    ) -> None:
        loopback_if_local(whep_url)  # a local target: gather 127.0.0.1 only (see stack.ice)
        self.url = whep_url
        self.audio = audio
        self.audio_stats = ViewerStats()  # audio packets are counted, never decoded
        self.decode = decode
        self.marker_frames = marker_frames
        self.stats = ViewerStats()
        self.pc = RTCPeerConnection(rtc_configuration())
        self.location: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._path: PanelPath | None = None
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
        receiver = self.pc.addTransceiver("video", direction="recvonly").receiver
        if self.marker_frames:
            self._path = panel_receive_path(receiver, self.clock_ms, self.stats.frame)
        elif not self.decode:
            receiver._handle_rtp_packet = discarding_handler(self.stats, self.clock_ms)  # type: ignore[method-assign]
        if self.audio:
            audio = self.pc.addTransceiver("audio", direction="recvonly")
            audio.receiver._handle_rtp_packet = discarding_handler(self.audio_stats, self.clock_ms)  # type: ignore[method-assign]

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.decode and not self.marker_frames and track.kind == "video":
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
                self.stats.frame(self.clock_ms(), barcode.decode(frame))  # type: ignore[arg-type]

    async def close(self, session: aiohttp.ClientSession | None = None) -> None:
        if session is not None:
            await whep_leave(session, self.location)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._path is not None:
            await self._path.close()
        await self.pc.close()
