"""The stepped load search for one instance's knee (pure: the measuring is a callable).

`search_knee(measure, steps, limits)` calls `measure(audience) -> StepResult` for each audience
in ascending order until a step breaks a limit or the load generator saturates, then optionally
bisects between the last passing and the first failing audience (`refine` more steps). The knee
is the largest audience that held every limit. A step whose generator saturated is not the
target's fault: the search stops there and says the knee is *at least* the last passing step
(`bound = "generator"`), honest measurement over a flattering number.

Units: audience = concurrent virtual viewers; latencies in ms; rates as fractions; durations s.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Curve",
    "Limit",
    "StepResult",
    "parse_steps",
    "search_knee",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class StepResult:
    """What one load step measured.

    `figures` uses gate keys: `chat_rtt_ms.p95`, `join_ms.p95`, `error_rate`, … (`None` when
    the step produced no sample of it). `valid` is False when the generator saturated.
    """

    audience: int
    figures: Mapping[str, float | None]
    duration_s: float = 0.0
    requests: int = 0
    valid: bool = True
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limit:
    """One threshold a step must hold, e.g. `Limit("chat_rtt_ms.p95", "<", 600.0)`."""

    key: str
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}, got {self.op!r}")

    def holds(self, step: StepResult) -> bool:
        """True when the figure is present and satisfies the threshold. A missing figure fails:
        a step that could not measure chat latency did not show it was fine."""
        value = step.figures.get(self.key)
        return value is not None and _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Curve:
    """The search's outcome: every step (ascending audience), the knee and why it stopped."""

    steps: tuple[StepResult, ...]
    limits: tuple[Limit, ...]
    knee: int | None  # largest passing audience; None when even the first step failed
    first_failure: int | None  # smallest failing audience seen, None if none failed
    bound: str  # "target" (a limit broke), "generator" (saturated), "steps" (all passed)
    reason: str
    broken: tuple[str, ...] = field(default=())  # limits broken at first_failure

    def passed(self, step: StepResult) -> bool:
        return step.valid and all(limit.holds(step) for limit in self.limits)

    def to_json(self) -> dict[str, Any]:
        """Plain data for `capacity.json` (the shape `reports.capacity_render` reads)."""
        return {
            "steps": [
                {
                    "audience": s.audience,
                    "figures": dict(s.figures),
                    "duration_s": s.duration_s,
                    "requests": s.requests,
                    "valid": s.valid,
                    "notes": list(s.notes),
                    "broken": [str(x) for x in self.limits if s.valid and not x.holds(s)],
                }
                for s in self.steps
            ],
            "limits": [str(x) for x in self.limits],
            "knee": self.knee,
            "first_failure": self.first_failure,
            "bound": self.bound,
            "reason": self.reason,
            "broken": list(self.broken),
        }


def parse_steps(text: str) -> list[int]:
    """Audiences from `"50,100,200"`, `"50:800:x2"` (geometric) or `"100:500:+100"` (linear).

    Returns a sorted list without duplicates. Raises `ValueError` with the allowed forms.
    """
    text = text.strip()
    ranged = re.fullmatch(r"(\d+):(\d+):([x+])(\d+(?:\.\d+)?)", text)
    if ranged:
        start, stop, kind, by = (
            int(ranged[1]), int(ranged[2]), ranged[3], float(ranged[4]),
        )  # fmt: skip
        if start < 1 or stop < start or (kind == "x" and by <= 1) or (kind == "+" and by < 1):
            raise ValueError(f"bad step range {text!r}: need 1 ≤ START ≤ STOP, x>1 or +≥1")
        out, a = [], float(start)
        while a <= stop + 1e-9:
            out.append(round(a))
            a = a * by if kind == "x" else a + by
        return sorted(set(out))
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", text):
        values = sorted({int(v) for v in text.split(",")})
        if values[0] < 1:
            raise ValueError("audiences must be ≥ 1")
        return values
    raise ValueError(f"bad --steps {text!r}: use 50,100,200 or 50:800:x2 or 100:500:+100")


def search_knee(
    measure: Callable[[int], StepResult],
    steps: Sequence[int],
    limits: Sequence[Limit],
    *,
    refine: int = 0,
    min_gap: int = 1,
) -> Curve:
    """Step up through `steps` until a limit breaks, then bisect `refine` times.

    Bisection stops early when the bracket is `min_gap` viewers or narrower, or when the
    generator saturates. `measure` is called with ascending audiences in the stepping phase.
    Raises `ValueError` for empty steps.
    """
    if not steps:
        raise ValueError("no steps to measure")
    results: list[StepResult] = []
    rules = tuple(limits)

    def broken(step: StepResult) -> tuple[str, ...]:
        return tuple(str(limit) for limit in rules if not limit.holds(step))

    last_pass: int | None = None
    first_fail: int | None = None
    bound, reason = "steps", "every step held the limits"
    broke: tuple[str, ...] = ()
    for audience in sorted(set(steps)):
        step = measure(audience)
        results.append(step)
        if not step.valid:
            bound = "generator"
            reason = f"load generator saturated at {audience} ({'; '.join(step.notes)})"
            break
        broke = broken(step)
        if broke:
            first_fail, bound = audience, "target"
            reason = f"{', '.join(broke)} broken at {audience} viewers"
            break
        last_pass = audience
    if first_fail is not None:
        lo, hi = last_pass or 0, first_fail
        for _ in range(refine):
            if hi - lo <= min_gap:
                break
            mid = (lo + hi) // 2
            step = measure(mid)
            results.append(step)
            if not step.valid:
                break  # cannot judge the target any finer; keep the bracket
            now_broken = broken(step)
            if now_broken:
                hi, broke = mid, now_broken
                reason = f"{', '.join(now_broken)} broken at {mid} viewers"
            else:
                lo = last_pass = mid
        first_fail = hi
    return Curve(
        steps=tuple(sorted(results, key=lambda s: s.audience)),
        limits=rules,
        knee=last_pass,
        first_failure=first_fail,
        bound=bound,
        reason=reason,
        broken=broke if first_fail is not None else (),
    )
