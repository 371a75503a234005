"""A libwebrtc-like playout schedule for probe viewers: when a browser would show each frame.

A browser does not show a frame when its last packet arrives: libwebrtc releases it from the
jitter buffer at its *render time* minus decode and render delay, i.e. at the frame's expected
arrival plus a jitter estimate, and Chromium's compositor shows it at the next vsync after
decoding. A probe decodes every frame as soon as it is complete, so its g2g at decode reads low
on a steady path and its tail follows every late frame. `PlayoutSchedule` computes, per
complete frame, the time a libwebrtc receiver would release it; the probe then reports the frame
as shown at ``release + (its own decode time) + RENDER_WAIT_MS``. It is a model applied to the
times (frames are still decoded at once): pure, every call takes the times it needs.

What it follows (libwebrtc, ``modules/video_coding/timing/``):

* ``jitter_estimator.cc`` / ``frame_delay_delta_kalman_filter.cc``: the frame delay (arrival
  delta minus RTP-timestamp delta, ms) is fitted against the frame-size delta (bytes) by a
  two-state Kalman filter (slope ms/byte, offset ms); the random part's variance ``var_noise``
  is an exponential average weighted to 30 fps; the estimate is ``slope × (max frame size − avg
  frame size) + max(1, 2.33 × sqrt(var_noise) − 30)`` plus ``OS_JITTER_MS`` (10 ms), with
  ``max frame size`` decaying by 0.9999 per frame and keyframes kept out of the average.
  The RTT term (added after three NACKs) is left out: a receive-only Chromium has no RTT sample
  and the probe's NACK path differs.
* ``timestamp_extrapolator.cc``: the expected local arrival of an RTP timestamp, here a running
  mean of ``arrival − timestamp / 90`` (1/`OFFSET_WEIGHT` per frame), the sender's 90 kHz clock
  taken as ours (same machine, no drift).
* ``timing.cc``: a frame is released at ``max(arrival, expected arrival + jitter estimate)``.

``RENDER_WAIT_MS`` is a stated per-frame term, measured, not derived: Chromium's
``expectedDisplayTime`` came 0.5–15 ms (mean about 7 ms) after its jitter-buffer delay plus
decode time (docs/viewers.md, "path and hold").

`presented` applies the compositor's rule to the shown times: at most one frame per vsync is
presented, the newest (Chromium's compositor takes the latest frame at each vsync; the others
are dropped unseen, so ``requestVideoFrameCallback`` never reports them). After a stall — a
frame waiting for its retransmission, the frames behind it waiting for their reference — the
whole queue is released at once and only its newest frame is presented, with about the usual
g2g: the stall shows as a freeze, not as a tail of late frames. Measured on a quiet machine
behind ``delay 50ms loss 2%``: Chromium's g2g p50/p95/p99 107/108/109 ms with 11 freezes a
minute, where the schedule without this rule gave 98/181/248 ms (docs/viewers.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RENDER_WAIT_MS", "VSYNC_MS", "JitterEstimator", "PlayoutSchedule", "presented"]

RENDER_WAIT_MS = 7.0  # decode end → expectedDisplayTime in Chromium 156 (measured, mean)
OS_JITTER_MS = 10.0  # libwebrtc's OPERATING_SYSTEM_JITTER
OFFSET_WEIGHT = 16  # frames in the running mean of arrival − timestamp (about 1 s at 15 fps)
RTP_CLOCK_KHZ = 90.0
VSYNC_MS = 1000.0 / 60.0  # a 60 Hz display: the compositor presents at most one frame per vsync

_PHI = 0.97
_PSI = 0.9999
_ALPHA_MAX = 400
_STARTUP_FRAMES = 30
_OUTLIER_SIGMAS = 15.0
_SIZE_OUTLIER_SIGMAS = 3.0
_NOISE_SIGMAS = 2.33
_NOISE_OFFSET_MS = 30.0
_MAX_TS_DEVIATION_SIGMAS = 3.5


@dataclass
class _Kalman:
    """libwebrtc's FrameDelayDeltaKalmanFilter: frame delay = slope × size delta + offset."""

    slope: float = 1.0 / (512e3 / 8.0)  # ms per byte (512 kbit/s)
    offset: float = 0.0
    c00: float = 1e-4
    c01: float = 0.0
    c10: float = 0.0
    c11: float = 1e2

    def update(self, delay_ms: float, size_delta: float, max_size: float, var: float) -> None:
        self.c00 += 2.5e-10
        self.c11 += 1e-10
        mh0 = self.c00 * size_delta + self.c01
        mh1 = self.c10 * size_delta + self.c11
        # the measurement noise shrinks for large size deltas (keyframes carry the slope)
        sigma = (300.0 * math.exp(-abs(size_delta) / max_size) + 1.0) * math.sqrt(var)
        sigma = max(sigma, 1.0)
        denom = size_delta * mh0 + mh1 + sigma
        if abs(denom) < 1e-9:
            return
        k0, k1 = mh0 / denom, mh1 / denom
        residual = delay_ms - (self.slope * size_delta + self.offset)
        self.slope = max(self.slope + k0 * residual, 1e-6)  # a positive slope only
        self.offset += k1 * residual
        t00, t01 = self.c00, self.c01
        self.c00 = (1.0 - k0 * size_delta) * t00 - k0 * self.c10
        self.c01 = (1.0 - k0 * size_delta) * t01 - k0 * self.c11
        self.c10 = -k1 * size_delta * t00 + (1.0 - k1) * self.c10
        self.c11 = -k1 * size_delta * t01 + (1.0 - k1) * self.c11


class JitterEstimator:
    """libwebrtc's jitter estimate (ms) from frame delays and sizes (module docstring)."""

    def __init__(self) -> None:
        self.kalman = _Kalman()
        self.var_noise = 4.0
        self.avg_noise = 0.0
        self.avg_size = 500.0
        self.max_size = 500.0
        self.var_size = 100.0
        self._prev_size: float | None = None
        self._alpha_count = 1
        self._startup = 0
        self._size_sum = 0.0
        self._size_count = 0
        self._fps = 30.0
        self.filtered_ms = 0.0

    def update(self, delay_ms: float, size: float, frame_interval_ms: float) -> None:
        """One frame: its delay (arrival delta − timestamp delta, ms), size (bytes) and the
        time since the previous frame (ms, for the 30 fps weighting)."""
        if size <= 0:
            return
        if frame_interval_ms > 0:
            self._fps = 0.9 * self._fps + 0.1 * min(200.0, 1000.0 / frame_interval_ms)
        size_delta = size - (self._prev_size or 0.0)
        if self._size_count < 5:
            self._size_sum += size
            self._size_count += 1
        elif self._size_count == 5:
            self.avg_size = self._size_sum / 5.0
            self._size_count += 1
        avg = _PHI * self.avg_size + (1 - _PHI) * size
        if size < self.avg_size + 2.0 * math.sqrt(self.var_size):
            self.avg_size = avg  # keyframes stay out of the average
        dev = size - avg
        self.var_size = max(_PHI * self.var_size + (1 - _PHI) * dev * dev, 1.0)
        self.max_size = max(_PSI * self.max_size, size)
        if self._prev_size is None:
            self._prev_size = size
            return
        self._prev_size = size
        bound = _MAX_TS_DEVIATION_SIGMAS * math.sqrt(self.var_noise) + 0.5
        delay_ms = min(max(delay_ms, -bound), bound)
        deviation = delay_ms - (self.kalman.slope * size_delta + self.kalman.offset)
        big_frame = size > self.avg_size + _SIZE_OUTLIER_SIGMAS * math.sqrt(self.var_size)
        if abs(deviation) < _OUTLIER_SIGMAS * math.sqrt(self.var_noise) or big_frame:
            self._noise(deviation)
            # frames queued behind a delayed large frame say nothing about the slope
            if size_delta > -0.25 * self.max_size:
                self.kalman.update(delay_ms, size_delta, self.max_size, self.var_noise)
        else:
            sign = 1.0 if deviation >= 0 else -1.0
            self._noise(sign * _OUTLIER_SIGMAS * math.sqrt(self.var_noise))
        if self._startup >= _STARTUP_FRAMES:
            self.filtered_ms = self._raw_estimate()
        else:
            self._startup += 1

    def _noise(self, d: float) -> None:
        alpha = (self._alpha_count - 1) / self._alpha_count
        self._alpha_count = min(self._alpha_count + 1, _ALPHA_MAX)
        scale = 30.0 / self._fps
        if self._alpha_count < _STARTUP_FRAMES:
            scale = (self._alpha_count * scale + (_STARTUP_FRAMES - self._alpha_count)) / (
                _STARTUP_FRAMES
            )
        alpha = alpha**scale
        avg = alpha * self.avg_noise + (1 - alpha) * d
        var = alpha * self.var_noise + (1 - alpha) * (d - self.avg_noise) ** 2
        self.avg_noise = avg
        self.var_noise = max(var, 1.0)

    def _raw_estimate(self) -> float:
        noise = max(_NOISE_SIGMAS * math.sqrt(self.var_noise) - _NOISE_OFFSET_MS, 1.0)
        return max(self.kalman.slope * (self.max_size - self.avg_size) + noise, 1.0)

    @property
    def estimate_ms(self) -> float:
        """The jitter estimate (ms) a libwebrtc receiver adds to the expected arrival."""
        return max(self._raw_estimate() + OS_JITTER_MS, self.filtered_ms)


class PlayoutSchedule:
    """When a libwebrtc receiver would release each frame from its jitter buffer (ms)."""

    def __init__(self) -> None:
        self.jitter = JitterEstimator()
        self._offset: float | None = None  # running mean of arrival − timestamp (ms)
        self._prev: tuple[float, float] | None = None  # (arrival ms, timestamp ms)
        self._ts_ms = 0.0
        self._last_ts: int | None = None

    def _timestamp_ms(self, ts: int) -> float:
        """The RTP timestamp in ms, unwrapped (32-bit wrap-around is invisible)."""
        if self._last_ts is None:
            self._last_ts = ts
            return 0.0
        diff = (ts - self._last_ts) & 0xFFFFFFFF
        if diff >= 0x80000000:
            diff -= 0x100000000
        self._last_ts = ts
        self._ts_ms += diff / RTP_CLOCK_KHZ
        return self._ts_ms

    def release_ms(self, timestamp: int, arrival_ms: float, size: int) -> float:
        """The release time of the frame with RTP ``timestamp`` complete at ``arrival_ms``
        (``size`` payload bytes): its expected arrival plus the jitter estimate, or its arrival
        if later. The frame updates the estimates after its own release is decided."""
        ts_ms = self._timestamp_ms(timestamp)
        if self._offset is None:
            self._offset = arrival_ms - ts_ms
        release = max(arrival_ms, ts_ms + self._offset + self.jitter.estimate_ms)
        if self._prev is not None:
            prev_arrival, prev_ts = self._prev
            if ts_ms > prev_ts:  # frames in timestamp order only (a retransmitted old one
                # does not describe the path's spread)
                delay = (arrival_ms - prev_arrival) - (ts_ms - prev_ts)
                self.jitter.update(delay, float(size), arrival_ms - prev_arrival)
        if self._prev is None or ts_ms > self._prev[1]:
            self._prev = (arrival_ms, ts_ms)
        self._offset += (arrival_ms - ts_ms - self._offset) / OFFSET_WEIGHT
        return release


def presented(
    shown_ms: Sequence[float], g2g: Sequence[tuple[float, float]]
) -> tuple[list[float], list[tuple[float, float]]]:
    """The frames a browser's compositor would present (module docstring): of ``shown_ms``
    (non-decreasing, ms), those not followed by another frame within `VSYNC_MS`; of ``g2g``
    ((shown ms, g2g ms) of the frames with a readable barcode, in the same order), those of
    presented frames. Frames shown at the same instant present only the last of them."""
    n = len(shown_ms)
    kept = [
        shown_ms[i] for i in range(n) if i + 1 == n or shown_ms[i + 1] - shown_ms[i] >= VSYNC_MS
    ]
    at = set(kept)
    last = len(g2g) - 1
    seen = [(t, g) for k, (t, g) in enumerate(g2g) if t in at and (k == last or g2g[k + 1][0] != t)]
    return kept, seen
