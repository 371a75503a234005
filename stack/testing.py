"""Helpers for tests (this project's and other helpers'): start the stack on a free port.

`running_stack(**options)` runs it in-process (asyncio tests); `start_stack_process(args)` runs
`livelab stack serve --port 0` in a subprocess and returns once it is listening (for Locust and
crash tests). Importing this module pulls in neither aiortc nor aiohttp.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["running_stack", "running_stack_server", "start_stack_process", "stop_stack_process"]


@contextlib.asynccontextmanager
async def running_stack(**options: Any) -> AsyncIterator[str]:
    """In-process stack on 127.0.0.1:0; yields its base URL (``http://127.0.0.1:PORT``).

    `options` are `stack.options.StackOptions` fields, e.g. ``host="none"``,
    ``faults={"chat_delay_ms": 800}``, ``mini_peak_every_s=2``.
    """
    async with running_stack_server(**options) as server:
        yield server.base_url


@contextlib.asynccontextmanager
async def running_stack_server(**options: Any) -> AsyncIterator[Any]:
    """Like `running_stack`, but yields the `StackServer` (its `.base_url`, metrics, media)."""
    from stack.options import StackOptions
    from stack.serve import run_server

    options.setdefault("port", 0)
    options.setdefault("bind", "127.0.0.1")
    async with run_server(StackOptions(**options)) as server:
        yield server


def start_stack_process(
    args: list[str], timeout_s: float = 20.0, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Launch ``livelab stack serve --port 0 --ready-file F *args``; wait for it to listen.

    Returns (process, base_url). The process's stdout/stderr go to files next to the ready file
    (``proc.log_path``). Raises RuntimeError if it exits first and TimeoutError (after killing
    it) if it is not ready within `timeout_s` seconds. Stop it with `stop_stack_process`.
    """
    workdir = tempfile.mkdtemp(prefix="livelab-stack-")
    ready = os.path.join(workdir, "ready")
    log_path = os.path.join(workdir, "serve.log")
    cmd = [
        sys.executable,
        "-m",
        "livelab",
        "stack",
        "serve",
        "--port",
        "0",
        "--ready-file",
        ready,
        *args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    proc.log_path = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if os.path.exists(ready):
            with open(ready, encoding="utf-8") as fh:
                url = fh.read().strip()
            if url:
                return proc, url
        if proc.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                output = fh.read()
            raise RuntimeError(f"stack exited with {proc.returncode} before ready:\n{output}")
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    raise TimeoutError(f"stack not ready within {timeout_s} s (log: {log_path})")


def stop_stack_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode
