"""Freezes from rendered-frame times, as W3C webrtc-stats and libwebrtc define them.

A freeze is an interval between two consecutive rendered frames longer than
``max(3 × avg, avg + 150 ms)``, where ``avg`` is the mean of the previous (up to 30) non-freeze
intervals. At least ``min_intervals`` earlier intervals are needed before anything counts (the
first frames of a stream set the pace). The frozen time of a freeze is the whole interval.
When the watch ends (``end_ms``) long after the last frame, that tail counts as a freeze too:
the viewer stared at a still picture.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FreezeStats", "detect_freezes", "freeze_threshold_ms"]

WINDOW = 30
EXTRA_MS = 150.0


@dataclass(frozen=True)
class FreezeStats:
    """Freezes found: count, total frozen time (ms), watched time (ms) and the two figures."""

    count: int
    frozen_ms: float
    watched_ms: float
    durations_ms: tuple[float, ...]
    starts_ms: tuple[float, ...] = ()  # when each freeze began (time of the last good frame)

    @property
    def per_min(self) -> float:
        """Freezes per minute of watching (0 when nothing was watched)."""
        return self.count * 60_000.0 / self.watched_ms if self.watched_ms > 0 else 0.0

    @property
    def ratio(self) -> float:
        """Frozen time / watched time, in [0, 1]."""
        return min(1.0, self.frozen_ms / self.watched_ms) if self.watched_ms > 0 else 0.0


def freeze_threshold_ms(avg_interval_ms: float) -> float:
    """The freeze threshold for an average frame interval (ms)."""
    return max(3.0 * avg_interval_ms, avg_interval_ms + EXTRA_MS)


def detect_freezes(
    frame_ms: Sequence[float], end_ms: float | None = None, min_intervals: int = 1
) -> FreezeStats:
    """Freezes in ``frame_ms`` (rendered-frame times, ms, ascending), watched until ``end_ms``.

    Watched time runs from the first frame to ``end_ms`` (or the last frame). Raises ValueError
    if the times go backwards.
    """
    if not frame_ms:
        return FreezeStats(0, 0.0, 0.0, ())
    recent: deque[float] = deque(maxlen=WINDOW)
    durations: list[float] = []
    starts: list[float] = []
    total = 0.0

    def judge(gap: float) -> bool:
        if len(recent) < min_intervals:
            return False
        return gap > freeze_threshold_ms(total / len(recent))

    prev = frame_ms[0]
    for t in frame_ms[1:]:
        gap = t - prev
        if gap < 0:
            raise ValueError(f"frame times go backwards: {prev} then {t}")
        if judge(gap):
            durations.append(gap)
            starts.append(prev)
        else:
            if len(recent) == recent.maxlen:
                total -= recent[0]
            recent.append(gap)
            total += gap
        prev = t
    last = frame_ms[-1]
    end = last if end_ms is None else max(end_ms, last)
    if end > last and judge(end - last):
        durations.append(end - last)
        starts.append(last)
    return FreezeStats(
        len(durations), float(sum(durations)), end - frame_ms[0], tuple(durations), tuple(starts)
    )
