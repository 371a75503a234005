"""The built-in synthetic host: 360p15 VP8 with moving content and a capture-time barcode.

Each frame is rendered with the wall-clock capture time in its barcode, encoded exactly once by
one `Vp8Source`, and published to the room's `VideoHub`. A keyframe is forced every
`keyframe_interval_s` (bounds a new viewer's time to first frame) and when a viewer asks (PLI,
rate-limited by the hub). With no viewers in the room the host keeps time but encodes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stack.fanout import VideoHub
from stack.picture import PictureSource
from stack.tasks import spawn
from stack.vp8 import VIDEO_CLOCK_HZ, Vp8Settings, Vp8Source, is_vp8_keyframe

__all__ = ["SyntheticHost"]

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    """Capture time as the barcode carries it: ms since the Unix epoch."""
    return int(time.time() * 1000)


class SyntheticHost:
    """Publishes frames into `hub` at `settings.fps` until `stop()`."""

    def __init__(
        self,
        hub: VideoHub,
        settings: Vp8Settings | None = None,
        keyframe_interval_s: float = 2.0,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.hub = hub
        self.settings = settings or Vp8Settings()
        self.keyframe_interval_s = keyframe_interval_s
        self._clock_ms = clock_ms
        self.encoder = Vp8Source(self.settings)
        self.picture = PictureSource(self.settings.width, self.settings.height)
        self._keyframe_wanted = True
        self._task: asyncio.Task[None] | None = None
        # One worker thread: libvpx releases the GIL, so encoding does not stall the event loop,
        # and frames stay in order.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthetic-vp8")
        hub.on_keyframe_request = self.request_keyframe

    @property
    def frames_encoded(self) -> int:
        """Encoder calls so far: one per frame, whatever the number of viewers."""
        return self.encoder.frames_encoded

    def request_keyframe(self) -> None:
        self._keyframe_wanted = True

    def start(self) -> None:
        self._task = spawn(self._run(), "synthetic-host")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.hub.on_keyframe_request == self.request_keyframe:
            self.hub.on_keyframe_request = None
        self._pool.shutdown(wait=True)

    def _encode(self, n: int, ts_ms: int, t0_ms: int, keyframe: bool) -> list[object]:
        planes = self.picture.render(n, ts_ms)
        pts = (ts_ms - t0_ms) * VIDEO_CLOCK_HZ // 1000
        return list(self.encoder.encode(planes, pts, keyframe))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.settings.fps
        start = loop.time()
        t0_ms = self._clock_ms()
        last_key = -1e9
        n = 0
        while True:
            due = start + n * period
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                # More than a second late (a stalled machine): resynchronise, don't burst.
                start, n = loop.time(), 0
            now = loop.time()
            if self.hub.viewer_count == 0:
                # Nobody watching: don't spend a core-percent per room encoding for no one. The
                # first frame after someone joins is a keyframe, so they start at once.
                self._keyframe_wanted = True
                n += 1
                continue
            keyframe = self._keyframe_wanted or now - last_key >= self.keyframe_interval_s
            self._keyframe_wanted = False
            if keyframe:
                last_key = now
            ts_ms = self._clock_ms()
            try:
                packets = await loop.run_in_executor(
                    self._pool, self._encode, n, ts_ms, t0_ms, keyframe
                )
            except ValueError:
                log.exception("synthetic host: could not encode frame %d", n)
                packets = []
            for packet in packets:
                self.hub.publish(packet, is_vp8_keyframe(bytes(packet)))  # type: ignore[call-overload]
            n += 1
