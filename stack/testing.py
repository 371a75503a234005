"""Helpers for tests (this project's and other helpers'): start the stack on a free port.

`running_stack(**options)` runs it in-process (asyncio tests); `start_stack_process(args)` runs
`livelab stack serve --port 0` in a subprocess and returns once it is listening (for Locust and
crash tests). Importing this module pulls in neither aiortc nor aiohttp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

from stack.ready import poll_until, read_ready

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
async def running_stack_server(
    clock_ms: Callable[[], float] | None = None, **options: Any
) -> AsyncIterator[Any]:
    """Like `running_stack`, but yields the `StackServer` (its `.base_url`, metrics, media);
    `clock_ms` (epoch ms) replaces the server's wall clock (`stack.serve.run_server`)."""
    from stack.options import StackOptions
    from stack.serve import run_server

    options.setdefault("port", 0)
    options.setdefault("bind", "127.0.0.1")
    async with run_server(StackOptions(**options), clock_ms) as server:
        yield server


# How much of the server log `stop_stack_process` keeps in `proc.log_text` (the tail), bytes.
LOG_TAIL_BYTES = 1 << 20


def start_stack_process(
    args: list[str], timeout_s: float = 20.0, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Launch ``livelab stack serve --port 0 --ready-file F *args``; wait for it to listen.

    Returns (process, base_url). The ready file and the server's stdout/stderr live in a fresh
    ``/tmp/livelab-stack-*`` folder (``proc.workdir``, log at ``proc.log_path``) that
    `stop_stack_process` removes, after keeping the log's text in ``proc.log_text``. If the
    server exits before it is ready (RuntimeError) or is not ready within `timeout_s` seconds
    (TimeoutError, after killing it), the folder is kept and the error names the log.
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
    proc.workdir = workdir  # type: ignore[attr-defined]
    proc.log_path = log_path  # type: ignore[attr-defined]
    proc.log_text = ""  # type: ignore[attr-defined]
    try:
        url = poll_until(lambda: read_ready(ready), alive=lambda: proc.poll() is None,
                         timeout_s=timeout_s)  # fmt: skip
    except ChildProcessError:
        output = _read_tail(log_path)
        raise RuntimeError(
            f"stack exited with {proc.returncode} before ready (log kept: {log_path}):\n{output}"
        ) from None
    except TimeoutError:
        proc.kill()
        proc.wait(timeout=10)
        raise TimeoutError(f"stack not ready within {timeout_s} s (log kept: {log_path})") from None
    return proc, url


def stop_stack_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL; returns the exit code.

    Then removes the process's ``/tmp/livelab-stack-*`` folder, keeping the log's last
    `LOG_TAIL_BYTES` as ``proc.log_text`` for callers that check what the server printed.
    """
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    finally:
        workdir = getattr(proc, "workdir", None)
        if workdir is not None and proc.poll() is not None:
            proc.log_text = _read_tail(proc.log_path)  # type: ignore[attr-defined]
            shutil.rmtree(workdir, ignore_errors=True)
    return proc.returncode


def _read_tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - LOG_TAIL_BYTES))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
