"""Background tasks that never fail silently: an unexpected end is logged with its traceback.

The one way the project logs a background task's failure: `spawn` starts a task with
`log_failure` as its done-callback; code that gets a task from elsewhere (`ensure_future` of an
aiortc coroutine) adds `log_failure(what)` itself. Standard library only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["log_failure", "spawn"]

log = logging.getLogger(__name__)


def log_failure(
    name: str, on_crash: Callable[[str], None] | None = None
) -> Callable[[asyncio.Future[Any]], None]:
    """A done-callback: if the task ended with an exception (not cancellation), log it with its
    traceback as `background task NAME died` and call `on_crash(name)` (e.g. to count it)."""

    def done(task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s died", name, exc_info=exc)
            if on_crash is not None:
                on_crash(name)

    return done


def spawn(
    coro: Coroutine[Any, Any, None], name: str, on_crash: Callable[[str], None] | None = None
) -> asyncio.Task[None]:
    """Start `coro` as a task; if it ends with an exception (not cancellation), log it and call
    `on_crash(name)` (see `log_failure`)."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(log_failure(name, on_crash))
    return task
