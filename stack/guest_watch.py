"""The host watching a co-host guest: decode the guest's video, read both barcode bands.

A guest's frame carries its capture time in band 0 and, in band 1, the newest host stamp the
guest had seen when it captured the frame (`stack.barcode`, docs/protocol.md "Co-host"). The
stack plays the host, so it decodes every guest frame once (one worker thread per guest; libvpx
releases the GIL) and, at the time the frame is decoded (the host "sees" it, T2):

* ``guest_to_host_ms`` = T2 − band 0 (guest glass → host glass);
* ``rtt_ms`` = T2 − band 1 (T1, the host frame the guest answered), taken at the *first* guest
  frame echoing a given T1: host frame shown to the guest → the guest's answer shown to the host.

All times are wall-clock epoch ms (`clock_ms`, injected): the guest runs on the same machine
clock. Sample lists are bounded (`MAX_SAMPLES`, the newest kept) so a long call cannot grow
without limit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import av

from stack import barcode

__all__ = ["GuestWatcher"]

log = logging.getLogger(__name__)

MAX_SAMPLES = 20_000
# Frames waiting for the decoder at most; past this the watcher is behind (a loaded machine)
# and drops the oldest rather than report figures that grow with its own backlog.
MAX_QUEUED = 30


def _wall_ms() -> float:
    return time.time() * 1000.0


class GuestWatcher:
    """Decodes one guest's VP8 frames in a worker thread; keeps the latency samples."""

    def __init__(self, clock_ms: Callable[[], float] = _wall_ms) -> None:
        self._clock_ms = clock_ms
        # (wall ms when the host saw the frame, latency ms)
        self.guest_to_host_ms: deque[tuple[float, float]] = deque(maxlen=MAX_SAMPLES)
        self.rtt_ms: deque[tuple[float, float]] = deque(maxlen=MAX_SAMPLES)
        self.frames_in = 0  # encoded frames received (the liveness counter, event-loop side)
        self.frames_decoded = 0
        self.unreadable = 0
        self.dropped = 0
        self._last_echo = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="guest-watch", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        """One encoded frame from the guest (called on the event loop, never blocks)."""
        self.frames_in += 1
        if self._queue.qsize() >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.put(data)

    def close(self) -> None:
        """Stop the worker (returns at once; the thread ends after its current frame)."""
        self._queue.put(None)

    def figures(self) -> dict[str, object]:
        """What the host saw of this guest, as JSON: [wall ms, latency ms] pairs and counters."""
        return {
            "guest_to_host_ms": [[round(t), round(v, 1)] for t, v in self.guest_to_host_ms],
            "rtt_ms": [[round(t), round(v, 1)] for t, v in self.rtt_ms],
            "frames_in": self.frames_in,
            "frames_decoded": self.frames_decoded,
            "unreadable": self.unreadable,
            "dropped": self.dropped,
        }

    def _work(self) -> None:
        decoder = av.CodecContext.create("vp8", "r")
        while True:
            data = self._queue.get()
            if data is None:
                return
            try:
                frames = decoder.decode(av.Packet(data))
            except av.FFmpegError:
                self.unreadable += 1  # a frame before the first keyframe, or damaged
                continue
            for frame in frames:
                self._read(frame)

    def _read(self, frame: av.VideoFrame) -> None:
        now = self._clock_ms()
        self.frames_decoded += 1
        own = barcode.decode(frame, band=0)
        if own is None:
            self.unreadable += 1
            return
        self.guest_to_host_ms.append((now, now - own))
        echo = barcode.decode(frame, band=1)
        if echo and echo != self._last_echo:
            self._last_echo = echo
            self.rtt_ms.append((now, now - echo))
