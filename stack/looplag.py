"""Event-loop health for /metrics: how late the loop wakes a sleeper, and how many tasks live.

`LoopLag` runs one background task that asks to be woken every `interval_s` and records by how
much the wake-up came late (ms): a loop busy with other work (fan-out, handshakes, SQLite
results) wakes it late by the length of that work. `last_ms` is the latest lateness, `max_ms`
the worst since the previous scrape (reading it resets it, so each scrape sees its own window).
`clock` returns seconds (the loop's monotonic clock by default).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from stack.tasks import spawn

__all__ = ["LoopLag", "task_count"]


class LoopLag:
    """See the module docstring. `start()` inside the running loop; `stop()` on shutdown."""

    def __init__(self, interval_s: float = 0.25, clock: Callable[[], float] | None = None) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last_ms = 0.0
        self._max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = spawn(self._run(), "loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def observe(self, late_s: float) -> None:
        """Record one wake-up `late_s` seconds after it was due."""
        self.last_ms = max(late_s, 0.0) * 1000.0
        self._max_ms = max(self._max_ms, self.last_ms)

    def take_max_ms(self) -> float:
        """Worst lateness since the last call (ms); resets the window."""
        worst, self._max_ms = self._max_ms, self.last_ms
        return worst

    async def _run(self) -> None:
        clock = self.clock or asyncio.get_running_loop().time
        while True:
            due = clock() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.observe(clock() - due)


def task_count() -> float:
    """Tasks alive on the running loop (a steadily rising count is a leak)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop (a scrape outside the server)
        return 0.0
