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
from typing import Any

import av
from aiortc import RTCRtpReceiver

from stack.fanout import VideoHub
from stack.tasks import log_failure
from stack.vp8 import VIDEO_CLOCK_HZ, is_vp8_keyframe

__all__ = ["attach_forwarder"]

_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"


class _ForwardingQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: forwards frames, passes the stop marker."""

    def __init__(self, hub: VideoHub) -> None:
        super().__init__()
        self._hub = hub

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping: let the (idle) decoder thread end
            super().put(None, block, timeout)
            return
        codec, encoded = item
        if codec.name != "VP8":
            return
        packet = av.Packet(encoded.data)
        packet.pts = encoded.timestamp
        packet.time_base = _TIME_BASE
        self._hub.publish(packet, is_vp8_keyframe(encoded.data))


def attach_forwarder(receiver: RTCRtpReceiver, hub: VideoHub) -> None:
    """Forward `receiver`'s frames to `hub`, and the hub's keyframe requests as PLI upstream.

    Must be called before the receiver starts (in the peer connection's "track" handler).
    Raises RuntimeError if this aiortc version does not have the expected private queue.
    """
    if not isinstance(getattr(receiver, _QUEUE_ATTR, None), queue.Queue):
        raise RuntimeError("aiortc RTCRtpReceiver has no decoder queue to forward from")
    setattr(receiver, _QUEUE_ATTR, _ForwardingQueue(hub))

    def send_pli() -> None:
        for source in receiver.getSynchronizationSources():
            task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
            task.add_done_callback(log_failure("PLI to publisher"))

    hub.on_keyframe_request = send_pli
