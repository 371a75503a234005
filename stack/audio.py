"""Optional synthetic audio: a 440 Hz beep once a second, Opus, encoded once for every viewer.

20 ms frames (960 samples at 48 kHz, stereo s16) go through one libopus encoder; each packet is
published to the room's audio hub and only packetized per viewer, like the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from typing import Any

import av
import numpy as np

from stack.fanout import VideoHub
from stack.tasks import spawn

__all__ = ["OpusSource", "SyntheticAudio"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class OpusSource:
    """Encodes frame `n` of the beep (sample clock pts) to Opus; counts encoder calls."""

    def __init__(self, bitrate: int = 32_000) -> None:
        codec = av.CodecContext.create("libopus", "w")
        codec.bit_rate = bitrate
        codec.format = "s16"
        codec.layout = "stereo"
        codec.sample_rate = SAMPLE_RATE
        codec.time_base = TIME_BASE
        self._codec: Any = codec
        self.frames_encoded = 0
        t = np.arange(SAMPLES_PER_FRAME) / SAMPLE_RATE
        tone = (0.2 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        self._beep = np.repeat(tone, 2).reshape(1, -1)  # interleaved stereo
        self._silence = np.zeros_like(self._beep)

    def encode(self, n: int) -> list[Any]:
        samples = self._beep if n % 50 < 5 else self._silence  # 100 ms beep every second
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = n * SAMPLES_PER_FRAME
        frame.time_base = TIME_BASE
        self.frames_encoded += 1
        packets = list(self._codec.encode(frame))
        for p in packets:
            p.time_base = TIME_BASE
        return packets


class SyntheticAudio:
    """Publishes Opus packets into `hub` every 20 ms while it has listeners."""

    def __init__(self, hub: VideoHub) -> None:
        self.hub = hub
        self.encoder = OpusSource()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = spawn(self._run(), "synthetic-audio")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = SAMPLES_PER_FRAME / SAMPLE_RATE
        start, n = loop.time(), 0
        while True:
            delay = start + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                start, n = loop.time(), 0  # stalled for a second: resynchronise, don't burst
            if self.hub.viewer_count:
                for packet in self.encoder.encode(n):
                    self.hub.publish(packet, True)
            n += 1
