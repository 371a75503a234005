"""The stack's event-loop gauges: lateness of a wake-up, worst-since-last-scrape, task count."""

from __future__ import annotations

import asyncio
import time
import urllib.request

from stack.looplag import LoopLag, task_count
from stack.testing import running_stack


def test_worst_lateness_is_kept_until_read_then_the_window_restarts() -> None:
    lag = LoopLag()
    lag.observe(0.004)
    lag.observe(0.120)
    lag.observe(-0.001)  # early (clock granularity) counts as on time
    assert lag.last_ms == 0.0
    assert lag.take_max_ms() == 120.0
    assert lag.take_max_ms() == 0.0  # new window starts from the latest reading


def test_a_blocked_loop_shows_as_lag_and_metrics_carry_both_gauges() -> None:
    async def main() -> tuple[float, str]:
        async with running_stack(host="none") as base:
            await asyncio.sleep(0.3)
            time.sleep(0.4)  # block the loop the server runs on: its sleeper wakes late
            await asyncio.sleep(0.3)
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
            )
            return task_count(), text

    tasks, text = asyncio.run(asyncio.wait_for(main(), 30))
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(("livelab_stack_loop_lag_ms ", "livelab_stack_asyncio_tasks "))
    }
    assert values["livelab_stack_loop_lag_ms"] >= 150.0
    assert values["livelab_stack_asyncio_tasks"] >= 2  # at least the lag probe and the scrape
    assert tasks >= 1
