"""Health of browser viewers: each Chromium's CPU (% of one core, whole process tree) and memory.

`TreeSampler` samples a browser's process tree with psutil (the tree changes as Chromium starts
renderer and utility processes, so it is walked on every sample). `judge_browser` applies the
panel's `HealthLimits` to one browser's samples (pure): CPU above ``max_browser_cpu_pct`` for
``sustain_s`` in a row, or resident memory above ``max_browser_rss_mb``, marks the run invalid,
as a saturated panel process does — a starved browser measures the generator, not the target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from loadgen.panel.health import HealthLimits, judge_health

__all__ = ["SAMPLE_S", "BrowserHealth", "TreeSampler", "judge_browser"]

log = logging.getLogger(__name__)

SAMPLE_S = 1.0  # a browser viewer samples its Chromium (and drains its page) once a second


@dataclass
class TreeSampler:
    """CPU (% of one core, summed over the tree) and memory (MB: resident minus shared pages,
    summed, so the browser's shared libraries count once rather than per process) of process
    ``pid`` and its descendants, since the previous `sample`."""

    pid: int
    _procs: dict[int, Any] = field(default_factory=dict)

    def sample(self) -> tuple[float, float]:
        import psutil

        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return float("nan"), float("nan")
        cpu = rss = 0.0
        seen = {}
        for p in tree:
            known = self._procs.get(p.pid, p)
            try:
                # A process seen for the first time answers 0 (psutil primes it); it counts
                # from the next sample on.
                cpu += known.cpu_percent(None)
                mem = known.memory_info()
                rss += (mem.rss - getattr(mem, "shared", 0)) / 1e6
            except psutil.Error:
                continue
            seen[p.pid] = known
        self._procs = seen
        return cpu, rss


@dataclass(frozen=True)
class BrowserHealth:
    """One browser viewer's verdict: valid, and a note naming what went over the limits."""

    index: int
    valid: bool
    note: str
    cpu_p95: float
    rss_max_mb: float


def judge_browser(
    index: int,
    cpu_pct: list[float],
    rss_mb: list[float],
    interval_s: float,
    limits: HealthLimits,
) -> BrowserHealth:
    """Apply ``limits`` to browser viewer ``index``'s samples (one per ``interval_s`` s)."""
    import numpy as np

    cpu_limits = HealthLimits(
        max_cpu_pct=limits.max_browser_cpu_pct,
        sustain_s=limits.sustain_s,
        max_lag_p95_ms=float("inf"),
        warmup_s=limits.warmup_s,
    )
    cpu = judge_health(index, cpu_pct, [], interval_s, cpu_limits)
    finite = [c for c in cpu_pct if c == c]
    cpu_p95 = float(np.percentile(finite, 95)) if finite else 0.0
    rss_max = max((r for r in rss_mb if r == r), default=0.0)
    problems = []
    if not cpu.valid:
        problems.append(
            f"CPU above {limits.max_browser_cpu_pct:.0f}% of a core for ≥ {limits.sustain_s:g} s"
        )
    if rss_max > limits.max_browser_rss_mb:
        problems.append(f"memory {rss_max:.0f} MB > {limits.max_browser_rss_mb:.0f} MB")
    note = (
        f"browser viewer {index}: " + "; ".join(problems) + f" (CPU p95 {cpu_p95:.0f}%)"
        if problems
        else ""
    )
    return BrowserHealth(index, not problems, note, cpu_p95, rss_max)
