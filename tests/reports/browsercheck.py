"""Open a local HTML file in headless Chromium over the DevTools protocol (tests only).

Starts `/usr/bin/chromium` with `loadgen.panel.browser_process.launch` (its own profile
directory, DevTools on a free loopback port) and drives one page with its `Cdp` client: collects
console errors, uncaught exceptions and failed requests, evaluates a script, and captures a
full-page screenshot. Every wait has a deadline; the browser is always killed at the end.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.panel.browser_process import CHROMIUM, Cdp, launch

__all__ = ["CHROMIUM", "PageResult", "open_page", "open_url"]


@dataclass
class PageResult:
    """What the page did: its script result, problems seen, and the screenshot written."""

    value: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(
    html_file: Path, profile_dir: Path, script: str, screenshot: Path, timeout: float = 60.0
) -> PageResult:
    """Load `html_file`, run `script` (an expression; promises awaited) and save a screenshot."""
    return open_url(html_file.resolve().as_uri(), profile_dir, script, screenshot, timeout)


def open_url(
    url: str,
    profile_dir: Path,
    script: str,
    screenshot: Path,
    timeout: float = 60.0,
    flags: tuple[str, ...] = (),
) -> PageResult:
    """Like `open_page` for any URL, with extra Chromium `flags` (web security stays on)."""
    deadline = time.monotonic() + timeout
    browser = launch(profile_dir, flags, timeout_s=timeout)
    try:
        ws_url = browser.page_ws_url()
        cdp = Cdp(ws_url, timeout=max(1.0, deadline - time.monotonic()))
        for domain in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            cdp.call(domain, deadline)
        cdp.call("Emulation.setDeviceMetricsOverride", deadline, width=1280, height=900,
                 deviceScaleFactor=1, mobile=False)  # fmt: skip
        cdp.call("Page.navigate", deadline, url=url)
        cdp.wait_event("Page.loadEventFired", deadline)
        value = cdp.call(
            "Runtime.evaluate", deadline, expression=script, awaitPromise=True, returnByValue=True
        )
        metrics = cdp.call("Page.getLayoutMetrics", deadline)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = cdp.call(
            "Page.captureScreenshot",
            deadline,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        result = PageResult(value=value.get("result", {}).get("value"))
        for ev in cdp.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                result.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                result.errors.append(params["entry"].get("text", ""))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                result.errors.append(json.dumps(params.get("args", []))[:500])
            elif method == "Network.requestWillBeSent":
                result.requests.append(params.get("request", {}).get("url", ""))
            elif method == "Network.loadingFailed":
                result.errors.append(f"request failed: {params.get('errorText')}")
        cdp.ws.close()
        return result
    finally:
        browser.kill()
