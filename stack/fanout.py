"""Encode once, fan out: one room's encoded video goes packet-for-packet to every viewer.

A `VideoHub` receives each encoded VP8 frame once (from the synthetic host's single encoder or
from a WHIP publisher, already encoded) and puts the same `av.Packet` in every viewer's
`ForwardTrack`. aiortc's `RTCRtpSender`, given a track that yields packets instead of frames,
only packetizes them (`Encoder.pack`) — there is no per-viewer encoder. A new viewer skips delta
frames until the next keyframe; viewers' PLI/FIR requests reach the source through
`KeyframeLimiter`, so a room of 500 viewers does not turn into 500 keyframes; requests refused
inside the window are coalesced into one keyframe at its end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

__all__ = ["ForwardTrack", "HubStats", "KeyframeLimiter", "VideoHub"]

log = logging.getLogger(__name__)

# Frames a viewer may fall behind before it is cut back to the next keyframe (2 s at 15 fps).
VIEWER_QUEUE_FRAMES = 30


class KeyframeLimiter:
    """Lets a keyframe request through at most once per `min_interval_ms` (time as a parameter)."""

    def __init__(self, min_interval_ms: float = 500.0) -> None:
        self.min_interval_ms = min_interval_ms
        self._last_ms: float | None = None

    def allow(self, now_ms: float) -> bool:
        """True if a request arriving at `now_ms` should reach the source."""
        if self.wait_ms(now_ms) > 0:
            return False
        self._last_ms = now_ms
        return True

    def wait_ms(self, now_ms: float) -> float:
        """How long (ms) from `now_ms` until a request would be let through."""
        if self._last_ms is None:
            return 0.0
        return max(0.0, self.min_interval_ms - (now_ms - self._last_ms))


@dataclass
class HubStats:
    """Counters for /metrics: frames in from the source, frames handed to viewers, bytes."""

    frames_in: int = 0
    keyframes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    frames_dropped: int = 0
    keyframe_requests: int = 0
    keyframe_requests_sent: int = 0


def _loop_call_later(delay_s: float, fn: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_later(delay_s, fn)


class ForwardTrack(MediaStreamTrack):
    """A track that yields the hub's encoded packets (video or audio) to one RTCRtpSender."""

    def __init__(self, hub: VideoHub) -> None:
        super().__init__()
        self.kind = hub.kind
        self._hub = hub
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=VIEWER_QUEUE_FRAMES)
        self._need_keyframe = True

    def offer(self, packet: Any, keyframe: bool) -> bool:
        """Queue `packet` (an av.Packet) for this viewer; False if it was dropped."""
        if self._need_keyframe and not keyframe:
            return False
        if self._queue.full():
            # The sender fell 2 s behind: drop the backlog and restart at a keyframe rather
            # than deliver stale video.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._need_keyframe = True
            self._hub.request_keyframe()
            return False
        self._need_keyframe = False
        self._queue.put_nowait(packet)
        return True

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        self._hub.unsubscribe(self)
        if self._queue.empty():
            self._queue.put_nowait(None)


class VideoHub:
    """One room's video (or, with kind="audio", audio): one source, many `ForwardTrack`s.

    Audio packets are all independently decodable: publish them with keyframe=True.

    `clock_ms` returns the current time in ms (injected for tests). `on_keyframe_request` is set
    by the active source (synthetic host or WHIP publisher) and called at most once per
    `keyframe_min_interval_ms`.
    """

    def __init__(
        self,
        clock_ms: Callable[[], float],
        keyframe_min_interval_ms: float = 500.0,
        call_later: Callable[[float, Callable[[], None]], object] | None = None,
        kind: str = "video",
    ) -> None:
        self.kind = kind
        self._clock_ms = clock_ms
        self._limiter = KeyframeLimiter(keyframe_min_interval_ms)
        self._call_later = call_later or _loop_call_later
        self._deferred = False
        self._tracks: set[ForwardTrack] = set()
        self.on_keyframe_request: Callable[[], None] | None = None
        self.stats = HubStats()

    @property
    def viewer_count(self) -> int:
        return len(self._tracks)

    def subscribe(self) -> ForwardTrack:
        """A new viewer track; asks the source for a keyframe so the viewer starts soon."""
        track = ForwardTrack(self)
        self._tracks.add(track)
        self.request_keyframe()
        return track

    def unsubscribe(self, track: ForwardTrack) -> None:
        self._tracks.discard(track)

    def request_keyframe(self) -> None:
        """A viewer lost a picture or just joined (rate-limited towards the source)."""
        self.stats.keyframe_requests += 1
        if self.on_keyframe_request is None:
            return
        now = self._clock_ms()
        if self._limiter.allow(now):
            self.stats.keyframe_requests_sent += 1
            self.on_keyframe_request()
        elif not self._deferred:
            # Coalesce: one keyframe at the end of the window serves every request made during
            # it, so a viewer who joins just after another waits ≤ 500 ms, not a whole interval.
            self._deferred = True
            self._call_later(self._limiter.wait_ms(now) / 1000, self._fire_deferred)

    def _fire_deferred(self) -> None:
        self._deferred = False
        if self.on_keyframe_request is not None and self._limiter.allow(self._clock_ms()):
            self.stats.keyframe_requests_sent += 1
            self.on_keyframe_request()

    def publish(self, packet: Any, keyframe: bool) -> None:
        """Hand one encoded frame (av.Packet) to every viewer."""
        self.stats.frames_in += 1
        self.stats.keyframes_in += keyframe
        size = packet.size
        for track in list(self._tracks):
            if track.offer(packet, keyframe):
                self.stats.frames_out += 1
                self.stats.bytes_out += size
            else:
                self.stats.frames_dropped += 1

    def close(self) -> None:
        for track in list(self._tracks):
            track.stop()
