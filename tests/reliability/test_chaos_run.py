"""`livelab chaos` for real: a short replay, `kill -9` twice with orders in flight, and a stack
whose ledger is not durable (in memory) to show the check fails when it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parents[2] / "scenarios" / "ci_smoke.toml"


def _chaos(out: Path, *args: str, timeout_s: float = 240.0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "livelab", "chaos", str(SCENARIO), "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)


def test_two_kills_lose_and_double_nothing(tmp_path: Path) -> None:
    done = _chaos(tmp_path / "run", "--set", "load.window_s=30", "--at", "10s,20s",
                  "--orders-per-min", "30")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((tmp_path / "run" / "chaos.json").read_text())
    assert doc["kills"] == 2 and doc["ok"] is True
    assert (doc["lost"], doc["duplicate_keys"], doc["replay_mismatches"]) == (0, 0, 0)
    # ~45 viewers x 30 orders/min x ~25 s: hundreds acknowledged, all replayed, all stored.
    assert doc["acknowledged"] >= 100 and doc["replays"] == doc["acknowledged"]
    assert doc["ledger_rows"] >= doc["acknowledged"]
    for restart in doc["restarts"]:
        assert 0 < restart["outage_s"] < 30
        assert restart["dropped"] > 0  # the kill cut live sockets
        assert restart["reconnected"] >= 0.9 * restart["dropped"]
        assert restart["reconnect_p95_s"] is not None
    assert "PASS" in done.stdout and "orders lost" in done.stdout


def test_a_ledger_that_forgets_fails_the_run(tmp_path: Path) -> None:
    # --db :memory: after the chaos run's own --db: the restarted stack remembers nothing.
    done = _chaos(tmp_path / "run", "--set", "load.window_s=20", "--at", "8s",
                  "--orders-per-min", "30", "--stack-arg=--db=:memory:")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    doc = json.loads((tmp_path / "run" / "chaos.json").read_text())
    assert doc["ok"] is False and doc["lost"] == doc["acknowledged"] > 0
    assert doc["replay_mismatches"] > 0  # orders of the first life come back as new orders
    assert "FAIL" in done.stdout


def test_a_moment_outside_the_window_is_exit_2(tmp_path: Path) -> None:
    done = _chaos(tmp_path / "run", "--set", "load.window_s=20", "--at", "5m", timeout_s=120)
    assert done.returncode == 2
    assert "--at" in done.stderr and "Traceback" not in done.stderr
