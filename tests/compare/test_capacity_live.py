"""The capacity search for real: Locust viewers (subprocess) and a one-viewer media panel
against the reference stack on loopback, small steps. A healthy stack holds both steps; one with
an 800 ms chat delay breaks the 600 ms chat gate at the first step."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios import SCENARIO_DIR
from stack.testing import start_stack_process, stop_stack_process

pytestmark = pytest.mark.slow

FAST = ["--step-duration", "6", "--ramp", "1", "--refine", "0"]


def livelab(*args: str, timeout_s: float = 150.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livelab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_capacity_search_against_the_reference_stack(tmp_path: Path) -> None:
    out = tmp_path / "cap"
    done = livelab(
        "capacity", str(SCENARIO_DIR / "demo.toml"), "--steps", "4,8", *FAST,
        "--panel-viewers", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((out / "capacity.json").read_text())
    steps = doc["curve"]["steps"]
    assert [s["audience"] for s in steps] == [4, 8]
    for s in steps:
        assert s["valid"], s["notes"]
        f = s["figures"]
        assert f["error_rate"] == 0.0
        assert f["chat_rtt_ms.p95"] is not None and 0 < f["chat_rtt_ms.p95"] < 600
        assert f["join_ms.p95"] is not None and f["join_ms.p95"] < 2000
        assert s["requests"] >= 2 * s["audience"] + 20  # joins, connects and ≥ 20 chats
        # one aiortc probe watched the synthetic host over WHEP and read the barcode
        assert f["g2g_latency_ms.p95"] is not None and 0 < f["g2g_latency_ms.p95"] < 600
        assert f["first_frame_ms.p95"] is not None
    assert doc["knee"]["viewers"] == 8 and doc["knee"]["bound"] == "steps"
    assert doc["knee"]["measured"] is True
    for p in doc["plan"]:
        assert p["instances"] == math.ceil(round(p["peak_concurrent"] * 1.3 / 8, 9))
    assert (out / "capacity.png").stat().st_size > 5000
    assert "| 8 |" in (out / "capacity.md").read_text()
    assert (out / "steps" / "step-000004" / "samples.json").is_file()
    assert (out / "steps" / "step-000004" / "panel" / "panel.json").is_file()
    assert "g2g_latency_ms.p95 < 600" in doc["curve"]["limits"]


def test_a_slow_stack_breaks_the_chat_gate_at_the_first_step(tmp_path: Path) -> None:
    proc, base_url = start_stack_process(
        ["--publisher", "none", "--fault", "chat_delay_ms=800"], timeout_s=30.0
    )
    try:
        out = tmp_path / "cap"
        done = livelab(
            "capacity", str(SCENARIO_DIR / "demo.toml"), "--target", base_url,
            "--steps", "4", *FAST, "--out", str(out),
        )  # fmt: skip
    finally:
        stop_stack_process(proc)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "even 4 viewers break the limits" in done.stderr
    curve = json.loads((out / "capacity.json").read_text())["curve"]
    (step,) = curve["steps"]
    assert step["figures"]["chat_rtt_ms.p95"] >= 800
    assert step["broken"] == ["chat_rtt_ms.p95 < 600"] and curve["knee"] is None
