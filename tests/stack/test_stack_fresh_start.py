"""A new WHEP viewer starts at a fresh keyframe, never with the backlog of its handshake.

The viewer's `ForwardTrack` exists from the WHEP POST, but its sender pulls only once ICE and DTLS
are up. Unit tests drive the track with explicit frames and hub times; the slow test puts a real
decoding viewer behind 200 ms of RTT and reads the barcode of its first frame.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from loadgen.panel import WhepViewer
from netem_profiles.datagram import impair_endpoint
from netem_profiles.model import Direction, Profile
from stack.fanout import VIEWER_QUEUE_FRAMES, ForwardTrack, VideoHub
from stack.testing import running_stack_server

FRAME_MS = 67.0  # 15 fps


class Clocked:
    """A hub on a hand-driven clock; keyframe requests (and deferred ones) are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.deferred: list[tuple[float, Callable[[], None]]] = []
        self.requests: list[float] = []
        self.hub = VideoHub(
            lambda: self.now,
            keyframe_min_interval_ms=500,
            call_later=lambda delay_s, fn: self.deferred.append((self.now + delay_s * 1000, fn)),
        )
        self.hub.on_keyframe_request = lambda: self.requests.append(self.now)

    def publish(self, at_ms: float, name: str, keyframe: bool) -> Any:
        self.now = at_ms
        while self.deferred and self.deferred[0][0] <= self.now:
            self.deferred.pop(0)[1]()
        packet = av.Packet(name.encode())
        self.hub.publish(packet, keyframe)
        return packet


async def pull(track: ForwardTrack) -> bytes:
    return bytes(await asyncio.wait_for(track.recv(), 1.0))


async def first_pull(track: ForwardTrack) -> asyncio.Task[Any]:
    """Start the sender's first recv() and let it run up to its wait."""
    task = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    return task


async def result(task: asyncio.Task[Any]) -> bytes:
    return bytes(await asyncio.wait_for(task, 1.0))


def test_stale_start_is_dropped_for_a_fresh_keyframe() -> None:
    async def main() -> None:
        c = Clocked()
        track = c.hub.subscribe()  # WHEP POST at 0 ms
        assert c.requests == []  # nothing asked yet: a keyframe now would be stale at connect
        c.publish(10, "k0", keyframe=True)  # e.g. the periodic keyframe, during the handshake
        for i in range(1, 6):
            c.publish(10 + i * FRAME_MS, f"d{i}", keyframe=False)
        assert track.queued == 6
        # ICE + DTLS up at 420 ms (100 ms RTT): k0 is 410 ms old → drop it all, ask for a keyframe.
        c.now = 420
        task = await first_pull(track)
        assert track.queued == 0 and c.requests == [420]
        assert c.hub.stats.stale_starts == 1
        c.publish(430, "d6", keyframe=False)  # the encoder's frame in flight: not decodable alone
        c.publish(497, "k1", keyframe=True)  # the requested keyframe
        c.publish(564, "d7", keyframe=False)
        assert await result(task) == b"k1"
        assert await pull(track) == b"d7"
        assert track.queued == 0  # nothing from before the connection was ever delivered

    asyncio.run(main())


def test_before_connect_only_the_newest_keyframe_on_is_kept() -> None:
    async def main() -> None:
        c = Clocked()
        track = c.hub.subscribe()
        c.publish(0, "k0", keyframe=True)
        c.publish(67, "d1", keyframe=False)
        c.publish(134, "k1", keyframe=True)  # newer keyframe: k0 and d1 are useless now
        c.publish(201, "d2", keyframe=False)
        assert track.queued == 2
        # Connected 40 ms after k1 at a 15 fps cadence: k1 is fresh enough, start right there.
        c.now = 174
        task = await first_pull(track)
        assert await result(task) == b"k1"
        assert await pull(track) == b"d2"
        assert c.requests == [] and c.hub.stats.stale_starts == 0

    asyncio.run(main())


def test_first_pull_with_nothing_queued_asks_for_a_keyframe() -> None:
    async def main() -> None:
        c = Clocked()
        track = c.hub.subscribe()
        c.publish(0, "d0", keyframe=False)  # joined mid-GOP: skipped
        c.now = 30
        task = await first_pull(track)
        assert c.requests == [30]
        c.publish(67, "k1", keyframe=True)
        assert await result(task) == b"k1"

    asyncio.run(main())


def test_many_viewers_connecting_together_cost_one_keyframe_and_one_encode() -> None:
    async def main() -> None:
        c = Clocked()
        tracks = [c.hub.subscribe() for _ in range(5)]
        c.publish(0, "k0", keyframe=True)
        c.now = 400
        tasks = [asyncio.ensure_future(t.recv()) for t in tracks]
        await asyncio.sleep(0)
        assert c.requests == [400]  # one request reaches the encoder, the rest are rate-limited
        key = c.publish(467, "k1", keyframe=True)
        # The same encoded packet object went to every viewer: no per-viewer copy or encode.
        assert all(got is key for got in await asyncio.wait_for(asyncio.gather(*tasks), 1.0))
        assert c.hub.stats.frames_in == 2 and c.hub.stats.frames_out == 5 + 5

    asyncio.run(main())


def test_connected_viewer_that_falls_behind_restarts_at_a_keyframe() -> None:
    async def main() -> None:
        c = Clocked()
        track = c.hub.subscribe()
        c.publish(0, "k0", keyframe=True)
        assert await pull(track) == b"k0"  # connected
        for i in range(1, VIEWER_QUEUE_FRAMES + 1):
            c.publish(i * FRAME_MS, f"d{i}", keyframe=False)
        assert track.queued == VIEWER_QUEUE_FRAMES
        c.publish((VIEWER_QUEUE_FRAMES + 1) * FRAME_MS, "late", keyframe=False)
        assert track.queued == 0 and len(c.requests) == 1
        c.publish((VIEWER_QUEUE_FRAMES + 2) * FRAME_MS, "k2", keyframe=True)
        assert await pull(track) == b"k2"

    asyncio.run(main())


def test_stopped_track_ends_a_pending_recv() -> None:
    async def main() -> None:
        c = Clocked()
        track = c.hub.subscribe()
        task = await first_pull(track)
        track.stop()
        with pytest.raises(MediaStreamError):
            await result(task)
        assert c.hub.viewer_count == 0

    asyncio.run(main())


RTT_MS = 200.0


def _behind_rtt(pc: RTCPeerConnection) -> None:
    """Put the viewer's ICE sockets behind RTT_MS (half each way), STUN checks and DTLS included."""
    profile = Profile(
        name="rtt", down=Direction(delay_ms=RTT_MS / 2), up=Direction(delay_ms=RTT_MS / 2)
    )
    loop = asyncio.get_running_loop()
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for protocol in list(connection._protocols):
            impair_endpoint(protocol.transport, protocol, profile, loop, rng=random.Random(7))


@pytest.mark.slow
def test_viewer_behind_rtt_gets_a_fresh_first_frame() -> None:
    """Before the fix the first frame was as old as the handshake (~3 RTT): ≈ 700 ms here."""

    async def main() -> None:
        async with running_stack_server(host="synthetic") as server, aiohttp.ClientSession() as s:
            viewer = WhepViewer(f"{server.base_url}/whep/demo", decode=True, marker_frames=True)
            try:
                await viewer.start(s, on_gathered=_behind_rtt)
                deadline = time.monotonic() + 20
                while len(viewer.stats.g2g_ms) < 15:
                    assert time.monotonic() < deadline, "15 decoded frames within 20 s"
                    await asyncio.sleep(0.05)
                assert viewer.stats.unreadable == 0
                first, later = viewer.stats.g2g_ms[0], statistics.median(viewer.stats.g2g_ms[5:])
                assert later >= RTT_MS / 2  # the impairment really was in the path
                assert first <= later + 120, (first, later)  # fresh, not a handshake old
                assert server.media.hubs["demo"].stats.stale_starts == 1
            finally:
                await viewer.close(s)

    asyncio.run(asyncio.wait_for(main(), 60))
