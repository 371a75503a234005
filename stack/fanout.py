"""Encode once, fan out: one room's encoded video goes packet-for-packet to every viewer.

A `VideoHub` receives each encoded VP8 frame once (from the synthetic host's single encoder or
from a WHIP publisher, already encoded) and puts the same `av.Packet` in every viewer's
`ForwardTrack`. aiortc's `RTCRtpSender`, given a track that yields packets instead of frames,
only packetizes them (`Encoder.pack`) — there is no per-viewer encoder. A new viewer starts at a
fresh keyframe: when its sender first pulls (ICE and DTLS up), anything queued since the WHEP
POST that is older than `fresh_start_ms` is dropped and the source is asked for a keyframe.
Viewers' join and PLI/FIR requests reach the source through `KeyframeLimiter`, so a room of 500
viewers does not turn into 500 keyframes; requests refused inside the window are coalesced into
one keyframe at its end.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

__all__ = ["ForwardTrack", "HubStats", "KeyframeLimiter", "VideoHub"]

log = logging.getLogger(__name__)

# Frames a viewer may fall behind before it is cut back to the next keyframe (2 s at 15 fps).
VIEWER_QUEUE_FRAMES = 30
# A new viewer's first frame may be this old (ms) when its sender first pulls; anything older is
# dropped for a new keyframe. ~1.5 frame intervals at 15 fps: a keyframe made during a loopback
# handshake is kept, one from the start of a 100 ms-RTT handshake (~300 ms) is not.
FRESH_START_MS = 100.0


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
    stale_starts: int = 0  # viewers whose queued start was too old when their sender first pulled
    keyframe_requests: int = 0
    keyframe_requests_sent: int = 0


def _loop_call_later(delay_s: float, fn: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_later(delay_s, fn)


class ForwardTrack(MediaStreamTrack):
    """A track that yields the hub's encoded packets (video or audio) to one RTCRtpSender.

    A viewer's track exists from its WHEP POST, but its sender pulls only once ICE and DTLS are
    up, a few round trips later. Until then the track keeps only the frames from the newest
    keyframe on; at the first pull, if even that keyframe is older than the hub's
    `fresh_start_ms`, it drops them all and asks the room's encoder for a new keyframe, so a
    viewer starts at a current picture, as an SFU does, never with a backlog as old as its
    handshake.
    """

    def __init__(self, hub: VideoHub) -> None:
        super().__init__()
        self.kind = hub.kind
        self._hub = hub
        self._frames: deque[tuple[float, Any]] = deque()  # (hub time in ms, av.Packet)
        self._ready = asyncio.Event()
        self._need_keyframe = True
        self._pulling = False

    @property
    def queued(self) -> int:
        """Frames waiting for the sender."""
        return len(self._frames)

    @property
    def pulling(self) -> bool:
        """True once the sender has asked for its first frame (the viewer is connected)."""
        return self._pulling

    def offer(self, packet: Any, keyframe: bool, now_ms: float) -> bool:
        """Queue `packet` (an av.Packet published at hub time `now_ms`); False if dropped."""
        if self._need_keyframe and not keyframe:
            return False
        if keyframe and not self._pulling:
            # Not connected yet: a newer keyframe makes everything queued before it useless.
            self._drop_queued()
        elif len(self._frames) >= VIEWER_QUEUE_FRAMES:
            # The sender fell 2 s behind: drop the backlog and restart at a keyframe rather
            # than deliver stale video. (Before the first pull, that pull will ask for one.)
            self._drop_queued()
            self._need_keyframe = True
            if self._pulling:
                self._hub.request_keyframe()
            return False
        self._need_keyframe = False
        self._frames.append((now_ms, packet))
        self._ready.set()
        return True

    def _drop_queued(self) -> None:
        self._hub.stats.frames_dropped += len(self._frames)
        self._frames.clear()

    def _start_fresh(self) -> None:
        """First pull: keep the queue only if its keyframe is younger than fresh_start_ms."""
        if self._frames and self._hub.now_ms() - self._frames[0][0] <= self._hub.fresh_start_ms:
            return
        self._drop_queued()
        self._need_keyframe = True
        self._hub.stats.stale_starts += 1
        self._hub.request_keyframe()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._pulling:
            self._pulling = True
            self._start_fresh()
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
            if self.readyState != "live":
                raise MediaStreamError
        return self._frames.popleft()[1]

    def stop(self) -> None:
        super().stop()
        self._hub.unsubscribe(self)
        self._ready.set()  # wake a pending recv(), which then raises MediaStreamError


class VideoHub:
    """One room's video (or, with kind="audio", audio): one source, many `ForwardTrack`s.

    Audio packets are all independently decodable: publish them with keyframe=True.

    `clock_ms` returns the current time in ms (injected for tests). `on_keyframe_request` is set
    by the active source (synthetic host or WHIP publisher) and called at most once per
    `keyframe_min_interval_ms`. `fresh_start_ms` is how old (ms) a new viewer's first queued
    frame may be when its sender first pulls (see `ForwardTrack`).
    """

    def __init__(
        self,
        clock_ms: Callable[[], float],
        keyframe_min_interval_ms: float = 500.0,
        call_later: Callable[[float, Callable[[], None]], object] | None = None,
        kind: str = "video",
        fresh_start_ms: float = FRESH_START_MS,
    ) -> None:
        self.kind = kind
        self.fresh_start_ms = fresh_start_ms
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

    def now_ms(self) -> float:
        """The hub's clock, ms."""
        return self._clock_ms()

    def subscribe(self) -> ForwardTrack:
        """A new viewer track. Its keyframe is asked for when its sender first pulls, not now:
        a keyframe made during the viewer's handshake would be stale by the time it is sent."""
        track = ForwardTrack(self)
        self._tracks.add(track)
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
        now = self._clock_ms()
        for track in list(self._tracks):
            if track.offer(packet, keyframe, now):
                self.stats.frames_out += 1
                self.stats.bytes_out += size
            else:
                self.stats.frames_dropped += 1

    def close(self) -> None:
        for track in list(self._tracks):
            track.stop()
