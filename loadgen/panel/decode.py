"""Probe viewers' decoder: VP8 → picture → barcode → glass-to-glass latency, off the loop.

Each probe viewer owns one `BarcodeDecoder`: a thread with its own libvpx context (decoding is
stateful per stream) fed through a queue. Decoding and reading the barcode happen in the thread,
so a busy event loop does not add to the measured latency; the receive time is read right after
the picture is decoded (that is when a player could show it). Results go back to the loop with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from loadgen.panel.receiver import FrameOut

__all__ = ["BarcodeDecoder", "DecodedFrame"]

log = logging.getLogger(__name__)

# (rtp timestamp, decoded-at wall ms, barcode ms or None)
DecodedFrame = tuple[int, float, int | None]


class BarcodeDecoder:
    """Decodes frames in a thread and reports ``on_decoded((rtp_ts, now_ms, barcode_ms))`` or
    ``on_error()`` (a frame the decoder rejected: the caller asks for a keyframe)."""

    def __init__(
        self,
        clock_ms: Callable[[], float],
        on_decoded: Callable[[DecodedFrame], None],
        on_error: Callable[[], None],
        name: str = "probe-decoder",
    ) -> None:
        self._clock_ms = clock_ms
        self._on_decoded = on_decoded
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[FrameOut | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, frame: FrameOut) -> None:
        """Queue one complete frame (its ``data`` must hold the VP8 bytes)."""
        self._queue.put(frame)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread after the frames already queued."""
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        # RuntimeError: the loop closed while we were decoding; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _run(self) -> None:
        import av

        from stack import barcode

        codec = av.CodecContext.create("libvpx", "r")
        while True:
            frame = self._queue.get()
            if frame is None:
                break
            try:
                pictures = codec.decode(av.Packet(frame.data))
            except av.FFmpegError as exc:
                log.debug("probe decoder rejected a frame: %s", exc)
                self._post(self._on_error)
                continue
            for picture in pictures:
                ts = barcode.decode(picture)
                self._post(self._on_decoded, (frame.timestamp, self._clock_ms(), ts))
