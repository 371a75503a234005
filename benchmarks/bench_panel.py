"""Panel capacity: how many lite and probe viewers one panel process carries at 360p15, valid.

Targets (issue 4): lite viewers per core ≥ 100, probe viewers per core ≥ 15, with no
invalid-run flag. One panel process is one asyncio loop on one core, so "per core" is "per
panel process". For each kind the benchmark steps the viewer count up (one process, clean
profile, reference stack in its own process) and keeps the largest count whose run is valid
(generator health within `HealthLimits` defaults: CPU ≤ 90 % of a core sustained, loop lag p95
≤ 50 ms) and delivers the stream (median fps ≥ 13.5 of 15). Printed per step: the verdict, the
panel process's CPU and loop lag, fps, freeze ratio, g2g p50/p95 for probes, and the server's
CPU; before and after: CPU count and load average (the machine may be shared: say so).

Then, the receiver fix in numbers: 3 probes behind ``delay 50ms loss 2%`` (100 ms RTT, 2 % loss
each way) with the panel's receiver and with aiortc's stock one, same stack, same seed.

Then the viewer kinds side by side per profile, and browser viewers per core
(`benchmarks.panel_kinds`).

Run: ``.venv/bin/python -m benchmarks panel`` (env ``PANEL_BENCH_SECONDS``, default 30 s per
step; ``PANEL_BENCH_LITE`` / ``PANEL_BENCH_PROBE``: comma-separated counts to try;
``PANEL_BENCH_COMPARE=0`` skips the receiver comparison, ``PANEL_BENCH_KINDS=0`` the kinds).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any

LITE_STEPS = (100, 150, 200, 300, 400)
PROBE_STEPS = (10, 15, 20, 30, 40)
MIN_FPS = 13.5


def _steps(env: str, default: tuple[int, ...]) -> list[int]:
    raw = os.environ.get(env)
    return [int(x) for x in raw.split(",")] if raw else list(default)


def _conditions(label: str) -> str:
    import psutil

    la = os.getloadavg()
    return (
        f"{label}: {os.cpu_count()} CPUs, load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, "
        f"CPU busy {psutil.cpu_percent(interval=1.0):.0f}%"
    )


class _CpuSampler:
    """Mean CPU (% of one core) of a process while running."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.proc.cpu_percent(None)
        while not self._stop.wait(1.0):
            self.samples.append(self.proc.cpu_percent(None))

    def __enter__(self) -> _CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else float("nan")


def _step(
    url: str,
    kind: str,
    n: int,
    seconds: float,
    server_pid: int,
    profile: str = "delay 0ms",
    receiver: str = "fixed",
) -> dict[str, Any]:
    from loadgen.panel import PanelConfig, build_metrics, run_panel

    config = PanelConfig(
        whep_url=url,
        viewers=n,
        profiles=((profile, 1.0),),
        probes=n if kind == "probe" else 0,
        duration_s=seconds,
        processes=1,
        join_rate=max(20.0, 2.0 * n / seconds),
        receiver=receiver,
    )
    with _CpuSampler(server_pid) as server:
        result = run_panel(config)
    doc = build_metrics(result)
    o = doc["overall"]
    fps = o["fps"]["p50"] or 0.0
    return {
        "n": n,
        "valid": result.valid,
        "carried": result.valid and fps >= MIN_FPS,
        "cpu_p95": o["loadgen_cpu"]["p95"],
        "cpu_p50": o["loadgen_cpu"]["p50"],
        "lag_p95": o["loop_lag_ms"]["p95"],
        "fps": fps,
        "freeze_ratio": o["freeze_ratio"]["value"],
        "g2g": o["g2g_latency_ms"],
        "errors": o["error_rate"]["value"],
        "server_cpu": server.mean,
        "freezes_per_min": o["freeze_count_per_min"]["value"],
        "loss": o["packet_loss"]["value"],
        "notes": result.notes,
    }


def _print_step(kind: str, s: dict[str, Any]) -> None:
    g2g = s["g2g"]
    g = f" g2g p50 {g2g['p50']:.0f} p95 {g2g['p95']:.0f} ms" if g2g["n"] else ""
    verdict = "OK " if s["carried"] else ("DEGRADED" if s["valid"] else "INVALID")
    print(
        f"  {kind:5s} {s['n']:4d} viewers: {verdict:8s} panel CPU p95 {s['cpu_p95']:.0f}% "
        f"lag p95 {s['lag_p95']:.1f} ms | fps p50 {s['fps']:.1f} freeze {s['freeze_ratio']:.3f} "
        f"errors {s['errors']:.2f}{g} | server CPU {s['server_cpu']:.0f}%",
        flush=True,
    )
    per = (s["cpu_p50"] or 0.0) / s["n"]
    if per > 0:
        # Not a measurement of capacity: what the CPU cost alone would allow at 90 % of a core,
        # useful when a busy machine's scheduling (loop lag) is what invalidated the step.
        print(
            f"        CPU {per:.2f}% of a core per viewer (p50) → CPU-bound estimate "
            f"{90.0 / per:.0f} per core",
            flush=True,
        )
    for note in s["notes"]:
        print(f"        note: {note}", flush=True)


def _search(url: str, kind: str, steps: list[int], seconds: float, pid: int) -> int:
    best = 0
    for n in steps:
        s = _step(url, kind, n, seconds, pid)
        _print_step(kind, s)
        if not s["carried"]:
            break
        best = n
    return best


def _compare(url: str, seconds: float, pid: int) -> None:
    profile = "delay 50ms loss 2%"
    print(f"receiver comparison, 3 probes behind {profile!r} (100 ms RTT, 2 % loss each way):")
    for receiver in ("fixed", "stock"):
        s = _step(url, "probe", 3, seconds, pid, profile=profile, receiver=receiver)
        g = s["g2g"]
        print(
            f"  {receiver:5s}: g2g p50 {g['p50']:.0f} p95 {g['p95']:.0f} p99 {g['p99']:.0f} ms "
            f"(n {g['n']}), freezes {s['freezes_per_min']:.1f}/min, freeze ratio "
            f"{s['freeze_ratio']:.3f}, loss {s['loss']:.3f}, valid {s['valid']}",
            flush=True,
        )


def main() -> None:
    from stack import start_stack_process, stop_stack_process

    seconds = float(os.environ.get("PANEL_BENCH_SECONDS", "30"))
    print(_conditions("before"), flush=True)
    with tempfile.TemporaryDirectory():
        proc, base = start_stack_process([])
        try:
            url = f"{base}/whep/demo"
            lite = _search(url, "lite", _steps("PANEL_BENCH_LITE", LITE_STEPS), seconds, proc.pid)
            probe = _search(
                url, "probe", _steps("PANEL_BENCH_PROBE", PROBE_STEPS), seconds, proc.pid
            )
            if os.environ.get("PANEL_BENCH_COMPARE", "1") != "0":
                _compare(url, seconds, proc.pid)
            browsers = -1
            if os.environ.get("PANEL_BENCH_KINDS", "1") != "0":
                from benchmarks.panel_kinds import browsers_per_core, side_by_side

                side_by_side(url, seconds)
                browsers = browsers_per_core(url, seconds)
        finally:
            stop_stack_process(proc)
    print(_conditions("after"), flush=True)
    print(
        f"lite viewers per core (one panel process, valid, fps ≥ {MIN_FPS}): {lite} "
        f"(target ≥ 100) {'PASS' if lite >= 100 else 'MISS'}",
        flush=True,
    )
    print(
        f"probe viewers per core: {probe} (target ≥ 15) {'PASS' if probe >= 15 else 'MISS'}",
        flush=True,
    )
    if browsers >= 0:
        cores = os.cpu_count() or 1
        print(
            f"browser viewers carried by one panel process on {cores} cores: {browsers} "
            f"(≈ {browsers / cores:.1f} per core; the browsers use every core)",
            flush=True,
        )
    t = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(f"measured {t}, {seconds:g} s per step, 360p15 VP8 from the reference stack")


if __name__ == "__main__":
    main()
