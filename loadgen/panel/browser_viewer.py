"""One browser viewer: a headless Chromium tab joins over WHEP in its own JavaScript and watches.

`BrowserViewer.run` registers the viewer's `BrowserPath` (its relays) with the process's
`PageServer`, launches Chromium on the viewer's page, starts the join (``livelab.join`` in
``browser_assets/viewer.js``) and, once a second until the stop, drains the page's samples and
Chromium's ``getStats()`` over the DevTools protocol, and samples the browser's CPU and memory.
It fills the same `ViewerRaw` as an aiortc viewer:

* ``frame_ms``: when the compositor was to show each frame (``requestVideoFrameCallback``'s
  ``expectedDisplayTime``, wall-clock ms); ``g2g``: that time minus the frame's barcode;
  ``g2g_parts``: g2g split at the frame's ``receiveTime`` into path and browser hold (ms);
* ``stat_samples``: Chromium's cumulative jitter-buffer delay and decode time once a second;
* ``phases``: ``signalling_ms`` (the WHEP POST, across the profile), ``ice_connected_ms``,
  ``first_frame_ms`` — ms since the page started the join;
* ``streams``: packets received / lost / expected and jitter (ms) of the video inbound-rtp;
* ``counters``: Chromium's own ``freezeCount``, ``totalFreezesDuration`` (ms),
  ``framesDropped``, ``nackCount``, ``pliCount``, ``framesDecoded`` and the jitter-buffer delay
  (``jitterBufferDelay / jitterBufferEmittedCount``, ms per frame, and likewise its target and
  minimum delay);
* ``resources``: the browser tree's CPU (% of one core) and RSS (MB) per second.

A browser that exits, a page error or no frame within `NO_VIDEO_AFTER_S` makes the viewer
failed (``error``). The browser is killed (whole process group) whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from loadgen.panel.browser_health import SAMPLE_S, TreeSampler
from loadgen.panel.browser_page import PageServer
from loadgen.panel.browser_path import BrowserPath
from loadgen.panel.browser_process import Cdp, Chromium, start, wait_devtools
from loadgen.panel.viewer import NO_VIDEO_AFTER_S, ViewerRaw, ViewerSpec, wall_ms

__all__ = ["WEBRTC_FLAGS", "BrowserViewer", "browser_pages"]

log = logging.getLogger(__name__)

# Loopback only: Chromium leaves loopback out of ICE unless asked, and hides host addresses
# behind mDNS names by default; no STUN server is configured by the page (no iceServers).
WEBRTC_FLAGS = (
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    # Chromium gathers loopback only for a page allowed to capture: a fake camera, no prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # A hidden or background page would get its frame callbacks throttled.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=800,480",
)
START_TIMEOUT_S = 30.0  # launch and page load on a busy machine
CALL_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def browser_pages(specs: list[ViewerSpec]) -> AsyncIterator[PageServer | None]:
    """The process's `PageServer` while it runs, or None when ``specs`` has no browser."""
    if not any(s.kind == "browser" for s in specs):
        yield None
        return
    pages = PageServer()
    await pages.start()
    try:
        yield pages
    finally:
        await pages.close()


class BrowserViewer:
    """Joins ``whep_url`` from a Chromium tab served by ``pages``; watches until ``stop_at_ms``."""

    def __init__(
        self,
        spec: ViewerSpec,
        whep_url: str,
        session: Any,
        stop_at_ms: float,
        pages: PageServer,
        *,
        process: int = 0,
        stop_event: asyncio.Event | None = None,
        clock_ms: Callable[[], float] = wall_ms,
    ) -> None:
        self.spec = spec
        self.whep_url = whep_url
        self.session = session
        self.stop_at_ms = stop_at_ms
        self.pages = pages
        self.stop_event = stop_event or asyncio.Event()
        self.clock_ms = clock_ms
        self.raw = ViewerRaw(spec=spec, process=process)
        self.raw.resources = {"cpu_pct": [], "rss_mb": []}
        self.browser: Chromium | None = None
        self._cdp: Cdp | None = None
        self._bytes_last = 0.0

    async def _eval(self, expression: str) -> Any:
        cdp = self._cdp
        if cdp is None:
            raise RuntimeError("no DevTools session")
        return await asyncio.to_thread(cdp.evaluate, expression, time.monotonic() + CALL_TIMEOUT_S)

    async def run(self) -> ViewerRaw:
        """Join, watch, leave; never raises for a failed viewer (``raw.error``), only for
        cancellation."""
        from netem_profiles.loader import load_profile

        self.raw.join_start_ms = self.clock_ms()
        path = BrowserPath(
            load_profile(self.spec.profile), self.whep_url, self.session,
            random.Random(self.spec.seed),
        )  # fmt: skip
        profile_dir = Path(tempfile.mkdtemp(prefix="livelab-chromium-"))
        try:
            await path.start()
            self.pages.paths[self.spec.index] = path
            # Started from the loop's thread: the browser dies with it (PR_SET_PDEATHSIG).
            self.browser = start(
                profile_dir, WEBRTC_FLAGS, url=self.pages.page_url(self.spec.index)
            )
            await asyncio.to_thread(wait_devtools, self.browser, START_TIMEOUT_S)
            sampler = TreeSampler(self.browser.pid)
            await asyncio.to_thread(sampler.sample)
            ws_url = await asyncio.to_thread(self.browser.page_ws_url)
            self._cdp = await asyncio.to_thread(Cdp, ws_url, CALL_TIMEOUT_S)
            await self._wait_page()
            joined = await self._eval(f"livelab.join({json.dumps(f'/v/{self.spec.index}/whep')})")
            self.raw.join_start_ms = float(joined["t0"])
            if joined.get("error"):
                raise RuntimeError(path.error or joined["error"])
            await self._watch(sampler)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a viewer that fails is a measurement, not a crash
            self.raw.error = self.raw.error or f"{type(exc).__name__}: {exc}"
            log.warning("browser viewer %d failed: %s", self.spec.index, self.raw.error)
        finally:
            self.raw.end_ms = self.clock_ms()
            await self._leave(path)
            shutil.rmtree(profile_dir, ignore_errors=True)
        self.raw.candidates = list(path.offer_hosts)
        self.raw.remote_candidates = list(path.answer_hosts)
        watched_s = (self.raw.end_ms - self.raw.join_start_ms) / 1000.0
        if self.raw.error is None and not self.raw.frame_ms and watched_s >= NO_VIDEO_AFTER_S:
            self.raw.error = f"no video frame in {watched_s:.0f} s of watching"
        return self.raw

    async def _wait_page(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if await self._eval("typeof livelab !== 'undefined'"):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"viewer page not loaded in {START_TIMEOUT_S:g} s")

    async def _watch(self, sampler: Any) -> None:
        while True:
            remaining_s = (self.stop_at_ms - self.clock_ms()) / 1000.0
            if remaining_s <= 0 or self.stop_event.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), min(SAMPLE_S, remaining_s))
            browser = self.browser
            if browser is None or not browser.alive():
                code = browser.proc.returncode if browser else None
                raise RuntimeError(f"browser exited (code {code}) while watching")
            # psutil walks /proc for the tree: off the loop, so it adds no loop lag.
            cpu, rss = await asyncio.to_thread(sampler.sample)
            self.raw.resources["cpu_pct"].append(cpu)
            self.raw.resources["rss_mb"].append(rss)
            await self._drain()
            if self.raw.error:
                return

    async def _drain(self) -> None:
        d = await self._eval("livelab.drain()")
        # expectedDisplayTime can step back a vsync when the compositor re-plans a late frame;
        # the frame times (for fps and freezes) stay in order, g2g keeps the page's value.
        for t in d["frames"]:
            last = self.raw.frame_ms[-1] if self.raw.frame_ms else float(t)
            self.raw.frame_ms.append(max(float(t), last))
        self.raw.g2g += [(float(t), float(g)) for t, g in d["g2g"]]
        self.raw.g2g_parts += [(float(t), float(a), float(b)) for t, a, b in d.get("parts", [])]
        self.raw.phases.update({k: float(v) for k, v in d["phases"].items()})
        self.raw.counters["unreadable_frames"] = float(d["unreadable"])
        if d.get("error") and self.raw.error is None:
            self.raw.error = f"page: {d['error']}"
        stats = await self._eval("livelab.stats()")
        if stats:
            self._stats(stats, self.clock_ms())

    def _stats(self, stats: dict[str, Any], now_ms: float) -> None:
        s = stats.get("inbound") or {}
        if not s:
            return
        received = int(s.get("packetsReceived", 0))
        lost = max(0, int(s.get("packetsLost", 0)))
        self.raw.streams = [
            {
                "ssrc": s.get("ssrc", 0),
                "packets_received": received,
                "packets_lost": lost,
                "packets_expected": received + lost,
                "bytes_received": int(s.get("bytesReceived", 0)),
                "jitter_ms": float(s.get("jitter", 0.0)) * 1000.0,
            }
        ]
        emitted = float(s.get("jitterBufferEmittedCount", 0))

        def per_frame(key: str) -> float:
            # getStats() sums these (s) over the frames emitted: the mean per frame, in ms
            return float(s.get(key, 0.0)) / emitted * 1000.0 if emitted else 0.0

        self.raw.counters.update(
            browser_freeze_count=float(s.get("freezeCount", 0)),
            browser_frozen_ms=float(s.get("totalFreezesDuration", 0.0)) * 1000.0,
            frames_dropped=float(s.get("framesDropped", 0)),
            frames_decoded=float(s.get("framesDecoded", 0)),
            nacks_sent=float(s.get("nackCount", 0)),
            plis_sent=float(s.get("pliCount", 0)),
            jitter_buffer_delay_ms=per_frame("jitterBufferDelay"),
            jitter_buffer_target_delay_ms=per_frame("jitterBufferTargetDelay"),
            jitter_buffer_minimum_delay_ms=per_frame("jitterBufferMinimumDelay"),
            total_decode_time_ms=float(s.get("totalDecodeTime", 0.0)) * 1000.0,
        )
        self.raw.stat_samples.append(
            (
                now_ms,
                float(s.get("jitterBufferDelay", 0.0)) * 1000.0,
                emitted,
                float(s.get("totalDecodeTime", 0.0)) * 1000.0,
                float(s.get("framesDecoded", 0)),
            )
        )
        total = float(s.get("bytesReceived", 0))
        sec = int(now_ms // 1000)
        self.raw.bytes_by_second[sec] = self.raw.bytes_by_second.get(sec, 0) + int(
            total - self._bytes_last
        )
        self._bytes_last = total

    async def _leave(self, path: BrowserPath) -> None:
        if self._cdp is not None and self.browser is not None and self.browser.alive():
            try:
                await self._drain()
                await self._eval("livelab.leave()")
            except Exception as exc:  # leaving is best effort; the browser dies below
                log.debug("browser viewer %d: leave failed: %s", self.spec.index, exc)
        if self._cdp is not None:
            with contextlib.suppress(Exception):
                self._cdp.close()
        if self.browser is not None:
            await asyncio.to_thread(self.browser.kill)
        self.pages.paths.pop(self.spec.index, None)
        await path.close()
