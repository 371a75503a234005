"""WHIP ingest without decoding: a publisher's VP8 frames go straight to the room's hub.

aiortc's `RTCRtpReceiver` reassembles each frame in its jitter buffer and hands it to a decoder
thread through a private queue. `attach_forwarder` swaps that queue (before the receiver starts)
for one that forwards each reassembled frame, as an `av.Packet`, to the room's `VideoHub` and
never decodes. This is the one place the stack reaches into aiortc's private state; it is pinned
by `tests/stack/test_stack_media.py::test_whip_publisher_reaches_whep_viewer`.
"""

from __future__ import annotations

import asyncio
import fractions
import queue
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver

from stack.fanout import VideoHub
from stack.tasks import log_failure
from stack.vp8 import VIDEO_CLOCK_HZ, is_vp8_keyframe

__all__ = ["attach_audio_forwarder", "attach_forwarder"]

_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)
_AUDIO_TIME_BASE = fractions.Fraction(1, 48_000)  # Opus's RTP clock
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"


class _ForwardingQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: forwards frames, passes the stop marker."""

    def __init__(
        self,
        hub: VideoHub,
        codec_name: str = "VP8",
        tap: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self._hub = hub
        self._codec_name = codec_name
        self._tap = tap
        self._time_base = _TIME_BASE if codec_name == "VP8" else _AUDIO_TIME_BASE

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping: let the (idle) decoder thread end
            super().put(None, block, timeout)
            return
        codec, encoded = item
        if codec.name.lower() != self._codec_name.lower():
            return
        packet = av.Packet(encoded.data)
        packet.pts = encoded.timestamp
        packet.time_base = self._time_base
        # Audio packets are all independently decodable (VideoHub: keyframe=True).
        keyframe = is_vp8_keyframe(encoded.data) if self._codec_name == "VP8" else True
        self._hub.publish(packet, keyframe)
        if self._tap is not None:
            self._tap(encoded.data)


def attach_forwarder(
    receiver: RTCRtpReceiver, hub: VideoHub, tap: Callable[[bytes], None] | None = None
) -> None:
    """Forward `receiver`'s frames to `hub`, and the hub's keyframe requests as PLI upstream;
    `tap(frame bytes)` also sees each encoded frame (the host watching a co-host guest).

    Must be called before the receiver starts (in the peer connection's "track" handler).
    Raises RuntimeError if this aiortc version does not have the expected private queue.
    """
    if not isinstance(getattr(receiver, _QUEUE_ATTR, None), queue.Queue):
        raise RuntimeError("aiortc RTCRtpReceiver has no decoder queue to forward from")
    setattr(receiver, _QUEUE_ATTR, _ForwardingQueue(hub, tap=tap))

    def send_pli() -> None:
        for source in receiver.getSynchronizationSources():
            task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
            task.add_done_callback(log_failure("PLI to publisher"))

    hub.on_keyframe_request = send_pli


def attach_audio_forwarder(receiver: RTCRtpReceiver, hub: VideoHub) -> None:
    """Forward an audio `receiver`'s Opus packets to the audio `hub` (a co-host guest's voice),
    undecoded. Same contract as `attach_forwarder`."""
    if not isinstance(getattr(receiver, _QUEUE_ATTR, None), queue.Queue):
        raise RuntimeError("aiortc RTCRtpReceiver has no decoder queue to forward from")
    setattr(receiver, _QUEUE_ATTR, _ForwardingQueue(hub, codec_name="opus"))
