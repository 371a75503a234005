"""`run_panel`: start the panel processes, relay progress, collect results, stop cleanly.

Processes are started with the ``spawn`` method (a fresh interpreter: no inherited event loop,
threads or Locust monkey-patching). The parent only waits on a queue. On Ctrl-C
(`KeyboardInterrupt`), on the caller's ``stop_event`` or on the deadline, it sets the shared stop
event; workers end their viewers (WHEP DELETE, peer connection closed) and send what they
measured. A worker that does not answer within ``grace_s`` is terminated, then killed: no orphan
processes, and the result keeps whatever arrived (``interrupted`` tells the caller).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livelab.errors import ConfigError, Problem
from loadgen.panel.browser_health import SAMPLE_S, BrowserHealth, judge_browser
from loadgen.panel.config import (
    PanelConfig,
    assign_viewers,
    check_target,
    split_processes,
    unmeasured_profiles,
)
from loadgen.panel.health import HealthSummary, judge_health
from loadgen.panel.viewer import ViewerRaw, ViewerSpec, wall_ms

__all__ = ["PanelResult", "run_panel", "run_panel_async"]

log = logging.getLogger(__name__)

STARTUP_ALLOWANCE_S = 60.0  # spawning and importing aiortc on a busy machine
GRACE_S = 20.0  # for workers to leave and report after the stop


@dataclass
class PanelResult:
    """A panel run: the config, every viewer's raw measurements, each process's health."""

    config: PanelConfig
    specs: list[ViewerSpec]
    viewers: list[ViewerRaw] = field(default_factory=list)
    health: list[HealthSummary] = field(default_factory=list)
    browser_health: list[BrowserHealth] = field(default_factory=list)
    started_ms: float = 0.0
    ended_ms: float = 0.0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """False when a process saturated, a process failed or the run was cut short."""
        return (
            all(h.valid for h in self.health)
            and all(b.valid for b in self.browser_health)
            and not self.interrupted
            and not any(n.startswith("process") for n in self.notes)
        )


def run_panel(
    config: PanelConfig,
    progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    stop_event: threading.Event | None = None,
    live: Callable[[int, dict[str, Any]], None] | None = None,
) -> PanelResult:
    """Run the panel described by ``config``; returns when done, stopped or interrupted.

    ``progress`` receives ``{"elapsed_s", "connected", "frames", "processes"}`` about once a
    second; ``live`` receives (process, what changed) from every process's report (see
    `loadgen.panel.live_metrics`), each one. Setting ``stop_event`` (from another thread) ends
    the run early with partial results; so does Ctrl-C, after which the result has
    ``interrupted=True``.
    Raises `ConfigError` for a non-loopback target without ``allow_remote``.
    """
    check_target(config.whep_url, config.allow_remote)
    specs = assign_viewers(config)
    nproc = config.process_count(os.cpu_count() or 1)
    shares = split_processes(specs, nproc)
    join_s = max(len(share) for share in shares) / config.join_rate
    if join_s > config.duration_s / 2:
        raise ConfigError(
            [
                Problem(
                    "panel",
                    "duration_s",
                    config.duration_s,
                    f"≥ {2 * join_s:.0f} s: {max(len(s) for s in shares)} viewers per process "
                    f"join at {config.join_rate:g}/s and should watch at least as long as they "
                    "take to join (or use more processes, or a higher join rate)",
                )
            ]
        )
    ctx = multiprocessing.get_context("spawn")
    results: Any = ctx.Queue()
    stop = ctx.Event()
    from loadgen.panel.worker import worker_main

    procs = [
        ctx.Process(
            target=worker_main,
            args=(i, config, share, results, stop),
            name=f"livelab-panel-{i}",
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    result = PanelResult(config=config, specs=specs, started_ms=wall_ms())
    unmeasured = unmeasured_profiles(config, specs)
    if unmeasured:
        note = (
            f"no probe or browser viewer for profile(s) {', '.join(unmeasured)}: no g2g there "
            f"(use at least {len(config.profiles)} probes or browsers)"
        )
        log.warning("%s", note)
        result.notes.append(note)
    per_proc: dict[int, dict[str, Any]] = {}
    health_raw: dict[int, dict[str, Any]] = {}
    done: set[int] = set()
    t0 = time.monotonic()
    deadline = t0 + config.duration_s + STARTUP_ALLOWANCE_S
    stop_deadline: float | None = None
    last_progress = 0.0
    try:
        for p in procs:
            p.start()
        while len(done) < nproc:
            now = time.monotonic()
            if stop_deadline is None and (
                now > deadline or (stop_event is not None and stop_event.is_set())
            ):
                if now > deadline:
                    result.notes.append("process deadline passed: panel stopped")
                stop.set()
                stop_deadline = now + GRACE_S
            if stop_deadline is not None and now > stop_deadline:
                break
            try:
                msg = results.get(timeout=0.5)
            except queue.Empty:
                for i, p in enumerate(procs):
                    if i not in done and not p.is_alive() and p.exitcode not in (None, 0):
                        result.notes.append(f"process {i} exited with code {p.exitcode}")
                        done.add(i)
                continue
            kind, proc_i = msg[0], msg[1]
            if kind == "progress":
                per_proc[proc_i] = msg[2]
                if live is not None and "live" in msg[2]:
                    live(proc_i, msg[2]["live"])
                if progress is not None and now - last_progress >= 1.0:
                    last_progress = now
                    progress(
                        {
                            "elapsed_s": now - t0,
                            "connected": sum(d["connected"] for d in per_proc.values()),
                            "frames": sum(d["frames"] for d in per_proc.values()),
                            "processes": nproc,
                        }
                    )
            elif kind == "result":
                result.viewers += msg[2]
                health_raw[proc_i] = msg[3]
                done.add(proc_i)
            elif kind == "error":
                result.notes.append(f"process {proc_i} failed: {msg[2].splitlines()[0]}")
                log.error("panel process %d failed:\n%s", proc_i, msg[2])
                done.add(proc_i)
    except KeyboardInterrupt:
        result.interrupted = True
        result.notes.append("interrupted (Ctrl-C): partial results")
        stop.set()
        _drain(results, result, health_raw, done, nproc, GRACE_S)
    finally:
        stop.set()
        _reap(procs)
        results.close()
        results.join_thread()
    if stop_event is not None and stop_event.is_set() and not result.interrupted:
        result.interrupted = True
        result.notes.append("stopped early by the caller: partial results")
    result.ended_ms = wall_ms()
    for i in sorted(health_raw):
        h = health_raw[i]
        summary = judge_health(
            i, h["cpu_pct"], h["lag_ms"], h["interval_s"], config.health, h.get("pressure_pct")
        )
        result.health.append(summary)
        if not summary.valid:
            result.notes.append(summary.note)
    for raw in result.viewers:
        if raw.spec.kind == "browser" and raw.resources:
            verdict = judge_browser(
                raw.spec.index,
                raw.resources.get("cpu_pct", []),
                raw.resources.get("rss_mb", []),
                SAMPLE_S,
                config.health,
            )
            result.browser_health.append(verdict)
            if not verdict.valid:
                result.notes.append(verdict.note)
    missing = nproc - len(health_raw)
    if missing and not result.interrupted:
        result.notes.append(f"process results missing from {missing} of {nproc} processes")
    result.viewers.sort(key=lambda r: r.spec.index)
    return result


def _drain(
    results: Any,
    result: PanelResult,
    health_raw: dict[int, dict[str, Any]],
    done: set[int],
    nproc: int,
    grace_s: float,
) -> None:
    """Collect what workers still send after a stop, for up to ``grace_s``."""
    end = time.monotonic() + grace_s
    while len(done) < nproc and time.monotonic() < end:
        try:
            msg = results.get(timeout=0.5)
        except queue.Empty:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            return
        if msg[0] == "result":
            result.viewers += msg[2]
            health_raw[msg[1]] = msg[3]
            done.add(msg[1])
        elif msg[0] == "error":
            done.add(msg[1])


def _reap(procs: list[Any]) -> None:
    """Join every process; terminate, then kill, those that will not end."""
    for p in procs:
        if p.pid is not None:
            p.join(timeout=5.0)
    for p in procs:
        if p.pid is not None and p.is_alive():
            log.warning("panel process %s did not stop: terminating", p.name)
            p.terminate()
            p.join(timeout=5.0)
        if p.pid is not None and p.is_alive():
            p.kill()
            p.join(timeout=5.0)


async def run_panel_async(
    config: PanelConfig, progress: Callable[[dict[str, Any]], None] | None = None
) -> PanelResult:
    """`run_panel` in a thread; cancelling this coroutine stops the panel cleanly, waits for
    the partial result and re-raises the cancellation."""
    stop = threading.Event()
    task = asyncio.ensure_future(asyncio.to_thread(run_panel, config, progress, stop_event=stop))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait({task})
        raise
