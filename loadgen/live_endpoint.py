"""How a child process of a run tells where it serves live Prometheus metrics.

A process that serves them (the Locust master, the media panel) binds 127.0.0.1 on the port it
was given (0: a free one), then `announce`s the URL in a one-line file of its output directory;
the orchestrator `wait_for`s that file and prints the URL. Standard library only: both the
gevent world (Locust) and the asyncio world (panel) import it, and so does the orchestrator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ENDPOINT_FILE", "announce", "metrics_url", "read", "wait_for"]

ENDPOINT_FILE = "live_metrics.url"
_NAP_S = 0.05


def metrics_url(port: int, host: str = "127.0.0.1") -> str:
    """The scrape URL of a metrics server listening on `host:port`."""
    return f"http://{host}:{port}/metrics"


def announce(out_dir: Path | str, url: str) -> Path:
    """Write `url` to `out_dir`/live_metrics.url, atomically (a reader never sees half)."""
    path = Path(out_dir) / ENDPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{ENDPOINT_FILE}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n")
    tmp.replace(path)
    return path


def read(out_dir: Path | str, not_before: float = 0.0) -> str | None:
    """The URL announced in `out_dir`, or None if none (yet). A file last written before
    `not_before` (epoch s: when the announcing process started) is a former run's: None."""
    path = Path(out_dir) / ENDPOINT_FILE
    try:
        if path.stat().st_mtime < not_before:
            return None
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def wait_for(
    out_dir: Path | str,
    alive: Callable[[], bool],
    timeout_s: float,
    not_before: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """The URL announced in `out_dir` (see `read`) within `timeout_s` s, or None if the
    process ended (`alive()` false) or the time ran out first."""
    deadline = clock() + timeout_s
    while True:
        url = read(out_dir, not_before)
        if url is not None or not alive() or clock() >= deadline:
            return url
        time.sleep(_NAP_S)
