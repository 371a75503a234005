"""One realtime VP8 encoder, configured like aiortc's own but shared by every viewer.

The synthetic host encodes each captured frame exactly once with `Vp8Source` and hands the
resulting `av.Packet` to every viewer's sender, which only packetizes it (see `stack.fanout`).
"""

from __future__ import annotations

import fractions
import multiprocessing
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

__all__ = ["VIDEO_CLOCK_HZ", "Vp8Settings", "Vp8Source", "is_vp8_keyframe"]

VIDEO_CLOCK_HZ = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)


@dataclass(frozen=True)
class Vp8Settings:
    """Encoder settings: size in px, frame rate in fps, target bitrate in bit/s."""

    width: int = 640
    height: int = 360
    fps: int = 15
    bitrate: int = 300_000


def is_vp8_keyframe(data: bytes) -> bool:
    """True if `data` (a VP8 frame, RFC 6386 §9.1) is a keyframe: bit 0 of byte 0 is 0."""
    return bool(data) and (data[0] & 0x01) == 0


class Vp8Source:
    """Encodes yuv420p planes to VP8 packets; counts calls in `frames_encoded`."""

    def __init__(self, settings: Vp8Settings) -> None:
        self.settings = settings
        self.frames_encoded = 0
        codec = av.CodecContext.create("libvpx", "w")
        codec.width = settings.width
        codec.height = settings.height
        codec.bit_rate = settings.bitrate
        codec.pix_fmt = "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        # Keyframes come from `encode(keyframe=True)` (PLI and the periodic interval), not gop.
        codec.gop_size = 3000
        codec.qmin = 2
        codec.qmax = 56
        codec.options = {
            "bufsize": str(settings.bitrate),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(settings.bitrate),
            "maxrate": str(settings.bitrate),
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        codec.thread_count = 1 if multiprocessing.cpu_count() < 4 else 2
        self._codec = codec

    def encode(
        self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], pts: int, keyframe: bool
    ) -> list[Any]:
        """Encode one picture; `pts` in 90 kHz ticks. Returns the packets (usually one)."""
        s = self.settings
        frame = av.VideoFrame(s.width, s.height, "yuv420p")
        for plane, data in zip(frame.planes, planes, strict=True):
            _copy_plane(plane, data)
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        self.frames_encoded += 1
        packets = list(self._codec.encode(frame))
        for p in packets:
            p.time_base = VIDEO_TIME_BASE
        return packets


def _copy_plane(plane: av.video.plane.VideoPlane, data: np.ndarray) -> None:
    if plane.line_size == data.shape[1]:
        plane.update(np.ascontiguousarray(data).tobytes())
        return
    buf = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
    buf[:, : data.shape[1]] = data
    plane.update(buf.tobytes())
