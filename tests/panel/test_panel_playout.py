"""The probe's libwebrtc-like playout schedule (`loadgen.panel.playout`), on made-up arrivals."""

from __future__ import annotations

import random

from loadgen.panel.freezes import detect_freezes
from loadgen.panel.playout import (
    OS_JITTER_MS,
    VSYNC_MS,
    JitterEstimator,
    PlayoutSchedule,
    presented,
)

FRAME_TS = 6000  # 90 kHz ticks per frame at 15 fps
FRAME_MS = FRAME_TS / 90.0


def _run(arrivals: list[float], sizes: list[int], ts0: int = 0) -> list[float]:
    sched = PlayoutSchedule()
    return [
        sched.release_ms((ts0 + i * FRAME_TS) & 0xFFFFFFFF, a, s)
        for i, (a, s) in enumerate(zip(arrivals, sizes, strict=True))
    ]


def test_a_steady_path_is_held_by_the_os_jitter_and_the_noise_floor() -> None:
    n = 300
    arrivals = [1000.0 + 40.0 + i * FRAME_MS for i in range(n)]
    releases = _run(arrivals, [2500] * n)
    holds = [r - a for r, a in zip(releases, arrivals, strict=True)][50:]
    # libwebrtc's floor: OS jitter (10 ms) + a 1 ms noise threshold, nothing else.
    assert all(OS_JITTER_MS <= h <= OS_JITTER_MS + 2.0 for h in holds), (min(holds), max(holds))


def test_jittery_arrivals_raise_the_hold_and_late_frames_go_out_on_arrival() -> None:
    rng = random.Random(1)
    n = 400
    arrivals = [i * FRAME_MS + rng.expovariate(1 / 20.0) for i in range(n)]
    arrivals = [max(arrivals[: i + 1]) for i in range(n)]  # frames complete in order
    releases = _run(arrivals, [2500] * n)
    assert all(r >= a for r, a in zip(releases, arrivals, strict=True))
    holds = sorted(r - a for r, a in zip(releases[100:], arrivals[100:], strict=True))
    assert holds[len(holds) // 2] > OS_JITTER_MS + 5.0  # held longer than on a steady path
    assert holds[0] == 0.0  # the latest frames are released as they complete


def _estimate(key_late_ms: float) -> JitterEstimator:
    est = JitterEstimator()
    for i in range(200):
        key = i % 100 == 50
        est.update(key_late_ms if key else 0.0, 25000.0 if key else 2500.0, FRAME_MS)
        if key:  # the frame after it arrives on time again
            est.update(-key_late_ms, 2500.0, FRAME_MS)
    return est


def test_a_spread_keyframe_keeps_a_frame_size_term() -> None:
    # Keyframes (10× the size) arriving 60 ms late: the path spreads large frames, and the
    # estimate keeps slope × (largest − average size) on top of what on-time keyframes give.
    spread, on_time = _estimate(60.0), _estimate(0.0)
    assert spread.kalman.slope > on_time.kalman.slope
    assert spread.estimate_ms > on_time.estimate_ms + 2.0, (spread.estimate_ms, on_time.estimate_ms)


def test_rtp_timestamps_wrap_around_invisibly() -> None:
    n = 200
    arrivals = [i * FRAME_MS for i in range(n)]
    plain = _run(arrivals, [2500] * n)
    wrapped = _run(arrivals, [2500] * n, ts0=0xFFFFFFFF - 50 * FRAME_TS)
    assert wrapped == plain


def test_a_stall_presents_only_the_newest_frame_of_the_released_queue() -> None:
    # 15 fps shown at a steady 100 ms g2g; frame 50 waits about 270 ms for its retransmission
    # and frames 51-54 (complete, behind it) wait with it, then all five go out together.
    capture = [i * FRAME_MS for i in range(100)]
    shown = [c + 100.0 for c in capture]
    for i in (50, 51, 52, 53):
        shown[i] = shown[54]
    g2g = [(t, t - c) for t, c in zip(shown, capture, strict=True)]
    times, seen = presented(shown, g2g)
    assert len(times) == len(seen) == 96  # frames 50-53 superseded, never presented
    assert max(g for _, g in seen) < 100.0 + 1e-6  # no late frame reaches the screen
    fz_all, fz_seen = detect_freezes(shown), detect_freezes(times)
    assert fz_seen.count == 1 and fz_seen.frozen_ms >= fz_all.frozen_ms  # the stall is a freeze


def test_frames_a_vsync_apart_are_all_presented_and_a_missing_barcode_drops_nothing() -> None:
    shown = [0.0, VSYNC_MS, 2 * VSYNC_MS, 2 * VSYNC_MS + 5.0]
    g2g = [(0.0, 40.0), (2 * VSYNC_MS + 5.0, 41.0)]  # frames 1 and 2 had no readable barcode
    times, seen = presented(shown, g2g)
    assert times == [0.0, VSYNC_MS, 2 * VSYNC_MS + 5.0]
    assert seen == g2g
    assert presented([], []) == ([], [])
