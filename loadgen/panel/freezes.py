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

__all__ = ["FreezeDetector", "FreezeStats", "detect_freezes", "freeze_threshold_ms"]

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


class FreezeDetector:
    """`detect_freezes` one frame at a time: `add` each rendered-frame time (ms, ascending),
    read `count`/`frozen_ms` as they grow (a freeze counts once its next frame arrives), and
    `stats(end_ms)` for the figures with the tail rule applied."""

    def __init__(self, min_intervals: int = 1) -> None:
        self.min_intervals = min_intervals
        self.first_ms: float | None = None
        self.last_ms: float | None = None
        self.durations: list[float] = []
        self.starts: list[float] = []
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._total = 0.0

    @property
    def count(self) -> int:
        return len(self.durations)

    @property
    def frozen_ms(self) -> float:
        return float(sum(self.durations))

    def is_freeze(self, gap_ms: float) -> bool:
        """Would an interval of `gap_ms` after the frames so far be a freeze?"""
        if len(self._recent) < self.min_intervals:
            return False
        return gap_ms > freeze_threshold_ms(self._total / len(self._recent))

    def add(self, t_ms: float) -> None:
        """One more rendered frame at `t_ms`. Raises ValueError if time goes backwards."""
        prev = self.last_ms
        self.last_ms = t_ms
        if prev is None:
            self.first_ms = t_ms
            return
        gap = t_ms - prev
        if gap < 0:
            self.last_ms = prev
            raise ValueError(f"frame times go backwards: {prev} then {t_ms}")
        if self.is_freeze(gap):
            self.durations.append(gap)
            self.starts.append(prev)
            return
        if len(self._recent) == self._recent.maxlen:
            self._total -= self._recent[0]
        self._recent.append(gap)
        self._total += gap

    def stats(self, end_ms: float | None = None) -> FreezeStats:
        """The freezes so far, watched until `end_ms` (or the last frame)."""
        if self.first_ms is None or self.last_ms is None:
            return FreezeStats(0, 0.0, 0.0, ())
        durations, starts = list(self.durations), list(self.starts)
        last = self.last_ms
        end = last if end_ms is None else max(end_ms, last)
        if end > last and self.is_freeze(end - last):
            durations.append(end - last)
            starts.append(last)
        return FreezeStats(
            len(durations), float(sum(durations)), end - self.first_ms, tuple(durations),
            tuple(starts),
        )  # fmt: skip


def detect_freezes(
    frame_ms: Sequence[float], end_ms: float | None = None, min_intervals: int = 1
) -> FreezeStats:
    """Freezes in ``frame_ms`` (rendered-frame times, ms, ascending), watched until ``end_ms``.

    Watched time runs from the first frame to ``end_ms`` (or the last frame). Raises ValueError
    if the times go backwards.
    """
    detector = FreezeDetector(min_intervals)
    for t in frame_ms:
        detector.add(t)
    return detector.stats(end_ms)
