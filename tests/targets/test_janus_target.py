"""Janus (Debian's package) as a third-party media target, in the test's own two namespaces.

`livelab host --rtp` feeds a Janus Streaming RTP mountpoint in namespace A; `livelab panel`
views it through Janus's HTTP API from namespace B, half of the probes behind ``delay 100ms``.
Through Janus the delayed viewers measure about 100 ms more glass-to-glass latency than the
clean ones. `livelab run --media` does the same inside a whole run, with the interaction load
on the reference stack it starts in namespace B (on B's own loopback).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.panel.janus import JanusTarget
from tests.targets.janus_lab import VIDEO_PORT, JanusLab, janus_lab, unavailable


def test_janus_target_url_names_the_api_and_the_mountpoint() -> None:
    t = JanusTarget.parse("janus+http://10.250.77.1:8088/janus?mountpoint=1")
    assert t == JanusTarget("http://10.250.77.1:8088/janus", 1)
    assert JanusTarget.parse("janus+https://h:8089/j/?mountpoint=cam").api_url == "https://h:8089/j"
    assert JanusTarget.parse("janus+https://h:8089/j/?mountpoint=cam").mountpoint == "cam"
    with pytest.raises(ValueError, match="mountpoint"):
        JanusTarget.parse("janus+http://127.0.0.1:8088/janus")


def test_panel_refuses_a_janus_url_without_mountpoint() -> None:
    proc = subprocess.run(
        [
            *[sys.executable, "-m", "livelab", "panel"],
            *["--whep", "janus+http://127.0.0.1:8088/janus"],
            *["--viewers", "1", "--out", "/nonexistent/never-written"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "mountpoint" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def fed_janus() -> Iterator[tuple[JanusLab, subprocess.Popen[str]]]:
    """The lab, with `livelab host --rtp` feeding the mountpoint from namespace A."""
    if (why := unavailable()) is not None:
        pytest.skip(why)
    with janus_lab() as lab:
        host = subprocess.Popen(
            [
                *lab.in_a(sys.executable, "-m", "livelab", "host"),
                *["--rtp", f"{lab.addr_a}:{VIDEO_PORT}", "--allow-remote", "--duration", "300s"],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield lab, host
        finally:
            host.terminate()
            _, err = host.communicate(timeout=20)
        assert "Traceback" not in err, err


def _janus_log(lab: JanusLab) -> str:
    return (lab.workdir / "janus.log").read_text(errors="replace")[-3000:]


@pytest.mark.slow
def test_panel_through_janus_sees_the_profile_delay_in_g2g(
    fed_janus: tuple[JanusLab, subprocess.Popen[str]], tmp_path: Path
) -> None:
    lab, _ = fed_janus
    out = tmp_path / "panel"
    panel = subprocess.run(
        [
            *lab.in_b(sys.executable, "-m", "livelab", "panel", "--media"),
            *[lab.media_target, "--allow-remote", "--viewers", "4", "--probes", "4"],
            *["--processes", "1", "--profiles", "delay 0ms:0.5,delay 100ms:0.5"],
            *["--duration", "20s", "--out", str(out)],
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert panel.returncode == 0, f"{panel.stdout}\n{panel.stderr}\n{_janus_log(lab)}"
    assert "4/4 viewers ok" in panel.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    clean = metrics["profiles"]["delay 0ms"]["g2g_latency_ms"]
    delayed = metrics["profiles"]["delay 100ms"]["g2g_latency_ms"]
    assert clean["n"] > 100 and delayed["n"] > 100, (clean, delayed)
    extra = delayed["p50"] - clean["p50"]
    assert 70.0 <= extra <= 130.0, (clean, delayed)
    # Every viewer's media came from Janus's veth address, never from anywhere else.
    viewers = json.loads((out / "panel.json").read_text())["viewers"]
    assert {h for v in viewers for h in v["remote_candidates"]} == {lab.addr_a}
    assert {h for v in viewers for h in v["candidates"]} == {lab.addr_b}


@pytest.mark.slow
def test_run_with_media_through_janus_and_interaction_on_the_reference_stack(
    fed_janus: tuple[JanusLab, subprocess.Popen[str]], tmp_path: Path
) -> None:
    lab, _ = fed_janus
    out = tmp_path / "run"
    small = ["--set", "load.scale=100", "--set", "load.actor_scale=100"]
    run = subprocess.run(
        [
            *lab.in_b(sys.executable, "-m", "livelab", "run", "scenarios/ci_smoke.toml"),
            *["--media", lab.media_target, "--allow-remote", "--no-report", "--out", str(out)],
            *small,
            *["--set", "load.window_s=20"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}\n{_janus_log(lab)}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["valid"], metrics["meta"]
    overall = metrics["overall"]
    assert overall["g2g_latency_ms"]["n"] > 50  # media: the panel, through Janus
    assert overall["join_ms"]["n"] > 0  # interaction: Locust, on the reference stack
    panel = json.loads((out / "panel.json").read_text())
    assert panel["meta"]["whep_url"] == lab.media_target
