"""The model's mini-peaks inside a plan, as the reference stack's `--peaks` schedule.

`livelab run` replays the model's host with the stack's synthetic host: a poll the model opens
20 s into the window opens in the stack 20 s after the room opens (which is when the first
virtual viewer or panel viewer arrives, i.e. the plan start to within a second or two), so the
votes the plan places in the poll find it open. Pure and standard library only.
"""

from __future__ import annotations

from loadgen.plan.document import Plan

__all__ = ["stack_peak_args", "stack_peaks"]

_KINDS = ("lottery", "flash_deal", "poll")


def stack_peaks(plan: Plan) -> str | None:
    """`KIND@STARTs+OPENs,…` (plan time, s) of the plan's host events; None when it has none.

    An event that began before the window opens at 0 for what is left of it."""
    items = []
    for event in plan.events:
        kind = str(event.get("kind"))
        start = max(float(event.get("start_s", 0.0)), 0.0)
        end = min(float(event.get("end_s", start)), plan.duration_s)
        if kind in _KINDS and end > start:
            items.append(f"{kind}@{start:g}s+{end - start:g}s")
    return ",".join(items) or None


def stack_peak_args(plan: Plan) -> tuple[str, ...]:
    """`("--peaks", …)` for `livelab stack serve`, or `()` to keep its own rotation."""
    peaks = stack_peaks(plan)
    return ("--peaks", peaks) if peaks else ()
