"""Headless Chromium (Debian's ``/usr/bin/chromium``) started and driven over the DevTools protocol.

`launch` (`start`, then `wait_devtools`) starts one browser with its own profile directory and
``--remote-debugging-port=0``, reads the port from ``DevToolsActivePort`` and returns a
`Chromium`. The browser runs in its own
session (process group), so a terminal's Ctrl-C reaches the panel, not the browser, and
`Chromium.kill` ends the whole tree (renderer, GPU and utility processes) with one ``killpg``.
With ``die_with_parent`` the kernel SIGKILLs the browser when the process that launched it dies
(``PR_SET_PDEATHSIG``), so a panel process killed with SIGKILL leaves no browser behind.

`Cdp` is a small synchronous DevTools client (websocket-client): `Cdp.call` sends a command and
waits for its answer, keeping the events seen meanwhile; `Cdp.wait_event` waits for one event.
Every wait has a deadline (``time.monotonic()`` s). Async callers run it with
``asyncio.to_thread``. Used by the panel's browser viewers and the report tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BASE_FLAGS",
    "CHROMIUM",
    "Cdp",
    "Chromium",
    "die_with_parent",
    "launch",
    "start",
    "wait_devtools",
]

CHROMIUM = Path("/usr/bin/chromium")
BASE_FLAGS = (
    "--headless=new",
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
_PR_SET_PDEATHSIG = 1
# Chromium puts its SingletonSocket under $TMPDIR and aborts when the socket path passes the
# 108 bytes of a Unix socket address; a deep TMPDIR (pytest's, for one) is swapped for /tmp.
_MAX_TMPDIR = 60


def _env() -> dict[str, str]:
    import tempfile

    env = dict(os.environ)
    if len(tempfile.gettempdir()) > _MAX_TMPDIR:
        env["TMPDIR"] = "/tmp"
    return env


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; a no-op elsewhere),
    and die now if the parent is already gone (the request would come too late)."""
    parent = os.getppid()
    try:
        _die_with_parent()
    except (OSError, AttributeError):  # no prctl: the parent's own cleanup has to do
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Chromium:
    """A running browser: its process (the group leader), DevTools port and profile dir."""

    proc: subprocess.Popen[bytes]
    port: int
    profile_dir: Path
    killed: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        """True while the browser process runs."""
        return self.proc.poll() is None

    def page_ws_url(self, timeout_s: float = 10.0) -> str:
        """The DevTools websocket URL of the browser's first page (tab)."""
        url = f"http://127.0.0.1:{self.port}/json/list"
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            targets = json.loads(resp.read())
        page = next(t for t in targets if t.get("type") == "page")
        return str(page["webSocketDebuggerUrl"])

    def kill(self) -> None:
        """SIGKILL the browser's whole process group and reap the leader (idempotent)."""
        if not self.killed:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):  # already gone, with its group
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.returncode is None:
            self.proc.wait(timeout=30)


def start(
    profile_dir: Path,
    flags: Sequence[str] = (),
    *,
    url: str = "about:blank",
    die_with_parent: bool = True,
) -> Chromium:
    """Start `CHROMIUM` with `BASE_FLAGS` + ``flags`` on ``url`` (port not known yet: see
    `wait_devtools`). With ``die_with_parent`` the browser is SIGKILLed when the *thread* that
    called this ends, so call it from a thread that lives as long as the browser should (the
    event loop's). Raises `FileNotFoundError` without Chromium."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} not found: install Debian's chromium package")
    proc = subprocess.Popen(
        [str(CHROMIUM), *BASE_FLAGS, *flags, f"--user-data-dir={profile_dir}", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=_env(),
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )
    return Chromium(proc=proc, port=0, profile_dir=profile_dir)


def wait_devtools(browser: Chromium, timeout_s: float = 30.0) -> int:
    """Wait (≤ ``timeout_s`` s) for the browser's ``DevToolsActivePort``; sets and returns the
    port. Raises `TimeoutError` (after killing the browser) when it does not appear."""
    deadline = time.monotonic() + timeout_s
    port_file = browser.profile_dir / "DevToolsActivePort"
    try:
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or browser.proc.poll() is not None:
                raise TimeoutError(
                    f"chromium did not start its DevTools endpoint in {timeout_s:g} s "
                    f"(exit code {browser.proc.poll()})"
                )
            time.sleep(0.05)
        browser.port = int(port_file.read_text().split()[0])
    except BaseException:
        browser.kill()
        raise
    return browser.port


def launch(
    profile_dir: Path,
    flags: Sequence[str] = (),
    *,
    url: str = "about:blank",
    timeout_s: float = 30.0,
    die_with_parent: bool = True,
) -> Chromium:
    """`start` then `wait_devtools`: a browser whose DevTools endpoint answers."""
    browser = start(profile_dir, flags, url=url, die_with_parent=die_with_parent)
    wait_devtools(browser, timeout_s)
    return browser


class Cdp:
    """A DevTools session on one websocket URL (a page target)."""

    def __init__(self, url: str, timeout: float) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, deadline: float, **params: Any) -> dict[str, Any]:
        """Send ``method`` and return its result; raises `RuntimeError` for a DevTools error
        and `TimeoutError` past ``deadline``."""
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

    def evaluate(self, expression: str, deadline: float) -> Any:
        """``Runtime.evaluate`` (promises awaited) → the value; raises `RuntimeError` when the
        page threw."""
        out = self.call(
            "Runtime.evaluate",
            deadline,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in out:
            details = out["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"page script failed: {text}")
        return out.get("result", {}).get("value")

    def wait_event(self, method: str, deadline: float) -> dict[str, Any]:
        """The first event ``method`` (seen before or arriving before ``deadline``)."""
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                event: dict[str, Any] = msg
                return event
            self.events.append(msg)
        raise TimeoutError(method)

    def close(self) -> None:
        self.ws.close()
