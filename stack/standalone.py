"""The synthetic host on its own: publish the barcode stream into any stack, by WHIP or plain RTP.

`HostStream` runs the same `SyntheticHost` (and, optionally, `SyntheticAudio`) as the reference
stack, into private hubs with exactly one subscriber each, so the frames are encoded once and
carry the capture-time barcode (`stack.barcode`). Two ways out:

* `publish_whip(url, ...)`: the subscriber tracks go to a `WhipPublisher` (aiortc packetizes,
  SRTP, RTCP, PLI back to the encoder);
* `RtpSender`: the subscriber tracks are packetized with aiortc's own VP8 / Opus packetizers
  and sent as plain RTP over UDP (no RTCP, no SRTP), for Janus's Streaming plugin or
  ffmpeg-style ingest. Video goes to ``port``, audio to ``port + 2`` (the even-port RTP
  convention, leaving ``port + 1`` for RTCP).

Payload types default to 96 (VP8) and 111 (Opus), the values a Janus mountpoint or an ffmpeg
SDP file is told to expect (docs/targets.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from stack.audio import SyntheticAudio
from stack.fanout import ForwardTrack, VideoHub
from stack.synthetic import SyntheticHost
from stack.vp8 import Vp8Settings
from stack.whep_client import WhipPublisher

__all__ = ["AUDIO_PT", "VIDEO_PT", "HostStream", "RtpSender", "RtpStats", "publish_whip"]

VIDEO_PT = 96
AUDIO_PT = 111


def _wall_ms() -> float:
    return time.time() * 1000.0


class HostStream:
    """Synthetic video (and audio with `audio=True`) encoded once into one track each."""

    def __init__(
        self,
        audio: bool = False,
        settings: Vp8Settings | None = None,
        keyframe_interval_s: float = 2.0,
        clock_ms: Callable[[], float] = _wall_ms,
    ) -> None:
        self.video_hub = VideoHub(clock_ms)
        self.host = SyntheticHost(self.video_hub, settings, keyframe_interval_s)
        self.video: ForwardTrack = self.video_hub.subscribe()
        self.audio_hub: VideoHub | None = None
        self.beep: SyntheticAudio | None = None
        self.audio: ForwardTrack | None = None
        if audio:
            self.audio_hub = VideoHub(clock_ms, kind="audio")
            self.beep = SyntheticAudio(self.audio_hub)
            self.audio = self.audio_hub.subscribe()

    def start(self) -> None:
        """Start encoding (call inside the running event loop)."""
        self.host.start()
        if self.beep is not None:
            self.beep.start()

    async def stop(self) -> None:
        self.video.stop()
        if self.audio is not None:
            self.audio.stop()
        await self.host.stop()
        if self.beep is not None:
            await self.beep.stop()


async def publish_whip(
    url: str, stream: HostStream, until: asyncio.Event, connect_timeout_s: float = 10.0
) -> WhipPublisher:
    """POST the stream's offer to the WHIP endpoint `url`, wait for ICE, then send until `until`
    is set. Raises RuntimeError for an HTTP error or if ICE is not connected within
    `connect_timeout_s` seconds. Returns the (closed) publisher for its counters."""
    publisher = WhipPublisher(url, stream.video, audio_track=stream.audio)
    connected = asyncio.Event()

    @publisher.pc.on("connectionstatechange")
    def _state() -> None:
        if publisher.pc.connectionState == "connected":
            connected.set()

    async with aiohttp.ClientSession() as session:
        try:
            await publisher.start(session)
            stream.start()
            try:
                await asyncio.wait_for(connected.wait(), connect_timeout_s)
            except TimeoutError as exc:
                raise RuntimeError(
                    f"WHIP {url}: not connected within {connect_timeout_s:g} s"
                ) from exc
            await until.wait()
        finally:
            await publisher.close(session)
    return publisher


@dataclass
class RtpStats:
    """What an `RtpSender` sent: RTP packets, payload bytes and frames, per media kind."""

    packets: int = 0
    bytes: int = 0
    frames: int = 0


class RtpSender:
    """Sends `stream` as plain RTP over UDP to ``(host, port)`` (audio to ``port + 2``)."""

    def __init__(
        self,
        stream: HostStream,
        host: str,
        port: int,
        video_pt: int = VIDEO_PT,
        audio_pt: int = AUDIO_PT,
        rng: random.Random | None = None,
    ) -> None:
        self.stream = stream
        self.video_addr = (host, port)
        self.audio_addr = (host, port + 2)
        self.video_pt = video_pt
        self.audio_pt = audio_pt
        self._rng = rng or random.Random()
        self.video_stats = RtpStats()
        self.audio_stats = RtpStats()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start encoding and sending (call inside the running event loop)."""
        self.stream.start()
        loop = asyncio.get_running_loop()
        video = self._pump(
            self.stream.video, Vp8Encoder(), self.video_pt, self.video_addr, self.video_stats
        )
        self._tasks.append(loop.create_task(video))
        if self.stream.audio is not None:
            audio = self._pump(
                self.stream.audio, OpusEncoder(), self.audio_pt, self.audio_addr, self.audio_stats
            )
            self._tasks.append(loop.create_task(audio))

    async def stop(self) -> None:
        await self.stream.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sock.close()

    async def _pump(
        self,
        track: MediaStreamTrack,
        packetizer: Any,
        pt: int,
        addr: tuple[str, int],
        stats: RtpStats,
    ) -> None:
        marks_frames = track.kind == "video"
        ssrc = self._rng.getrandbits(32)
        seq = self._rng.getrandbits(16)
        ts_offset = self._rng.getrandbits(32)  # RFC 3550 §5.1: the initial timestamp is random
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                payloads, timestamp = packetizer.pack(frame)
                for i, payload in enumerate(payloads):
                    packet = RtpPacket(
                        payload_type=pt,
                        # Video: the marker bit ends a frame (RFC 7741 §4.1); Opus leaves it 0.
                        marker=int(marks_frames and i == len(payloads) - 1),
                        sequence_number=seq,
                        timestamp=(timestamp + ts_offset) & 0xFFFFFFFF,
                        ssrc=ssrc,
                        payload=payload,
                    )
                    seq = (seq + 1) & 0xFFFF
                    try:
                        self._sock.sendto(packet.serialize(), addr)
                    except (BlockingIOError, ConnectionRefusedError):
                        # UDP: a full buffer or an ICMP "port unreachable" from a receiver
                        # that is not up yet loses this packet, as the network would.
                        continue
                    stats.packets += 1
                    stats.bytes += len(payload)
                stats.frames += 1
