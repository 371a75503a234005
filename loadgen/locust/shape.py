# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""The load shape: Locust's user count follows the plan (see `loadgen.plan.shape`).

`tick()` is a pure function of the run time: the slots the plan needs one second ahead
(sessions are as long as the script plus the linger for replies), times the worker count, until
the last leave plus the drain time; then None, which ends the test. Only imported by Locust.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadgen.locust.runtime import RUNTIME
from loadgen.plan import share_of, slots_opened, users_at

__all__ = ["PlanShape"]

SPAWN_RATE = 500.0  # users/s: a slot only sleeps until its script's join, so spawning is cheap


class PlanShape(LoadTestShape):
    """Follows `--livelab-plan`; ends `drain_s` after the plan's last leave."""

    drain_s = 3.0  # after the last leave and its linger: stragglers only

    def __init__(self) -> None:
        super().__init__()
        self._curve: list[int] | None = None
        self._end_s = 0.0
        self._workers = 1

    def _prepare(self) -> None:
        plan = RUNTIME.plan
        if plan is None:
            raise RuntimeError("livelab plan not loaded")
        opts = RUNTIME.env.parsed_options if RUNTIME.env else None
        self._workers = max(int(getattr(opts, "livelab_workers", 1) or 1), 1)
        linger = RUNTIME.linger_s
        seconds = int(plan.duration_s + linger) + 2
        per_worker = []
        for w in range(self._workers):
            share = [plan.scripts[i] for i in share_of(len(plan.scripts), w, self._workers)]
            spans = sorted((s.start_s, s.end_s + linger) for s in share)
            per_worker.append(slots_opened(spans, seconds))
        self._curve = [max(col) for col in zip(*per_worker, strict=True)]
        last_leave = max((s.end_s for s in plan.scripts), default=0.0)
        self._end_s = last_leave + linger + self.drain_s

    def tick(self) -> tuple[int, float] | None:
        if self._curve is None:
            self._prepare()
        assert self._curve is not None
        elapsed = self.get_run_time()
        if elapsed > self._end_s:
            return None
        return users_at(self._curve, elapsed, self._workers), SPAWN_RATE
