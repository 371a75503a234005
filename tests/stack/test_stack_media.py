"""WHEP/WHIP with real aiortc peer connections on 127.0.0.1: barcodes, encode-once, SDP errors."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import av
import pytest
from aiortc import VideoStreamTrack

from loadgen.panel import WhepViewer
from stack import WhipPublisher
from stack.fanout import VideoHub
from stack.picture import PictureSource
from stack.testing import running_stack_server

ROOM = "demo"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


async def until(cond: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s} s for {what}")
        await asyncio.sleep(0.05)


def test_keyframe_requests_are_rate_limited() -> None:
    now = [0.0]
    deferred: list[tuple[float, Callable[[], None]]] = []
    hub = VideoHub(
        lambda: now[0],
        keyframe_min_interval_ms=500,
        call_later=lambda delay_s, fn: deferred.append((now[0] + delay_s * 1000, fn)),
    )
    sent: list[float] = []
    hub.on_keyframe_request = lambda: sent.append(now[0])
    for t in range(0, 2000, 10):  # a PLI storm: one every 10 ms for 2 s
        now[0] = float(t)
        while deferred and deferred[0][0] <= now[0]:
            deferred.pop(0)[1]()
        hub.request_keyframe()
    assert sent == [0.0, 500.0, 1000.0, 1500.0]
    assert hub.stats.keyframe_requests == 200


def test_refused_keyframe_request_is_served_at_window_end() -> None:
    now = [0.0]
    deferred: list[tuple[float, Callable[[], None]]] = []
    hub = VideoHub(
        lambda: now[0],
        keyframe_min_interval_ms=500,
        call_later=lambda delay_s, fn: deferred.append((now[0] + delay_s * 1000, fn)),
    )
    sent: list[float] = []
    hub.on_keyframe_request = lambda: sent.append(now[0])
    hub.request_keyframe()  # viewer 1 joins at 0 ms
    now[0] = 120.0
    hub.request_keyframe()  # viewer 2 joins at 120 ms: refused, deferred to 500 ms
    hub.request_keyframe()  # viewer 3 too: coalesced into the same deferred request
    assert [at for at, _ in deferred] == [500.0]
    now[0] = 500.0
    deferred.pop()[1]()
    assert sent == [0.0, 500.0]


@pytest.mark.slow
def test_whep_viewer_decodes_barcodes_over_loopback_only() -> None:
    async def main() -> None:
        async with running_stack_server(host="synthetic") as server, aiohttp.ClientSession() as s:
            viewer = WhepViewer(f"{server.base_url}/whep/{ROOM}", decode=True)
            await viewer.start(s)
            try:
                await until(lambda: len(viewer.stats.g2g_ms) >= 15, what="15 decoded frames")
                assert viewer.stats.unreadable == 0
                assert all(0 <= g < 1000 for g in viewer.stats.g2g_ms)
                answer = viewer.pc.remoteDescription.sdp
                candidates = [ln for ln in answer.splitlines() if ln.startswith("a=candidate")]
                assert candidates and all(
                    " 127.0.0.1 " in c and "typ host" in c for c in candidates
                )
                offer = viewer.pc.localDescription.sdp
                assert all(" 127.0.0.1 " in ln for ln in offer.splitlines() if "a=candidate" in ln)
                assert server.media.viewer_count() == 1
            finally:
                await viewer.close(s)
            await until(lambda: server.media.viewer_count() == 0, what="session cleanup")

    run(main())


@pytest.mark.slow
def test_encode_once_for_many_viewers() -> None:
    async def main() -> None:
        async with running_stack_server(host="synthetic") as server, aiohttp.ClientSession() as s:
            url = f"{server.base_url}/whep/{ROOM}"
            viewers = [WhepViewer(url, decode=(i == 0)) for i in range(6)]
            for v in viewers:
                await v.start(s)
            try:
                await until(lambda: all(v.stats.frames >= 5 for v in viewers), what="all viewers")
                hub, host = server.media.hubs[ROOM], server.host
                enc0, in0, out0 = host.frames_encoded, hub.stats.frames_in, hub.stats.frames_out
                await asyncio.sleep(2.0)
                encoded = host.frames_encoded - enc0
                published = hub.stats.frames_in - in0
                forwarded = hub.stats.frames_out - out0
                # 15 fps for 2 s: ~30 encoder calls whether 1 viewer or 6 ...
                assert 20 <= encoded <= 34
                assert abs(published - encoded) <= 1
                # ... and every one of those frames went to all six viewers.
                assert abs(forwarded - 6 * published) <= 6
                assert server.media.stats.rtp_packets_sent > 6 * 30
            finally:
                for v in viewers:
                    await v.close(s)

    run(main())


@pytest.mark.slow
def test_delete_ends_session() -> None:
    async def main() -> None:
        async with running_stack_server(host="synthetic") as server, aiohttp.ClientSession() as s:
            viewer = WhepViewer(f"{server.base_url}/whep/{ROOM}", decode=False)
            await viewer.start(s)
            assert viewer.location and viewer.location.startswith(f"{server.base_url}/whep/{ROOM}/")
            await until(lambda: viewer.stats.frames > 0, what="first frame")
            async with s.delete(viewer.location) as resp:
                assert resp.status == 200
            assert server.media.viewer_count() == 0
            async with s.delete(viewer.location) as resp:
                assert resp.status == 404
            await viewer.close()

    run(main())


@pytest.mark.slow
def test_invalid_offers_are_refused_with_reason() -> None:
    async def main() -> None:
        async with running_stack_server(host="none") as server, aiohttp.ClientSession() as s:
            url = f"{server.base_url}/whep/{ROOM}"
            sdp = {"Content-Type": "application/sdp"}
            cases = [
                (b"hello", sdp, 400),
                (b"v=0\r\nthis is not sdp\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", sdp, 400),
                (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP 0\r\n", sdp, 400),
                (b"v=0", {"Content-Type": "text/plain"}, 415),
                (b"v=0" + b"x" * 70_000, sdp, 413),
            ]
            for body, headers, status in cases:
                async with s.post(url, data=body, headers=headers) as resp:
                    assert resp.status == status, await resp.text()
                    error = (await resp.json())["error"]
                    assert error["code"] and error["message"]
            async with s.get(f"{server.base_url}/healthz") as resp:
                assert resp.status == 200
            assert server.media.sessions == {}

    run(main())


class BarcodeTrack(VideoStreamTrack):
    """A publisher's camera: moving picture with the capture time in the barcode."""

    def __init__(self) -> None:
        super().__init__()
        self.picture = PictureSource()
        self.sent: list[int] = []
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        ts = int(time.time() * 1000)
        frame = av.VideoFrame(640, 360, "yuv420p")
        for plane, data in zip(frame.planes, self.picture.render(self.n, ts), strict=True):
            plane.update(data.tobytes())
        frame.pts, frame.time_base = pts, fractions.Fraction(time_base)
        self.n += 1
        self.sent.append(ts)
        return frame


@pytest.mark.slow
def test_whip_publisher_reaches_whep_viewer() -> None:
    async def main() -> None:
        async with running_stack_server(host="none") as server, aiohttp.ClientSession() as s:
            track = BarcodeTrack()
            publisher = WhipPublisher(f"{server.base_url}/whip/live2", track)
            await publisher.start(s)
            viewer = WhepViewer(f"{server.base_url}/whep/live2", decode=True)
            try:
                await viewer.start(s)
                await until(lambda: len(viewer.stats.g2g_ms) >= 10, what="forwarded frames")
                assert viewer.stats.unreadable == 0
                # The stack forwarded the publisher's frames (not re-encoded them): what the
                # viewer read is exactly what the publisher stamped.
                assert set(viewer.stats.stamps) <= set(track.sent)
                assert viewer.stats.stamps == sorted(viewer.stats.stamps)
                assert server.media.hubs["live2"].stats.frames_in > 0
                second = WhipPublisher(f"{server.base_url}/whip/live2", BarcodeTrack())
                with pytest.raises(RuntimeError, match="409"):
                    await second.start(s)
                await second.close()
            finally:
                await viewer.close(s)
                await publisher.close()

    run(main())


@pytest.mark.slow
def test_optional_opus_audio_is_encoded_once() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="synthetic", audio=True) as server,
            aiohttp.ClientSession() as s,
        ):
            url = f"{server.base_url}/whep/{ROOM}"
            viewers = [WhepViewer(url, decode=False, audio=True) for _ in range(3)]
            for v in viewers:
                await v.start(s)
            try:
                await until(lambda: all(v.audio_stats.packets >= 10 for v in viewers), what="audio")
                enc0 = server.audio.encoder.frames_encoded
                got0 = [v.audio_stats.packets for v in viewers]
                await asyncio.sleep(1.0)
                encoded = server.audio.encoder.frames_encoded - enc0
                assert 35 <= encoded <= 60  # 50 frames/s, once for all three listeners
                for v, before in zip(viewers, got0, strict=True):
                    assert v.audio_stats.packets - before >= encoded - 10
                    assert v.stats.frames > 0  # video still flows beside the audio
            finally:
                for v in viewers:
                    await v.close(s)

    run(main())


@pytest.mark.slow
@pytest.mark.parametrize("part", ["interval", "pli"])
def test_keyframe_interval_and_viewer_pli_reach_the_single_encoder(part: str) -> None:
    interval_s = 1.0 if part == "interval" else 60.0

    async def main() -> None:
        async with (
            running_stack_server(host="synthetic", keyframe_interval_s=interval_s) as server,
            aiohttp.ClientSession() as s,
        ):
            viewer = WhepViewer(f"{server.base_url}/whep/{ROOM}", decode=True)
            await viewer.start(s)
            try:
                await until(lambda: viewer.stats.frames >= 5, what="frames")
                hub = server.media.hubs[ROOM]
                k0, r0 = hub.stats.keyframes_in, hub.stats.keyframe_requests
                if part == "interval":  # one keyframe a second without any request
                    await asyncio.sleep(3.0)
                    assert 2 <= hub.stats.keyframes_in - k0 <= 4
                    assert hub.stats.keyframe_requests == r0
                    return
                await asyncio.sleep(0.6)  # leave the rate-limit window of the join request
                assert hub.stats.keyframes_in == k0  # no periodic keyframe in this run
                # A real RTCP PLI from the viewer reaches the room's one encoder via the hub.
                receiver = viewer.pc.getTransceivers()[0].receiver
                await receiver._send_rtcp_pli(receiver.getSynchronizationSources()[0].source)
                await until(lambda: hub.stats.keyframes_in == k0 + 1, timeout_s=2, what="keyframe")
                assert hub.stats.keyframe_requests == r0 + 1
            finally:
                await viewer.close(s)

    run(main())
