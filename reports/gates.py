"""Gate thresholds: parse the scenario's `[gates]` table and judge a run against it.

Syntax (k6-style, documented in `docs/gates.md`)::

    [gates]
    "chat_rtt_ms.p95" = "< 600"                 # overall
    "retention_30s" = ">= 0.55"                  # a scalar: its value
    "error_rate" = "< 0.1%"                      # `%` divides by 100
    "ID:g2g_latency_ms.p95" = "< 600"            # per market
    "profile=ID-4g:freeze_ratio.p95" = "< 0.02"  # per network profile
    "measured:retention_30s" = ">= 0.5"          # the model fed with measured QoE
    "chat_rtt_ms.p95" = { threshold = "< 600", window = "mini_peak_1" }
    "join_ms.p99" = { threshold = "< 1500", window = [60, 180] }   # seconds on the timeline
    "chat_rtt_ms.p99@mini_peak_2" = "< 800"       # the same, window in the key
    "join_ms.p95@60..180" = "< 1500"              # (so one metric can have several windows)

A key is `[SCOPE:]...METRIC[.STAT]`; SCOPE is a market code, `profile=NAME` or `measured`;
STAT is `p50`/`p95`/`p99` (any `pNN` when samples are kept), `mean`, `n`, `min`, `max`,
`value`, or `lo`/`hi` (the bounds of a replicated scalar's 95 % interval). The expression is
`OP NUMBER[UNIT]` with OP in `< <= > >= == !=` and UNIT `%`, `ms` (on `*_ms` metrics) or `s`
(on `*_s` metrics). Every problem raises `GateError` (exit 2) naming `gates.KEY`.
Judging a run against parsed gates is `reports.gates_observe`.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livelab.errors import GateError, Problem
from reports.metrics import METRICS

__all__ = ["MINI_PEAK_KINDS", "OPS", "Gate", "Verdict", "Window", "parse_gate", "parse_gates"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXPR = re.compile(rf"^\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*(%|ms|s)?\s*$")
_MARKET = re.compile(r"^[A-Z]{2}(-[A-Z]{1,2})?$")
_STAT = re.compile(r"^(p\d{1,2}(\.\d+)?|mean|n|min|max|value|lo|hi)$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")
_TABLE_KEYS = ("threshold", "window", "description")
MINI_PEAK_KINDS = ("mini_peak", "lottery", "flash_deal", "poll")


@dataclass(frozen=True)
class Window:
    """A stretch of the run: numbers are seconds on the timeline, strings are host events.

    A lone event name means that event's own span; as `start` an event gives its start and
    as `end` its end.
    """

    start: float | str
    end: float | str

    def label(self) -> str:
        if self.start == self.end:
            return str(self.start)
        return f"{self.start}..{self.end}"


@dataclass(frozen=True)
class Gate:
    """One parsed threshold."""

    key: str
    metric: str
    stat: str | None
    market: str | None
    profile: str | None
    measured: bool
    op: str
    threshold: float
    expr: str
    window: Window | None = None
    description: str = ""

    def holds(self, observed: float) -> bool:
        return OPS[self.op](observed, self.threshold)


@dataclass(frozen=True)
class Verdict:
    """The judgement of one gate (a threshold or a regression) on one run."""

    key: str
    kind: str  # "threshold" | "regression"
    expr: str
    observed: float | None
    passed: bool
    detail: str = ""
    window: str | None = None
    baseline: float | None = None
    change: float | None = None  # relative change, worse-is-positive, for regressions
    test: str | None = None
    p_value: float | None = None
    significant: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def problem(source: str, key: str, value: Any, allowed: str) -> GateError:
    """A `GateError` naming `gates.KEY` in `source`."""
    return GateError([Problem(source, f"gates.{key}", value, allowed)])


def _parse_expr(source: str, key: str, metric: str, expr: Any) -> tuple[str, float]:
    if not isinstance(expr, str):
        raise problem(source, key, expr, 'a threshold string such as "< 600"')
    match = _EXPR.match(expr)
    if match is None:
        raise problem(
            source, key, expr, 'expected OP NUMBER with OP one of < <= > >= == !=, e.g. "< 600"'
        )
    op, number, unit = match.group(1), float(match.group(2)), match.group(3)
    if unit == "%":
        number /= 100.0
    elif unit == "ms" and not metric.endswith("_ms"):
        raise problem(source, key, expr, f"unit ms only applies to *_ms metrics, not {metric}")
    elif unit == "s" and not metric.endswith("_s"):
        raise problem(source, key, expr, f"unit s only applies to *_s metrics, not {metric}")
    return op, number


def _parse_window(source: str, key: str, raw: Any) -> Window:
    def point(v: Any) -> float | str:
        if isinstance(v, bool) or not isinstance(v, int | float | str) or v == "":
            raise problem(source, key, raw, "window points are seconds or host event names")
        if isinstance(v, int | float):
            if not math.isfinite(v) or v < 0:
                raise problem(source, key, raw, "window seconds must be finite and ≥ 0")
            return float(v)
        return v

    if isinstance(raw, str):
        return Window(point(raw), point(raw))
    if isinstance(raw, list) and len(raw) == 2:
        start, end = point(raw[0]), point(raw[1])
        if isinstance(start, float) and isinstance(end, float) and end <= start:
            raise problem(source, key, raw, "window end must be after its start")
        return Window(start, end)
    raise problem(source, key, raw, 'an event name ("mini_peak_1") or [FROM, TO]')


def _window_from_text(text: str) -> str | list[float | str]:
    """`mini_peak_1`, `60..180` (seconds) or `announce_1..mini_peak_1` (events)."""
    start, dots, end = text.partition("..")
    if not dots:
        return text
    points: list[float | str] = []
    for point in (start, end):
        try:
            points.append(float(point))
        except ValueError:
            points.append(point)
    return points


def parse_gate(key: str, spec: Any, source: str = "<gates>") -> Gate:
    """Parse one `[gates]` entry. Raises `GateError` naming `gates.KEY`."""
    description = ""
    window: Window | None = None
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(_TABLE_KEYS))
        if unknown:
            raise problem(source, key, unknown, f"unknown key; allowed: {', '.join(_TABLE_KEYS)}")
        if "threshold" not in spec:
            raise problem(source, key, dict(spec), 'needs threshold = "OP NUMBER"')
        if "window" in spec:
            window = _parse_window(source, key, spec["window"])
        description = str(spec.get("description", ""))
        expr = spec["threshold"]
    else:
        expr = spec
    body, at, window_text = key.partition("@")
    if at:
        if window is not None:
            raise problem(source, key, window_text, "give the window in the key or the table")
        window = _parse_window(source, key, _window_from_text(window_text))
    parts = body.split(":")
    market = profile = None
    measured = False
    for scope in parts[:-1]:
        if scope == "measured" and not measured:
            measured = True
        elif scope.startswith("profile=") and len(scope) > 8 and profile is None:
            profile = scope[8:]
        elif _MARKET.match(scope) and market is None:
            market = scope
        else:
            raise problem(
                source, key, scope, "scope is a market code (ID), profile=NAME or measured"
            )
    metric, _, stat_text = parts[-1].partition(".")
    stat = stat_text or None
    if not _METRIC.match(metric):
        raise problem(source, key, metric, "a metric name such as chat_rtt_ms.p95")
    if stat is not None and not _STAT.match(stat):
        raise problem(
            source, key, stat, "statistic p50, p95, p99, pNN, mean, n, min, max, value, lo or hi"
        )
    if window is None and metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise problem(source, key, metric, f"no such metric{hint}")
    op, threshold = _parse_expr(source, key, metric, expr)
    return Gate(
        key=key,
        metric=metric,
        stat=stat,
        market=market,
        profile=profile,
        measured=measured,
        op=op,
        threshold=threshold,
        expr=expr.strip(),
        window=window,
        description=description,
    )


def parse_gates(gates: Mapping[str, Any], source: str = "<gates>") -> list[Gate]:
    """Parse every entry; all problems are reported together in one `GateError`."""
    parsed: list[Gate] = []
    problems: list[Problem] = []
    for key, spec in gates.items():
        try:
            parsed.append(parse_gate(key, spec, source))
        except GateError as exc:
            problems.extend(exc.problems)
    if problems:
        raise GateError(problems)
    return parsed
