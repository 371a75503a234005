"""Janus (Debian's package) as a third-party media target, in the test's own two namespaces.

`livelab host --rtp` feeds a Janus Streaming RTP mountpoint in namespace A; `livelab panel`
views it through Janus's HTTP API from namespace B, half of the probes behind ``delay 100ms``.
Through Janus the delayed viewers measure about 100 ms more glass-to-glass latency than the
clean ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.panel.janus import JanusTarget
from tests.targets.janus_lab import VIDEO_PORT, janus_lab, unavailable


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


@pytest.mark.slow
@pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
def test_panel_through_janus_sees_the_profile_delay_in_g2g(tmp_path: Path) -> None:
    out = tmp_path / "panel"
    with janus_lab() as lab:
        host = subprocess.Popen(
            [
                *lab.in_a(sys.executable, "-m", "livelab", "host"),
                *["--rtp", f"{lab.addr_a}:{VIDEO_PORT}", "--allow-remote", "--duration", "120s"],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
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
        finally:
            host.terminate()
            _, host_err = host.communicate(timeout=20)
            janus_log = (lab.workdir / "janus.log").read_text(errors="replace")
    assert panel.returncode == 0, f"{panel.stdout}\n{panel.stderr}\n{janus_log[-3000:]}"
    assert "4/4 viewers ok" in panel.stdout
    assert "Traceback" not in host_err, host_err
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
