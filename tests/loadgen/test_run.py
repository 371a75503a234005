"""`livelab run` end to end: real stack, real Locust, real panel, in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadgen.run.measured import market_of_profile
from netem_profiles import free_port

LIVELAB = [sys.executable, "-m", "livelab"]
MARKETS = ("ID", "TH", "SA", "GB")
# A chatty audience (60 comments per viewer-minute in a small room) so one short run of few
# viewers gives hundreds of chat round trips (few viewers: little fan-out, little noise).
CHATTY = [a for m in MARKETS for a in ("--set", f"markets.{m}.behavior.chat_per_min=60")]
# 1 in 100 of the audience and of the commerce actors (the demo replays every actor).
SMALL = ["--no-panel", "--no-report", "--set", "load.scale=100", "--set", "load.actor_scale=100",
         "--set", "load.window_s=50"]  # fmt: skip


def test_unreachable_target_is_a_clear_error_and_keeps_partial_results(tmp_path):
    port = free_port()  # free, so nothing answers there
    out = tmp_path / "run"
    t0 = time.monotonic()
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--target", f"http://127.0.0.1:{port}",
         "--out", str(out), "--no-panel"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "not answering" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 60
    assert (out / "model" / "metrics.json").is_file() and (out / "plan.json").is_file()
    assert json.loads((out / "run.json").read_text())["error"]


def test_remote_target_needs_allow_remote(tmp_path):
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--target", "http://192.0.2.1:8080",
         "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--allow-remote" in proc.stderr
    assert not (tmp_path / "r" / "model").exists()


@pytest.fixture(scope="module")
def clean_and_fault(tmp_path_factory):
    """The same chatty plan against a clean stack and one with chat delayed 800 ms, at once."""
    root = tmp_path_factory.mktemp("fault")
    runs = {}
    for name, extra in (("clean", []), ("fault", ["--fault", "chat_delay_ms=800"])):
        cmd = [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(root / name),
               *SMALL, *CHATTY, *extra]  # fmt: skip
        log = (root / f"{name}.log").open("wb")
        runs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
    docs = {}
    for name, (proc, log) in runs.items():
        rc = proc.wait(timeout=300)
        log.close()
        assert rc == 0, (root / f"{name}.log").read_text()[-3000:]
        docs[name] = json.loads((root / name / "metrics.json").read_text())
    return docs


@pytest.mark.slow
def test_chat_delay_fault_shows_in_chat_rtt_and_in_retention(clean_and_fault):
    clean, fault = clean_and_fault["clean"], clean_and_fault["fault"]
    c, f = clean["overall"]["chat_rtt_ms"], fault["overall"]["chat_rtt_ms"]
    rise = f["p95"] - c["p95"]
    print(f"\nchat_rtt_ms p95 clean {c['p95']:.1f} (n={c['n']}), fault {f['p95']:.1f}, +{rise:.1f}")
    assert c["n"] >= 100 and f["n"] >= 100
    assert f["p95"] - c["p95"] >= 800.0, (c, f)
    # Every market's measured chat went back into the model (per profile); retention falls only
    # with the fault.
    fed = fault["with_measured_qoe"]["fed_back"]
    assert {market_of_profile(p, MARKETS) for p in fed} == set(MARKETS)
    modelled = fault["overall"]["retention_30s"]["value"]
    assert fault["with_measured_qoe"]["overall"]["retention_30s"]["value"] < modelled
    clean_loop = clean["with_measured_qoe"]["overall"]["retention_30s"]["value"]
    assert fault["with_measured_qoe"]["overall"]["retention_30s"]["value"] < clean_loop
    for doc in (clean, fault):
        assert doc["meta"]["valid"], doc["meta"]["notes"]
        assert doc["overall"]["error_rate"]["value"] == 0.0
        assert set(doc["markets"]) == set(MARKETS)
        assert doc["markets"]["ID"]["chat_rtt_ms"]["n"] > 0
        assert "ID-4g" in doc["profiles"]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_ctrl_c_stops_everything_and_writes_partial_results(tmp_path):
    out = tmp_path / "run"
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(out), "--no-report",
         "--set", "load.scale=100", "--set", "load.actor_scale=100"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        children: list[psutil.Process] = []
        # Wait until the load is running: Locust has written live samples and the panel is up.
        while time.monotonic() < deadline:
            live = out / "locust" / "live.json"
            if live.is_file() and json.loads(live.read_text()).get("samples", 0) > 0:
                children = _descendants(proc.pid)
                if len(children) >= 3:
                    break
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.2)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "locust" in names and "stack" in names
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["meta"]["valid"] is False
    assert any("interrupted" in n for n in doc["meta"]["notes"])
    assert doc["overall"]["join_ms"]["n"] > 0  # what was measured before Ctrl-C is kept


@pytest.mark.slow
def test_demo_end_to_end_under_five_minutes(tmp_path):
    out = tmp_path / "demo"
    t0 = time.monotonic()
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(out)],
        capture_output=True, text=True, timeout=330,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert elapsed < 300, elapsed
    files = ("metrics.json", "run.json", "plan.json", "model/viewers.npz",
             "locust/stats_stats.csv", "locust/samples.json", "stack_metrics.prom")  # fmt: skip
    for name in files:
        assert (out / name).is_file(), name
    doc = json.loads((out / "metrics.json").read_text())
    overall = doc["overall"]
    assert overall["join_ms"]["n"] > 0 and overall["retention_30s"]["value"] > 0
    # The whole commerce path is measured (issue 15): orders, votes, answers, referrals, chat.
    counts = {m: overall.get(m, {}).get("n", 0) for m in
              ("order_ms", "vote_ack_ms", "answer_ms", "referral_ms", "chat_rtt_ms")}  # fmt: skip
    assert min(counts.values()) >= 30 and counts["chat_rtt_ms"] >= 100, counts
    assert "with_measured_qoe" in doc
    assert "livelab_stack_joins_total" in (out / "stack_metrics.prom").read_text()
    assert f"run directory: {out}" in proc.stdout
    if (Path("livelab/commands/report.py")).is_file():
        assert "report:" in proc.stdout
    if (out / "panel.json").is_file():  # the media panel measured glass-to-glass per profile
        assert any("g2g_latency_ms" in p for p in doc["profiles"].values())


@pytest.mark.slow
def test_stack_killed_mid_run_is_restarted_and_viewers_reconnect(tmp_path):
    out = tmp_path / "run"
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(out), *SMALL, *CHATTY,
         "--set", "load.window_s=30"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            live = out / "locust" / "live.json"
            if live.is_file() and json.loads(live.read_text()).get("samples", 0) > 50:
                break
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.2)
        killed_at = json.loads((out / "locust" / "live.json").read_text())["t_s"]
        os.kill(int((out / "logs" / "stack.pid").read_text()), signal.SIGKILL)
        assert proc.wait(timeout=240) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    info = json.loads((out / "run.json").read_text())
    assert len(info["stack_restarts_s"]) == 1
    doc = json.loads((out / "metrics.json").read_text())
    assert any("restarted" in n for n in doc["meta"]["notes"])
    assert doc["meta"]["generator"]["disconnects"] > 0  # sockets dropped and came back
    samples = json.loads((out / "locust" / "samples.json").read_text())["rows"]
    after = [r for r in samples if r[0] == "chat_rtt_ms" and r[4] and r[5] > killed_at + 5]
    assert after, "no chat round trips after the restart"
