"""Locust viewers vs a bare websocket-client loop: WebSocket round trips per generator CPU-second.

Both talk to the same reference stack (`--publisher none`, rate limit lifted) with ping → pong round
trips, one after another on one connection, for `SECONDS` each, one after the other. Each
generator counts its round trips and its own process CPU time between the first and the last
one, so the figure is round trips per second per generator core; the target is
Locust / bare >= 0.8 (issue 5). Locust is also run with several users on its one core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

SECONDS = 10.0
TARGET = 0.8

_BARE = r"""
import json, sys, time, websocket
url, seconds = sys.argv[1], float(sys.argv[2])
ws = websocket.create_connection(url, timeout=10)
def rt(i):
    ws.send(json.dumps({"type": "ping", "id": f"b{i}"}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("type") == "pong" and msg.get("id") == f"b{i}":
            return
for i in range(50):
    rt(i)
cpu0, wall0, n = time.process_time(), time.monotonic(), 0
while time.monotonic() - wall0 < seconds:
    n += 1
    rt(n)
print(json.dumps({"count": n, "cpu_s": time.process_time() - cpu0,
                  "wall_s": time.monotonic() - wall0}))
"""


def _join(base: str) -> str:
    req = urllib.request.Request(
        f"{base}/api/rooms/demo/join",
        data=json.dumps({"viewer_id": "bare", "market": "XX"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["ws_url"])


def _bare(base: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _BARE, _join(base), str(SECONDS)],
        capture_output=True, text=True, timeout=SECONDS + 60, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _locust(base: str, users: int, workdir: Path) -> dict[str, float]:
    from loadgen.locust import __file__ as pkg

    result = workdir / f"locust-{users}.json"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(Path(pkg).parent / "benchfile.py"),
         "--headless", "--host", base, "-u", str(users), "-r", str(users),
         "-t", f"{SECONDS + 2:g}s", "--stop-timeout", "5", "--bench-out", str(result),
         "--loglevel", "WARNING", "--only-summary", "--exit-code-on-error", "0"],
        capture_output=True, text=True, timeout=SECONDS + 90, check=True,
    )  # fmt: skip
    return dict(json.loads(result.read_text()))


def _line(name: str, r: dict[str, float]) -> tuple[str, float]:
    rate = r["count"] / r["wall_s"]
    per_core = r["count"] / max(r["cpu_s"], 1e-9)
    cpu = 100.0 * r["cpu_s"] / r["wall_s"]
    return (
        f"  {name:<22} {rate:8.0f} round trips/s   generator CPU {cpu:5.1f} %   "
        f"{per_core:8.0f} round trips per CPU-second",
        per_core,
    )


def main() -> None:
    from stack import start_stack_process, stop_stack_process

    cpus = os.cpu_count()
    load1 = os.getloadavg()
    proc, base = start_stack_process(
        ["--publisher", "none", "--rate-limit", "1000000"], timeout_s=30
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bare = _bare(base)
            one = _locust(base, 1, Path(tmp))
            many = _locust(base, 8, Path(tmp))
    finally:
        stop_stack_process(proc)
    after = os.getloadavg()[0]
    print(f"machine: {cpus} CPUs, load average before {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f}, after {after:.2f} (other work shares these cores)")  # fmt: skip
    text, bare_per_core = _line("bare websocket-client", bare)
    print(text)
    text, one_per_core = _line("Locust, 1 user", one)
    print(text)
    text, many_per_core = _line("Locust, 8 users", many)
    print(text)
    print(f"  ratio Locust/bare per generator core: {one_per_core / bare_per_core:.2f} (1 user), "
          f"{many_per_core / bare_per_core:.2f} (8 users); target >= {TARGET}")  # fmt: skip


if __name__ == "__main__":
    main()
