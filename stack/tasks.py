"""Background tasks that never fail silently: an unexpected end is logged with its traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["spawn"]

log = logging.getLogger(__name__)


def spawn(
    coro: Coroutine[Any, Any, None], name: str, on_crash: Callable[[str], None] | None = None
) -> asyncio.Task[None]:
    """Start `coro` as a task; if it ends with an exception (not cancellation), log it and call
    `on_crash(name)` (e.g. to count it in /metrics)."""
    task = asyncio.get_running_loop().create_task(coro, name=name)

    def done(t: asyncio.Task[None]) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            log.error("background task %s died", name, exc_info=exc)
            if on_crash is not None:
                on_crash(name)

    task.add_done_callback(done)
    return task
