"""`--json` summaries of run, gate, capacity and compare; `livelab run` exits 3 when invalid."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from livelab.cli import main

LIVELAB = [sys.executable, "-m", "livelab"]


@pytest.mark.slow
def test_an_invalid_run_exits_3_with_a_json_summary_and_gate_refuses_it(tmp_path, capsys):
    out = tmp_path / "run"
    # A start-lag limit no generator can meet: the run happens and is marked invalid.
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/ci_smoke.toml", "--out", str(out), "--json",
         "--no-panel", "--no-report", "--set", "load.window_s=10", "--set", "load.drain_s=0",
         "--set", "load.max_start_lag_s=0.000001"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # stdout holds the JSON document and nothing else
    assert summary["valid"] is False and summary["exit_code"] == 3
    assert any("generator saturated" in n for n in summary["notes"])
    assert summary["measured_p95_ms"]["join_ms"] > 0
    assert "INVALID" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads((out / "metrics.json").read_text())["meta"]["valid"] is False

    capsys.readouterr()
    code = main(["gate", "scenarios/ci_smoke.toml", "--from", str(out), "--json", "--no-report",
                 "--index", str(tmp_path / "index.sqlite")])  # fmt: skip
    verdict = json.loads(capsys.readouterr().out)
    assert code == 3 and verdict["status"] == "invalid" and verdict["exit_code"] == 3


def test_capacity_json(tmp_path, capsys):
    argv = ["capacity", "scenarios/ci_smoke.toml", "--knee", "500", "--json",
            "--out", str(tmp_path / "cap")]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["knee"]["viewers"] == 500 and doc["plan"][0]["instances"] >= 1
    assert set(doc["files"]) == {"capacity.md", "capacity.json", "capacity.png"}


def test_compare_json(tmp_path, capsys):
    argv = ["compare", "scenarios/strategies_sea_vs_eu.toml", "--variants", "every20,social",
            "--replications", "2", "--executor", "serial", "--set", "stream.duration_min=10",
            "--json", "--out", str(tmp_path / "cmp")]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["variants"] == ["every20", "social"] and doc["replications"] == 2
    scopes = {r["scope"] for r in doc["recommendations"]}
    assert "overall" in scopes and all(r["best"] in doc["variants"] for r in doc["recommendations"])
