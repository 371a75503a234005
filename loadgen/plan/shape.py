"""How many Locust users a plan needs at each moment, and which script each user takes.

Locust users are *slots*: a user takes the next script (by start time) from its worker's share,
sleeps until the script's join, plays it, then takes the next one. Sessions therefore follow the
plan's concurrency curve exactly, whatever Locust does with its user count, and Locust never
has to stop a user in the middle of a session: the user count only grows, to the number of slots
the greedy interval partition of each worker's share has opened so far (which equals the
running peak of that share's concurrency). Pure functions; standard library only.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

__all__ = ["share_of", "slots_opened", "users_at"]


def share_of(n_scripts: int, worker_index: int, workers: int) -> list[int]:
    """Indices of the scripts worker `worker_index` of `workers` plays (round robin)."""
    if workers < 1 or not 0 <= worker_index < workers:
        raise ValueError(f"worker {worker_index} of {workers}")
    return list(range(worker_index, n_scripts, workers))


def slots_opened(spans: Sequence[tuple[float, float]], seconds: int) -> list[int]:
    """Slots a greedy partition of `spans` (start_s, end_s; sorted by start) has opened by the
    end of each second 0..seconds-1. A slot frees at its span's end and is reused."""
    free_at: list[float] = []  # heap of end times of busy slots
    opened = 0
    out = [0] * seconds
    idx = 0
    for sec in range(seconds):
        while idx < len(spans) and spans[idx][0] < sec + 1:
            start, end = spans[idx]
            if free_at and free_at[0] <= start:
                heapq.heapreplace(free_at, end)
            else:
                heapq.heappush(free_at, end)
                opened += 1
            idx += 1
        out[sec] = opened
    return out


def users_at(slot_curve: Sequence[int], elapsed_s: float, workers: int, margin: int = 1) -> int:
    """Locust users to ask for at `elapsed_s`: the per-worker slot need times the worker count
    (Locust spreads users evenly over workers), plus `margin` per worker. Monotone."""
    if not slot_curve:
        return 0
    sec = min(max(math.floor(elapsed_s) + 1, 0), len(slot_curve) - 1)  # one second ahead
    return (slot_curve[sec] + margin) * max(workers, 1)
