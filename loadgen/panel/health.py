"""Generator health: this process's CPU (% of one core) and event-loop lag (ms).

A periodic task asks to wake every ``interval_s``; how late it actually wakes is the loop lag
(everything else on the loop held it up). CPU comes from psutil's process times over the same
interval. `HealthLimits` decides whether a run stays valid: a generator that saturated measures
itself, not the target, so the run is marked invalid rather than blamed on the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "HealthLimits",
    "HealthMonitor",
    "HealthSummary",
    "judge_health",
    "read_cpu_pressure",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthLimits:
    """When a panel process counts as saturated.

    ``max_cpu_pct``: CPU in % of one core, sustained for ``sustain_s`` seconds in a row;
    ``max_lag_p95_ms``: the 95th percentile of loop lag over the run (ms);
    ``warmup_s``: seconds at the start ignored (connection set-up is bursty by nature);
    ``max_browser_cpu_pct``: a browser viewer's Chromium (whole process tree) in % of one core,
    sustained for ``sustain_s``; ``max_browser_rss_mb``: its resident memory, MB.
    """

    max_cpu_pct: float = 90.0
    sustain_s: float = 5.0
    max_lag_p95_ms: float = 50.0
    warmup_s: float = 3.0
    max_browser_cpu_pct: float = 100.0
    max_browser_rss_mb: float = 1500.0


@dataclass(frozen=True)
class HealthSummary:
    """One process's health over a run: samples (per interval) and the verdict."""

    process: int
    cpu_pct: tuple[float, ...]
    lag_ms: tuple[float, ...]
    interval_s: float
    valid: bool
    note: str
    pressure_pct: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "process": self.process,
            "cpu_pct": list(self.cpu_pct),
            "lag_ms": list(self.lag_ms),
            "interval_s": self.interval_s,
            "valid": self.valid,
            "note": self.note,
            "cpu_pressure_pct": list(self.pressure_pct),
        }


def judge_health(
    process: int,
    cpu_pct: list[float],
    lag_ms: list[float],
    interval_s: float,
    limits: HealthLimits,
    pressure_pct: list[float] | None = None,
) -> HealthSummary:
    """Apply `limits` to one process's samples (pure).

    ``pressure_pct`` (Linux PSI ``some avg10`` of the whole machine, %, per sample) does not
    change the verdict; it goes into the note so a reader can tell a panel that is too heavy
    (high CPU) from a machine that starves it (low CPU, high lag, high pressure).
    """
    skip = int(limits.warmup_s / interval_s) if interval_s > 0 else 0
    cpu = cpu_pct[skip:] if len(cpu_pct) > skip else []
    lag = lag_ms[skip:] if len(lag_ms) > skip else []
    need = max(1, round(limits.sustain_s / interval_s))
    run = best = 0
    for c in cpu:
        run = run + 1 if c > limits.max_cpu_pct else 0
        best = max(best, run)
    lag_p95 = float(np.percentile(lag, 95)) if lag else 0.0
    cpu_p95 = float(np.percentile(cpu, 95)) if cpu else 0.0
    problems = []
    if best >= need:
        problems.append(
            f"CPU above {limits.max_cpu_pct:.0f}% of a core for {best * interval_s:.0f} s "
            f"(p95 {cpu_p95:.0f}%)"
        )
    if lag_p95 > limits.max_lag_p95_ms:
        problems.append(f"loop lag p95 {lag_p95:.0f} ms > {limits.max_lag_p95_ms:.0f} ms")
    pressure = [p for p in (pressure_pct or [])[skip:] if p == p]
    machine = (
        f", machine CPU pressure p50 {float(np.percentile(pressure, 50)):.0f}%" if pressure else ""
    )
    note = (
        f"panel process {process}: " + "; ".join(problems) + f" (CPU p95 {cpu_p95:.0f}%, "
        f"lag p95 {lag_p95:.1f} ms{machine})"
        if problems
        else ""
    )
    return HealthSummary(
        process,
        tuple(cpu_pct),
        tuple(lag_ms),
        interval_s,
        not problems,
        note,
        tuple(pressure_pct or ()),
    )


def read_cpu_pressure(path: str = "/proc/pressure/cpu") -> float:
    """The machine's CPU pressure (PSI ``some avg10``, % of time some task waited for a CPU);
    NaN where PSI is unavailable."""
    try:
        with open(path, encoding="ascii") as fh:
            first = fh.readline()
    except OSError:
        return float("nan")
    for field_ in first.split():
        if field_.startswith("avg10="):
            return float(field_[6:])
    return float("nan")


@dataclass
class HealthMonitor:
    """Samples CPU and loop lag every ``interval_s`` on the running loop until `stop()`."""

    interval_s: float = 0.5
    clock: Callable[[], float] = time.monotonic
    cpu_pct: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    pressure_pct: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def halt(self) -> None:
        """Stop sampling now (from a callback); `stop` still awaits the task."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stop sampling and wait until the sampler task has ended."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import psutil

        proc = psutil.Process()
        proc.cpu_percent(None)  # prime: the first call always returns 0
        while True:
            due = self.clock() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.lag_ms.append(max(0.0, (self.clock() - due) * 1000.0))
            try:
                self.cpu_pct.append(float(proc.cpu_percent(None)))
            except psutil.Error as exc:  # process accounting unavailable: say so once
                log.warning("cannot read CPU of panel process: %s", exc)
                self.cpu_pct.append(float("nan"))
            self.pressure_pct.append(read_cpu_pressure())
