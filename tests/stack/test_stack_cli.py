"""`livelab stack serve` as a user runs it: port 0, ready file, clean SIGTERM, refusals."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest

from stack.testing import start_stack_process, stop_stack_process


def test_serve_port_0_prints_url_and_stops_cleanly_on_sigterm() -> None:
    proc, base = start_stack_process(["--publisher", "none"], timeout_s=30)
    try:
        assert base.startswith("http://127.0.0.1:") and not base.endswith(":0")
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
    finally:
        code = stop_stack_process(proc)
    assert code == 0
    log = proc.log_text  # type: ignore[attr-defined]
    assert f"listening on {base}" in log
    assert "Traceback" not in log
    # The ready file and log folder are gone after a clean stop.
    assert not os.path.exists(proc.workdir)  # type: ignore[attr-defined]


def test_failed_start_keeps_its_log_and_names_it() -> None:
    with pytest.raises(RuntimeError, match=r"log kept: (/\S+/serve\.log)") as info:
        start_stack_process(["--bind", "0.0.0.0"], timeout_s=30)
    path = re.search(r"log kept: (\S+/serve\.log)", str(info.value))
    assert path is not None and os.path.exists(path.group(1))
    with open(path.group(1), encoding="utf-8") as fh:
        assert "--allow-remote" in fh.read()
    shutil.rmtree(os.path.dirname(path.group(1)))


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livelab", "stack", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_remote_bind_needs_allow_remote() -> None:
    result = _serve("--bind", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_bad_fault_is_a_config_error() -> None:
    result = _serve("--fault", "error_rate=7", "--port", "0")
    assert result.returncode == 2
    assert "error_rate" in result.stderr and "Traceback" not in result.stderr


def test_short_mini_peak_period_from_the_command_line() -> None:
    import asyncio

    import aiohttp

    proc, base = start_stack_process(
        ["--publisher", "none", "--mini-peak-every", "1s"], timeout_s=30
    )

    async def first_peak() -> list[str]:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{base}/api/rooms/demo/join", json={"viewer_id": "v", "market": "UK"}
            ) as resp:
                ws_url = (await resp.json())["ws_url"]
            seen: list[str] = []
            async with session.ws_connect(ws_url) as ws:
                while "lottery" not in seen:
                    msg = json.loads((await ws.receive(timeout=5)).data)
                    seen += [m["type"] for m in msg.get("messages", [msg])]
            return seen

    try:
        seen = asyncio.run(asyncio.wait_for(first_peak(), 20))
    finally:
        assert stop_stack_process(proc) == 0
    assert "countdown" in seen and seen.index("countdown") < seen.index("lottery")
