"""Where to scrape a run while it goes on: the target's `/metrics`, and the live metrics that
the Locust master and the media panel serve on 127.0.0.1 (`loadgen.locust.live_metrics`,
`loadgen.panel.live_metrics`), found in the URL files they announce (`loadgen.live_endpoint`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

from loadgen import live_endpoint
from loadgen.run.procs import Child, Children

__all__ = ["ANNOUNCE_WAIT_S", "live_metrics_line", "live_metrics_urls"]

# Long enough for a child to start and import Locust or aiortc on a busy machine.
ANNOUNCE_WAIT_S = 30.0

# Child name → (folder of the run directory it announces in, name in the printed line).
_SERVERS = {"locust": ("locust", "loadgen"), "panel": ("panel", "panel")}


def live_metrics_urls(
    children: Children,
    out: Path,
    target_url: str,
    timeout_s: float = ANNOUNCE_WAIT_S,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, str]:
    """Scrape URL by name, "stack" (the target's `/metrics`), "loadgen" and "panel", of those that
    announced one within `timeout_s` s; a child that exits first is left out."""
    urls = {"stack": f"{target_url.rstrip('/')}/metrics"}
    # The children start together, so waiting for one after the other costs about the slowest.
    deadline = clock() + timeout_s
    for name, (folder, key) in _SERVERS.items():
        child = children.items.get(name)
        if child is None:
            continue
        try:
            started = psutil.Process(child.proc.pid).create_time()
        except psutil.Error:  # already gone
            continue
        left = max(deadline - clock(), 0.0)
        url = live_endpoint.wait_for(out / folder, _alive(child), left, started, clock)
        if url is not None:
            urls[key] = url
    return urls


def _alive(child: Child) -> Callable[[], bool]:
    return lambda: child.running


def live_metrics_line(children: Children, out: Path, target_url: str) -> str:
    """The line `livelab run` prints at the start of the load: where to scrape."""
    urls = live_metrics_urls(children, out, target_url)
    return "live metrics (Prometheus): " + ", ".join(f"{k} {u}" for k, u in urls.items())
