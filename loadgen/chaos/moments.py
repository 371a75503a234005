"""When a chaos run kills the stack: pure arithmetic on the plan's host events and duration.

Rules, in order:

1. `at` given (seconds of plan time): exactly those moments, sorted; any outside the window
   (0, duration_s) is refused (ValueError naming it).
2. Otherwise the starts of the window's lotteries and flash deals — where orders and reconnects
   peak — that lie inside (0, duration_s), earliest first, at most `kills` of them.
3. If that gives fewer than `kills` (a window without such peaks), the rest come from the even
   grid k / (kills + 1) of the duration (k = 1..kills), in grid order, skipping grid points
   closer than `min_gap_s` to a moment already chosen.

A moment closer than `min_gap_s` to an earlier one is dropped: the stack must be back and
serving before it can be killed again, or the second kill measures nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["PEAK_KINDS", "kill_moments"]

PEAK_KINDS = ("lottery", "flash_deal")


def kill_moments(
    events: Iterable[Mapping[str, Any]],
    duration_s: float,
    *,
    kills: int | None = None,
    at: Sequence[float] = (),
    min_gap_s: float = 5.0,
) -> list[float]:
    """Kill moments in plan seconds (see the module docstring). `kills` None = every peak."""
    if at:
        bad = [t for t in at if not 0.0 < t < duration_s]
        if bad:
            raise ValueError(f"kill moments {bad} s lie outside the window (0, {duration_s:g}) s")
        return _spaced(sorted(float(t) for t in at), min_gap_s)
    peaks = sorted(
        float(e["start_s"])
        for e in events
        if e.get("kind") in PEAK_KINDS and 0.0 < float(e.get("start_s", -1.0)) < duration_s
    )
    chosen = _spaced(peaks, min_gap_s)
    if kills is None:
        return chosen if chosen else _spaced([duration_s / 2.0], min_gap_s)
    chosen = chosen[:kills]
    for k in range(1, kills + 1):
        if len(chosen) >= kills:
            break
        t = duration_s * k / (kills + 1)
        if all(abs(t - c) >= min_gap_s for c in chosen):
            chosen.append(t)
    return sorted(chosen)


def _spaced(times: list[float], min_gap_s: float) -> list[float]:
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] >= min_gap_s:
            out.append(t)
    return out
