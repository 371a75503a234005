"""`livelab host`: the barcode host published by WHIP into the reference stack, and as plain RTP."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import av
import pytest
from aiortc.codecs.vpx import vp8_depayload
from aiortc.rtp import RtpPacket

from loadgen.panel import WhepViewer
from stack import barcode
from stack.testing import start_stack_process, stop_stack_process
from stack.vp8 import is_vp8_keyframe


def _host(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "livelab", "host", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


@pytest.mark.slow
def test_host_whip_into_the_reference_stack_is_read_by_a_whep_viewer() -> None:
    stack, base = start_stack_process(["--host", "none"], timeout_s=30)
    host = _host("--whip", f"{base}/whip/ext", "--duration", "60s")
    try:

        async def watch() -> WhepViewer:
            async with aiohttp.ClientSession() as session:
                viewer = None
                deadline = time.monotonic() + 30
                # The room has a publisher only once the host's POST is through: retry the
                # viewer until frames arrive (bounded by the deadline).
                while time.monotonic() < deadline:
                    viewer = WhepViewer(f"{base}/whep/ext", decode=True)
                    await viewer.start(session)
                    for _ in range(100):
                        if len(viewer.stats.g2g_ms) >= 10:
                            await viewer.close(session)
                            return viewer
                        await asyncio.sleep(0.1)
                    await viewer.close(session)
                raise AssertionError(f"no barcodes through the stack: {viewer and viewer.stats}")

        viewer = asyncio.run(watch())
        assert viewer.stats.unreadable == 0
        # g2g on loopback: positive and well under a second, even on a loaded machine.
        assert all(0 < g < 1000 for g in viewer.stats.g2g_ms), viewer.stats.g2g_ms
    finally:
        code, out, err = _stop(host)
        stop_stack_process(stack)
    assert code == 0, err
    assert f"a WHIP POST to {base}/whip/ext" in out
    assert "Traceback" not in err


def _read_rtp_frames(sock: socket.socket, want: int, timeout_s: float) -> list[tuple[int, float]]:
    """Depacketize VP8 from `sock` from the first keyframe on, decode, read barcodes.
    Returns (barcode ms, frame completed at wall ms) per readable frame."""
    decoder = av.CodecContext.create("libvpx", "r")
    got: list[tuple[int, float]] = []
    frame_parts: list[bytes] = []
    timestamp: int | None = None
    started = False
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break
        packet = RtpPacket.parse(data)
        assert packet.payload_type == 96
        if packet.timestamp != timestamp:
            frame_parts, timestamp = [], packet.timestamp
        frame_parts.append(vp8_depayload(packet.payload))
        if not packet.marker:
            continue
        encoded = b"".join(frame_parts)
        started = started or is_vp8_keyframe(encoded)
        if not started:
            continue
        for picture in decoder.decode(av.Packet(encoded)):
            ts = barcode.decode(picture)
            if ts is not None:
                got.append((ts, time.time() * 1000))
    return got


@pytest.mark.slow
def test_host_rtp_sends_vp8_whose_barcodes_decode() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    host = _host("--rtp", f"127.0.0.1:{port}", "--duration", "30s")
    try:
        frames = _read_rtp_frames(sock, want=15, timeout_s=20)
    finally:
        code, out, err = _stop(host)
        sock.close()
    assert code == 0, err
    assert len(frames) >= 15, (frames, err)
    stamps = [ts for ts, _ in frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(0 <= now - ts < 1000 for ts, now in frames), frames
    assert f"RTP VP8 (pt 96) to 127.0.0.1:{port}" in out
    assert "video frames in" in out


def test_remote_destination_is_refused_without_allow_remote() -> None:
    for args in (["--rtp", "10.250.0.1:5004"], ["--whip", "http://10.250.0.1:8088/whip/x"]):
        proc = subprocess.run(
            [sys.executable, "-m", "livelab", "host", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert "10.250.0.1" in proc.stderr and "--allow-remote" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_bad_payload_type_is_a_config_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "livelab", "host", "--rtp", "127.0.0.1:5004", "--video-pt", "8"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--video-pt" in proc.stderr and "96-127" in proc.stderr
