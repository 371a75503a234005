"""Wire `FrameBuffer` into an aiortc `RTCRtpReceiver` in place of its jitter buffer.

`PanelVideoReceiver.install(receiver)` replaces the receiver's ``_handle_rtp_packet`` (the one
method the DTLS transport calls for every routed RTP packet) on that instance only. The new
handler counts the packet on its SSRC (RTX counted apart), reads the VP8 descriptor, feeds the
`FrameBuffer`, sends the NACKs and PLIs it asks for through the receiver's own RTCP helpers and
hands complete frames to ``on_frame``. A timer on the loop runs `FrameBuffer.poll` at its next
deadline. aiortc's `JitterBuffer`, `NackGenerator`, decoder thread queue and REMB estimator are
bypassed; receiver reports are not sent (aiortc's sender only uses them for statistics).

Private aiortc attributes read here (``_RTCRtpReceiver__codecs``, ``__rtx_ssrc``) are read once,
lazily, after ``receive()`` filled them; aiortc 1.9–1.16 name them so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loadgen.panel.receiver import FrameBuffer, FrameOut, ReceiverPolicy
from loadgen.panel.rtpstats import StreamCounter
from loadgen.panel.vp8desc import parse_vp8_descriptor
from stack import log_failure

__all__ = ["PanelVideoReceiver"]

RTP_HEADER_BYTES = 12


class PanelVideoReceiver:
    """Packet-level video receive path for one viewer (see module docstring).

    ``clock_ms`` gives wall-clock ms (the barcode's clock); ``on_frame(frame)`` is called on the
    loop for each complete decodable frame.
    """

    def __init__(
        self,
        policy: ReceiverPolicy,
        clock_ms: Callable[[], float],
        on_frame: Callable[[FrameOut], None],
    ) -> None:
        self.buffer = FrameBuffer(policy)
        self.clock_ms = clock_ms
        self.on_frame = on_frame
        self.streams: dict[int, StreamCounter] = {}
        self.rtx_packets = 0
        self.first_packet_ms: float | None = None
        self.bytes_by_second: dict[int, int] = {}
        self._receiver: Any = None
        self._codecs: dict[int, Any] | None = None
        self._rtx_ssrc: dict[int, int] = {}
        self._media_ssrc: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def install(self, receiver: Any) -> None:
        """Take over ``receiver``'s RTP handling (call before ``setRemoteDescription``)."""
        self._receiver = receiver
        receiver._handle_rtp_packet = self.handle_rtp_packet

    def request_keyframe(self) -> None:
        """Send a PLI now (e.g. the decoder failed on a frame)."""
        if self._media_ssrc is not None and not self.closed:
            self.buffer.counters.plis_sent += 1
            self._spawn(self._receiver._send_rtcp_pli(self._media_ssrc))

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- packet path ------------------------------------------------------------------------

    def _lazy_codecs(self) -> dict[int, Any]:
        if self._codecs is None:
            self._codecs = dict(getattr(self._receiver, "_RTCRtpReceiver__codecs", {}))
            self._rtx_ssrc = dict(getattr(self._receiver, "_RTCRtpReceiver__rtx_ssrc", {}))
        return self._codecs

    async def handle_rtp_packet(self, packet: Any, arrival_time_ms: int = 0) -> None:
        """Replacement for `RTCRtpReceiver._handle_rtp_packet`."""
        if self.closed:
            return
        now = self.clock_ms()
        if self.first_packet_ms is None:
            self.first_packet_ms = now
        codec = self._lazy_codecs().get(packet.payload_type)
        if codec is None:
            return
        payload: bytes = packet.payload
        size = len(payload) + RTP_HEADER_BYTES + packet.padding_size
        second = int(now // 1000)
        self.bytes_by_second[second] = self.bytes_by_second.get(second, 0) + size
        retransmission = codec.mimeType.lower() == "video/rtx"
        if retransmission:
            self.rtx_packets += 1
            ssrc = self._rtx_ssrc.get(packet.ssrc)
            if ssrc is None or len(payload) < 2:
                return
            seq = (payload[0] << 8) | payload[1]
            payload = payload[2:]
        else:
            ssrc = packet.ssrc
            seq = packet.sequence_number
            counter = self.streams.get(ssrc)
            if counter is None:
                counter = self.streams[ssrc] = StreamCounter(ssrc, codec.clockRate)
            counter.add(seq, packet.timestamp, now, size)
        self._media_ssrc = ssrc
        desc = parse_vp8_descriptor(payload)
        if desc is None:
            return
        body = payload[desc.offset :]
        out = self.buffer.push(
            seq,
            packet.timestamp,
            packet.marker,
            desc.start,
            desc.keyframe,
            body,
            now,
            retransmission=retransmission,
            size=len(body),
        )
        await self._act(out.frames, out.nack, out.pli)

    async def _act(self, frames: list[FrameOut], nack: list[int], pli: bool) -> None:
        ssrc = self._media_ssrc
        if ssrc is not None:
            if nack:
                await self._receiver._send_rtcp_nack(ssrc, nack)
            if pli:
                await self._receiver._send_rtcp_pli(ssrc)
        for frame in frames:
            self.on_frame(frame)
        self._arm()

    # --- timers -----------------------------------------------------------------------------

    def _arm(self) -> None:
        deadline = self.buffer.next_deadline()
        if deadline is None or self.closed:
            return
        if self._timer is not None and deadline >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        # half a ms late rather than early: an early wake-up finds nothing due and re-arms
        delay_s = max(0.0, (deadline - self.clock_ms()) / 1000.0) + 0.0005
        self._timer_at = deadline
        self._timer = loop.call_later(delay_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        if self.closed:
            return
        out = self.buffer.poll(self.clock_ms())
        self._spawn(self._act(out.frames, out.nack, out.pli))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_failure("panel receiver timer"))
