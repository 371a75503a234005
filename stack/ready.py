"""Readiness: the stack's ready file, and the one bounded poll that waits for a child process to
be ready (the stack's ready file, a relay's "listening" line).

`stack.serve` writes the ready file; `stack.testing.start_stack_process` and the run
orchestrator (`loadgen.run.orchestrator`) wait on it with `poll_until`. Standard library only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["poll_until", "read_ready", "write_ready"]

T = TypeVar("T")
POLL_S = 0.05  # between checks: fast enough to add < 50 ms, slow enough to cost nothing


def write_ready(path: str | os.PathLike[str], url: str) -> None:
    """Write `url` to the ready file `path`."""
    # Write then rename, so a reader never sees a half-written URL.
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(url + "\n")
    os.replace(tmp, path)


def read_ready(path: str | os.PathLike[str]) -> str | None:
    """The URL in the ready file `path`, or None while it is absent or empty."""
    try:
        url = Path(path).read_text("utf-8").strip()
    except OSError:
        return None
    return url or None


def poll_until(
    probe: Callable[[], T | None],
    *,
    alive: Callable[[], bool],
    timeout_s: float,
    interval_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`probe()`'s first non-None value, checked every `interval_s` seconds (of `clock`).

    Raises `ChildProcessError` as soon as `alive()` is False (the child exited before it was
    ready) and `TimeoutError` after `timeout_s` seconds; callers add what and which log.
    """
    deadline = clock() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if not alive():
            raise ChildProcessError("exited before it was ready")
        if clock() >= deadline:
            raise TimeoutError(f"not ready within {timeout_s:g} s")
        sleep(interval_s)
