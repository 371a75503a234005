"""Open a local HTML file in headless Chromium over the DevTools protocol (tests only).

Starts `/usr/bin/chromium` with its own profile directory and `--remote-debugging-port=0`,
reads the port from `DevToolsActivePort`, and drives one page with websocket-client: collects
console errors, uncaught exceptions and failed requests, evaluates a script, and captures a
full-page screenshot. Every wait has a deadline; the browser is always killed at the end.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


@dataclass
class PageResult:
    """What the page did: its script result, problems seen, and the screenshot written."""

    value: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class _Cdp:
    def __init__(self, url: str, timeout: float) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, deadline: float, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_event(self, method: str, deadline: float) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            self.events.append(msg)
        raise TimeoutError(method)


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
    proc = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, *flags, f"--user-data-dir={profile_dir}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile_dir / "DevToolsActivePort"
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise TimeoutError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.loads(resp.read())
        page = next(t for t in targets if t.get("type") == "page")
        cdp = _Cdp(page["webSocketDebuggerUrl"], timeout=max(1.0, deadline - time.monotonic()))
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
        proc.kill()
        proc.wait(timeout=30)
