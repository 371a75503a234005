"""`run_panel` and `livelab panel` end to end: spawned panel processes against a stack process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time

import psutil
import pytest

from loadgen.panel import HealthLimits, PanelConfig, run_panel, write_outputs
from loadgen.panel.health import judge_health

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack_url():
    from stack.testing import start_stack_process, stop_stack_process

    proc, url = start_stack_process([])
    try:
        yield url
    finally:
        stop_stack_process(proc)


def _children() -> set[int]:
    """Live child processes, minus multiprocessing's resource tracker (it lives as long as this
    interpreter, by design, and is not a panel process)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                p.cmdline()
            ):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_cli_writes_panel_timeseries_and_metrics(stack_url, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "livelab", "panel",
        "--whep", f"{stack_url}/whep/demo",
        "--viewers", "6", "--probes", "2",
        "--profiles", "delay 0ms:0.5,delay 40ms 5ms loss 1%:0.5",
        "--duration", "12s", "--processes", "2", "--seed", "3",
        "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6/6 viewers ok" in done.stdout

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["valid"] is True and metrics["meta"]["notes"] == []
    assert set(metrics["profiles"]) == {"delay 0ms", "delay 40ms 5ms loss 1%"}
    for figs in [metrics["overall"], *metrics["profiles"].values()]:
        assert set(figs["g2g_latency_ms"]) == {"p50", "p95", "p99", "mean", "n"}
        assert figs["g2g_latency_ms"]["n"] > 50
        assert figs["fps"]["p50"] > 12
        assert set(figs["freeze_ratio"]) == {"value"}
        assert figs["first_frame_ms"]["n"] in (3, 6)  # per profile, overall
    assert metrics["overall"]["loadgen_cpu"]["n"] > 0
    assert metrics["overall"]["loop_lag_ms"]["p95"] is not None
    lossy = metrics["profiles"]["delay 40ms 5ms loss 1%"]
    assert (
        lossy["packet_loss"]["value"] > 0
        and metrics["profiles"]["delay 0ms"]["packet_loss"]["value"] == 0
    )

    panel = json.loads((out / "panel.json").read_text())
    assert len(panel["viewers"]) == 6
    v = panel["viewers"][0]
    assert {"profile", "kind", "phases", "stats"} <= set(v)
    assert {"signalling_ms", "ice_connected_ms", "first_packet_ms", "first_frame_ms"} <= set(
        v["phases"]
    )
    assert {"nacks_sent", "plis_sent", "jitter_ms", "bitrate_kbps", "streams"} <= set(v["stats"])
    assert len(panel["health"]) == 2
    assert sum(x["kind"] == "probe" for x in panel["viewers"]) == 2

    with (out / "panel_timeseries.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) == {
        "second", "profile", "viewers_connected", "fps", "bitrate_kbps", "g2g_p50_ms", "freezes",
    }  # fmt: skip
    for profile in ("delay 0ms", "delay 40ms 5ms loss 1%"):
        # Whole seconds with all three of the profile's viewers watching (not the partial first
        # and last). A lossy viewer may stall for a second while it waits for a keyframe, so the
        # lossy profile is judged by its median; the clean one never drops below 5 fps.
        busy = [r for r in rows if r["profile"] == profile and int(r["viewers_connected"]) == 3]
        fps = sorted(float(r["fps"]) for r in busy[1:-1])
        assert len(fps) >= 5, (profile, busy)
        assert fps[len(fps) // 2] > 12, (profile, fps)
        if profile == "delay 0ms":
            assert fps[0] > 5, fps


def test_stop_event_ends_early_with_partial_results_and_no_orphans(stack_url, tmp_path):
    before = _children()
    config = PanelConfig(
        whep_url=f"{stack_url}/whep/demo",
        viewers=4,
        probes=1,
        duration_s=120.0,
        processes=2,
        ramp_s=1.0,
        health=HealthLimits(warmup_s=0.0),
    )
    stop = threading.Event()
    seen: list[dict] = []

    def progress(p: dict) -> None:
        seen.append(p)
        if p["frames"] > 100:
            stop.set()

    t0 = time.monotonic()
    result = run_panel(config, progress, stop_event=stop)
    assert time.monotonic() - t0 < 60.0
    assert result.interrupted and not result.valid
    assert len(result.viewers) == 4 and all(r.error is None for r in result.viewers)
    assert sum(len(r.frame_ms) for r in result.viewers) > 100
    assert seen and seen[-1]["processes"] == 2
    assert _children() - before == set()
    paths = write_outputs(result, tmp_path / "partial")
    meta = json.loads(paths["metrics"].read_text())["meta"]
    assert meta["valid"] is False and any("stopped early" in n for n in meta["notes"])

    # The same samples judged with impossible limits name the process, CPU and lag.
    h = result.health[0]
    strict = judge_health(
        h.process, list(h.cpu_pct), list(h.lag_ms), h.interval_s,
        HealthLimits(max_cpu_pct=0.0, sustain_s=h.interval_s, max_lag_p95_ms=0.0, warmup_s=0),
    )  # fmt: skip
    assert not strict.valid
    assert f"panel process {h.process}" in strict.note and "CPU" in strict.note
    assert "lag" in strict.note


def test_ctrl_c_writes_partial_results_exits_130_and_leaves_no_processes(stack_url, tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C does: the panel processes
    ignore it, the parent stops them cleanly, writes what was measured and exits 130."""
    import os
    import signal

    out = tmp_path / "interrupted"
    cmd = [
        sys.executable, "-m", "livelab", "panel", "--whep", f"{stack_url}/whep/demo",
        "--viewers", "3", "--probes", "1", "--duration", "120s", "--processes", "2",
        "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    lines = []
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "viewers watching    3" in line:
            break
    else:
        proc.kill()
        pytest.fail("panel never had 3 viewers watching:\n" + "".join(lines))
    group = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, stdout + stderr
    meta = json.loads((out / "metrics.json").read_text())["meta"]
    assert meta["valid"] is False and meta["interrupted"] is True
    panel = json.loads((out / "panel.json").read_text())
    assert len(panel["viewers"]) == 3 and all(v["stats"]["frames"] > 0 for v in panel["viewers"])
    # The panel processes were joined before the parent exited; multiprocessing's resource
    # tracker leaves when its pipe closes. Poll (bounded) rather than sleep.
    end = time.monotonic() + 10.0
    while (alive := _alive(group)) and time.monotonic() < end:
        time.sleep(0.1)
    assert alive == [], alive


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_unreachable_target_exits_3_with_the_errors_recorded(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "down"
    cmd = [
        sys.executable, "-m", "livelab", "panel", "--whep", f"http://127.0.0.1:{port}/whep/demo",
        "--viewers", "2", "--duration", "5s", "--processes", "1", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no viewer could watch" in done.stderr
    panel = json.loads((out / "panel.json").read_text())
    assert all("Connect" in v["error"] or "refused" in v["error"] for v in panel["viewers"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["error_rate"]["value"] == 1.0


def test_cancelling_run_panel_async_stops_the_processes(stack_url):
    import asyncio

    from loadgen.panel import run_panel_async

    before = _children()
    config = PanelConfig(
        whep_url=f"{stack_url}/whep/demo", viewers=2, duration_s=120.0, processes=1, ramp_s=0.5
    )

    async def go() -> None:
        watching = asyncio.Event()
        loop = asyncio.get_running_loop()

        def progress(p: dict) -> None:
            if p["connected"] == 2:
                loop.call_soon_threadsafe(watching.set)

        task = asyncio.ensure_future(run_panel_async(config, progress))
        await asyncio.wait_for(watching.wait(), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 60)

    t0 = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - t0 < 90
    assert _children() - before == set()
