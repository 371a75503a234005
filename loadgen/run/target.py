"""The target: is it allowed (loopback unless --allow-remote), is it up, and when was it down.

Plain standard-library HTTP (urllib), so the orchestrator needs neither gevent nor asyncio.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from livelab.errors import ConfigError, Problem, TargetError
from netem_profiles import netio
from stack import poll_until

__all__ = ["HealthMonitor", "check_allowed", "fetch", "is_loopback", "wait_healthy"]


def is_loopback(url: str) -> bool:
    """True when the URL's host is localhost or a loopback address."""
    return netio.is_loopback(urlsplit(url).hostname or "")


def check_allowed(url: str, allow_remote: bool) -> None:
    """ConfigError for a malformed URL, or a non-loopback one without --allow-remote."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([Problem("--target", "", url, "an http(s)://HOST:PORT URL")])
    if not is_loopback(url) and not allow_remote:
        raise ConfigError(
            [Problem("--target", "", url, "a 127.0.0.1 URL, or add --allow-remote to load it")]
        )


def fetch(url: str, timeout_s: float = 2.0) -> bytes:
    """GET `url`; raises OSError (urllib.error.URLError included) on any failure."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        body: bytes = resp.read()
        return body


def wait_healthy(base_url: str, timeout_s: float = 5.0) -> None:
    """Return once GET /healthz answers; TargetError (exit 3) after `timeout_s` seconds."""
    last: list[Exception] = []

    def answers() -> bool | None:
        try:
            fetch(f"{base_url}/healthz", timeout_s=min(2.0, timeout_s))
            return True
        except (TimeoutError, OSError) as exc:
            last[:] = [exc]
            return None

    try:
        poll_until(answers, alive=lambda: True, timeout_s=timeout_s, interval_s=0.2)
    except TimeoutError:
        raise TargetError(
            f"target {base_url} is not answering GET /healthz within {timeout_s:g} s "
            f"({last[0] if last else 'no answer'})"
        ) from None


@dataclass
class HealthMonitor:
    """Polls /healthz every `interval_s` in a thread; records outages as (start_s, end_s) in
    seconds of `clock` (end None while still down)."""

    base_url: str
    clock: Callable[[], float]
    interval_s: float = 0.5
    outages: list[list[float | None]] = field(default_factory=list)
    checks: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="healthz", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def down(self) -> bool:
        return bool(self.outages) and self.outages[-1][1] is None

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            try:
                fetch(f"{self.base_url}/healthz", timeout_s=max(self.interval_s, 1.0))
                ok = True
            except (TimeoutError, OSError):
                ok = False
            self.checks += 1
            if not ok and not self.down:
                self.outages.append([round(now, 2), None])
            elif ok and self.down:
                self.outages[-1][1] = round(self.clock(), 2)
            self._stop.wait(self.interval_s)
