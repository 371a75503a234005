"""One panel process: an asyncio loop carrying its share of the viewers (spawned, never forked).

`worker_main` is the process entry point. It restricts ICE to 127.0.0.1, starts the health
monitor, joins its viewers spread over the ramp, reports progress once a second and, at the end
(time up, or the parent's stop event), sends every viewer's raw measurements and its health
samples back on the result queue. SIGINT is ignored here: on Ctrl-C the parent sets the stop
event, so viewers leave cleanly and partial results survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
import traceback
from typing import Any

from loadgen.panel.browser_process import die_with_parent
from loadgen.panel.browser_viewer import BrowserViewer, browser_pages
from loadgen.panel.cohost import CohostViewer
from loadgen.panel.config import PanelConfig
from loadgen.panel.health import HealthMonitor
from loadgen.panel.live_metrics import LiveTracker
from loadgen.panel.viewer import Viewer, ViewerRaw, ViewerSpec, wall_ms

__all__ = ["worker_main"]

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0


def worker_main(
    process: int,
    config: PanelConfig,
    specs: list[ViewerSpec],
    results: Any,  # multiprocessing Queue
    stop: Any,  # multiprocessing Event
) -> None:
    """Run ``specs`` in this process and put ("result", process, raws, health) on ``results``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()  # a panel killed outright takes its processes (and their browsers) along
    logging.basicConfig(level=logging.WARNING, format=f"panel[{process}] %(levelname)s %(message)s")
    # aiortc logs every undecodable frame of its stock receiver; the panel counts what matters.
    logging.getLogger("aiortc").setLevel(logging.ERROR)
    try:
        raws, health = asyncio.run(_run(process, config, specs, results, stop))
        results.put(("result", process, raws, health))
    except BaseException as exc:  # report, then die: the parent must not wait forever
        results.put(("error", process, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


async def _run(
    process: int, config: PanelConfig, specs: list[ViewerSpec], results: Any, stop: Any
) -> tuple[list[ViewerRaw], dict[str, Any]]:
    from urllib.parse import urlsplit

    import aiohttp

    from netem_profiles import netio
    from stack import restrict_ice_to_loopback

    if netio.is_loopback(urlsplit(config.whep_url).hostname or ""):
        # A local target: 127.0.0.1 candidates only. A remote one (--allow-remote, e.g. Janus
        # in a test's own network namespace) gathers on the host's interfaces as aioice does.
        restrict_ice_to_loopback()
    monitor = HealthMonitor()
    monitor.start()
    start = wall_ms()
    stop_at = start + config.duration_s * 1000.0
    ramp_ms = config.effective_ramp_s * 1000.0
    stop_event = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        browser_pages(specs) as pages,
    ):
        viewers: list[Viewer | BrowserViewer | CohostViewer] = [
            CohostViewer(
                spec, config.whep_url, session, stop_at, process=process, stop_event=stop_event
            )
            if spec.kind == "cohost"
            else BrowserViewer(
                spec,
                config.whep_url,
                session,
                stop_at,
                pages,
                process=process,
                stop_event=stop_event,
            )
            if spec.kind == "browser" and pages is not None
            else Viewer(
                spec, config.whep_url, session, stop_at, process=process, stop_event=stop_event
            )
            for spec in specs
        ]

        async def join_later(i: int, v: Viewer | BrowserViewer | CohostViewer) -> ViewerRaw:
            delay = max(ramp_ms * i / max(1, len(viewers)) / 1000.0, i / config.join_rate)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), delay)
            if stop_event.is_set():
                v.raw.error = "stopped before joining"
                return v.raw
            return await v.run()

        tasks = [asyncio.ensure_future(join_later(i, v)) for i, v in enumerate(viewers)]
        join_s = max(ramp_ms / 1000.0, len(viewers) / config.join_rate)
        gc_task = asyncio.ensure_future(_freeze_gc(join_s + 2.0))
        # Health covers the watching, not the teardown (100 peer connections closing at once).
        loop = asyncio.get_running_loop()
        stop_health = loop.call_later(max(0.0, (stop_at - wall_ms()) / 1000.0), monitor.halt)
        watcher = asyncio.ensure_future(
            _watch(process, viewers, results, stop, stop_event, monitor)
        )
        raws = list(await asyncio.gather(*tasks))
        stop_health.cancel()
        gc_task.cancel()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await monitor.stop()
    health = {
        "cpu_pct": monitor.cpu_pct,
        "lag_ms": monitor.lag_ms,
        "pressure_pct": monitor.pressure_pct,
        "interval_s": monitor.interval_s,
    }
    return raws, health


async def _freeze_gc(until_s: float, every_s: float = 1.0) -> None:
    """Keep joined state out of the collector's way while viewers join.

    A full (generation 2) collection walks every object of a hundred peer connections and
    stalls the loop for ~100–200 ms (measured: 83 ms and 181 ms with 100 viewers); that lag
    would show up as freezes and g2g spikes the target never caused. `gc.freeze` (cheap: it
    moves the tracked objects to the permanent generation, no collection) after each second of
    joining keeps every later collection small. Cost: cyclic garbage created before a freeze is
    not reclaimed until the process ends — bounded by the viewers' set-up state, fine for a
    panel process that lives for one run.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + until_s
    while loop.time() < end:
        gc.freeze()
        await asyncio.sleep(every_s)
    gc.freeze()


async def _watch(
    process: int,
    viewers: list[Viewer | BrowserViewer | CohostViewer],
    results: Any,
    stop: Any,
    stop_event: asyncio.Event,
    monitor: HealthMonitor,
) -> None:
    """Forward the parent's stop, and report progress (with what changed for the live
    metrics) every second."""
    tracker = LiveTracker()
    next_report = time.monotonic()
    while True:
        if stop.is_set():
            stop_event.set()
        now = time.monotonic()
        if now >= next_report:
            next_report = now + PROGRESS_INTERVAL_S
            connected = sum(1 for v in viewers if v.raw.frame_ms and not v.raw.end_ms)
            frames = sum(len(v.raw.frame_ms) for v in viewers)
            live = tracker.report([v.raw for v in viewers], monitor.cpu_pct, monitor.lag_ms)
            results.put(
                ("progress", process, {"connected": connected, "frames": frames, "live": live})
            )
        await asyncio.sleep(0.2)
