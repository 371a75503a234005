"""Generator faults: a Locust worker, the media panel or the Locust master SIGKILLed during a
real `livelab run` — the run keeps what it measured, says what was lost (`meta.notes`,
`run.json`), exits 3 (invalid run) and leaves no process behind.

The three runs go at once (one module fixture), each with its own victim, to keep the added
wall time to one short run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

from loadgen.run.generator_faults import GeneratorWatch
from netem_profiles import free_port

LIVELAB = [sys.executable, "-m", "livelab"]
MARKETS = ("ID", "TH", "SA", "GB")
CHATTY = [a for m in MARKETS for a in ("--set", f"markets.{m}.behavior.chat_per_min=60")]
# 1 in 100 of the audience, a 25 s window, two local Locust workers and a 2-viewer panel.
SHORT = ["--no-report", "--set", "load.scale=100", "--set", "load.actor_scale=100",
         "--set", "load.window_s=25", "--set", "load.panel_viewers=2", "--workers", "2",
         *CHATTY]  # fmt: skip
KINDS = ("worker", "panel", "master")


def _is_victim(kind: str, cmdline: list[str]) -> bool:
    if kind == "worker":
        return "locust" in cmdline and "--worker" in cmdline
    if kind == "master":
        return "locust" in cmdline and "--master" in cmdline
    return cmdline[1:4] == ["-m", "livelab", "panel"]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@dataclass
class Killed:
    rc: int
    log: str
    metrics: dict[str, Any]
    info: dict[str, Any]
    alive: list[str]


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Killed]:
    root = tmp_path_factory.mktemp("genfault")
    runs: dict[str, Any] = {}
    for kind in KINDS:
        log = (root / f"{kind}.log").open("wb")
        cmd = [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(root / kind), *SHORT,
               "--master-port", str(free_port())]  # fmt: skip
        runs[kind] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
    seen: dict[str, list[psutil.Process]] = {k: [] for k in KINDS}
    pending = set(KINDS)
    deadline = time.monotonic() + 150
    try:
        # Once a run's load is measuring (Locust wrote live samples) and its victim is up,
        # SIGKILL the victim; keep its process tree to check for orphans afterwards.
        while pending and time.monotonic() < deadline:
            for kind in sorted(pending):
                proc = runs[kind][0]
                assert proc.poll() is None, (root / f"{kind}.log").read_text()[-3000:]
                live = root / kind / "locust" / "live.json"
                try:
                    samples = json.loads(live.read_text()).get("samples", 0)
                except (OSError, ValueError):
                    continue
                if not samples:
                    continue
                tree = _descendants(proc.pid)
                victims = [p for p in tree if _is_victim(kind, p.cmdline())]
                if victims:
                    seen[kind] = tree
                    os.kill(victims[0].pid, signal.SIGKILL)
                    pending.discard(kind)
            time.sleep(0.2)
        assert not pending, f"no victim found in time for {pending}"
        # Every process each run had until it ended (pids by identity: psutil checks the
        # start time), so an orphan reparented at the end is still among them.
        end_by = time.monotonic() + 180
        while any(p.poll() is None for p, _ in runs.values()) and time.monotonic() < end_by:
            for kind, (proc, _log) in runs.items():
                if proc.poll() is None:
                    seen[kind] += [c for c in _descendants(proc.pid) if c not in seen[kind]]
            time.sleep(0.5)
        out: dict[str, Killed] = {}
        for kind, (proc, log) in runs.items():
            rc = proc.wait(timeout=10)
            log.close()
            _gone, alive = psutil.wait_procs(seen[kind], timeout=10)
            out[kind] = Killed(
                rc=rc,
                log=(root / f"{kind}.log").read_text(errors="replace")[-3000:],
                metrics=json.loads((root / kind / "metrics.json").read_text()),
                info=json.loads((root / kind / "run.json").read_text()),
                alive=[" ".join(p.cmdline()) for p in alive],
            )
        return out
    finally:
        for proc, log in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            log.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_generator_keeps_what_was_measured_and_says_what_was_lost(
    killed_runs: dict[str, Killed], kind: str
) -> None:
    run = killed_runs[kind]
    assert run.rc == 3, run.log
    assert run.alive == []
    meta = run.metrics["meta"]
    assert meta["valid"] is False
    process = {"worker": "locust-worker-", "panel": "panel", "master": "locust"}[kind]
    faults = [f for f in run.info["generator_faults"] if f["process"].startswith(process)]
    assert len(faults) == 1, run.info["generator_faults"]
    fault = faults[0]
    assert fault["exit_code"] == -signal.SIGKILL and fault["at_s"] > 0
    assert fault["note"] in meta["notes"] and "SIGKILL" in fault["note"]
    assert "lost" in fault["note"]
    # What the generators had handed on before the kill is kept.
    assert run.metrics["overall"]["join_ms"]["n"] > 0
    if kind == "master":
        assert run.info["locust_exit"] == -signal.SIGKILL


@dataclass
class _Proc:
    returncode: int | None


@dataclass
class _Child:
    running: bool
    proc: _Proc


def _ended(code: int) -> _Child:
    return _Child(False, _Proc(code))


def test_generator_watch_rules() -> None:
    watch = GeneratorWatch()
    children = {
        "stack": _ended(-9),  # the stack is not a generator (restarted by the orchestrator)
        "locust": _Child(True, _Proc(None)),
        "locust-worker-0": _ended(0),  # told to quit by the master: not a fault
        "locust-worker-1": _ended(-9),
        "panel": _Child(True, _Proc(None)),
    }
    watch.check(children, 3.0, load_stopping=False)
    watch.check(children, 4.0, load_stopping=False)  # each fault once
    assert [(f.process, f.exit_code, f.at_s) for f in watch.faults] == [
        ("locust-worker-1", -9, 3.0)
    ]
    children["locust"] = _ended(-15)  # stopped by the run itself
    children["panel"] = _ended(1)  # the panel ends on its own, so it is still watched
    watch.check(children, 9.0, load_stopping=True)
    assert [f.process for f in watch.faults] == ["locust-worker-1", "panel"]
    assert watch.failed("panel") and not watch.failed("locust")
    watch.check({"locust": _ended(1)}, 1.0, load_stopping=False)  # locust_exit judges 1 and 2
    assert not watch.failed("locust")
    watch.check({"locust": _ended(-9)}, 1.0, load_stopping=False)
    assert watch.failed("locust")
