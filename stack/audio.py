"""Optional synthetic audio: a 440 Hz beep once a second, Opus, encoded once for every viewer.

20 ms frames (960 samples at 48 kHz, stereo s16) go through one libopus encoder; each packet is
published to the room's audio hub and only packetized per viewer, like the video.

The beeps are timestamped by the wall clock: frames sit on a 20 ms grid of epoch ms and a beep
(100 ms) starts at every whole second (epoch ms divisible by 1000). A listener that hears a
beep's onset at wall time H knows it left the host at H − (H mod 1000): the audio latency is
H mod 1000 ms (unambiguous below 1 s), as a co-host guest measures it (`cohost_audio_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np

from stack.fanout import VideoHub
from stack.tasks import spawn

__all__ = ["OpusSource", "SyntheticAudio"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 960  # 20 ms
FRAME_MS = 20
BEEP_EVERY_MS = 1000
BEEP_MS = 100


def _wall_ms() -> float:
    return time.time() * 1000.0


def is_beep(frame_wall_ms: int) -> bool:
    """Whether the 20 ms frame starting at `frame_wall_ms` (on the 20 ms grid) is beeping."""
    return frame_wall_ms % BEEP_EVERY_MS < BEEP_MS


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

    def encode(self, n: int, beep: bool | None = None) -> list[Any]:
        """Frame `n`; `beep` says whether it beeps (default: 100 ms of every 50 frames)."""
        if beep is None:
            beep = n % 50 < 5
        samples = self._beep if beep else self._silence
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

    def __init__(self, hub: VideoHub, clock_ms: Callable[[], float] = _wall_ms) -> None:
        self.hub = hub
        self._clock_ms = clock_ms
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

    async def _aligned_start(self) -> tuple[float, int]:
        """(loop time, wall ms) of the next 20 ms boundary of the wall clock, once reached."""
        loop = asyncio.get_running_loop()
        wall = self._clock_ms()
        await asyncio.sleep((FRAME_MS - wall % FRAME_MS) / 1000)
        return loop.time(), round(self._clock_ms() / FRAME_MS) * FRAME_MS

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = SAMPLES_PER_FRAME / SAMPLE_RATE
        start, wall0 = await self._aligned_start()
        n = 0
        while True:
            delay = start + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                # Stalled for a second: resynchronise to the wall grid, don't burst.
                (start, wall0), n = await self._aligned_start(), 0
            if self.hub.viewer_count:
                for packet in self.encoder.encode(n, is_beep(wall0 + n * FRAME_MS)):
                    self.hub.publish(packet, True)
            n += 1
