"""Gate thresholds: parse the scenario's `[gates]` table and judge a run against it.

Two syntaxes, documented with their mapping in `docs/gates.md`: livelab's own, the statistic
in the key, and k6's, the aggregation method in the expression (`reports.gates_k6`)::

    [gates]
    "chat_rtt_ms.p95" = "< 600"                 # overall
    "chat_rtt_ms" = "p(95)<600"                  # the same in k6's syntax
    "join_ms" = ["p(95)<1000", "avg<400"]        # several thresholds on one metric
    "retention_30s" = ">= 0.55"                  # a scalar: its value
    "error_rate" = "rate<0.02"                   # k6: a rate; livelab: "< 2%" (`%` ÷ 100)
    "ID:g2g_latency_ms.p95" = "< 600"            # per market
    "profile=ID-4g:freeze_ratio.p95" = "< 0.02"  # per network profile
    "measured:retention_30s" = ">= 0.5"          # the model fed with measured QoE
    "with_measured_qoe.retention_30s" = ">= 0.45"  # the same, named as in metrics.json
    "chat_rtt_ms.p95" = { threshold = "< 600", window = "mini_peak_1" }
    "join_ms.p99" = { threshold = "< 1500", window = [60, 180] }   # seconds on the timeline
    "chat_rtt_ms.p99@mini_peak_2" = "< 800"       # the same, window in the key
    "chat_rtt_ms" = { threshold = "p(95)<600", abortOnFail = true, delayAbortEval = "10s" }

A key is `[SCOPE:]...METRIC[.STAT][@WINDOW]`; SCOPE is a market code, `profile=NAME` or
`measured` (or METRIC prefixed `with_measured_qoe.`); STAT is `p50`/`p95`/`p99` (any `pNN`
when samples are kept), `mean`, `n`, `min`, `max`, `value`, or `lo`/`hi` (the bounds of a
replicated scalar's 95 % interval). The expression is `[AGG] OP NUMBER[UNIT]` with AGG one of
k6's `p(N) avg min max med rate count value` (only when the key names no STAT), OP in
`< <= > >= == === !=` and UNIT `%`, `ms` (on `*_ms` metrics) or `s` (on `*_s` metrics). A list
gives several gates, keyed `KEY[0]`, `KEY[1]`, ….
`abortOnFail` gates stop a `livelab run` early (`reports.gates_abort`). Every problem raises
`GateError` (exit 2) naming `gates.KEY`. Judging a run against parsed gates is
`reports.gates_observe`.
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
from reports.gates_k6 import aggregation_stat, go_duration_s
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
# k6's scanner tries `<=` before `<` and `===` before `==`; the alternation keeps that order.
_EXPR = re.compile(
    rf"^\s*(p\([^()]*\)|[a-z]+)?\s*(<=|<|>=|>|===|==|!=)\s*({_NUMBER})\s*(%|ms|s)?\s*$"
)
MEASURED_PREFIX = "with_measured_qoe"  # the metric-name form of the `measured:` scope
_MARKET = re.compile(r"^[A-Z]{2}(-[A-Z]{1,2})?$")
_STAT = re.compile(r"^(p(\d{1,2}(\.\d+)?|100)|mean|n|min|max|value|lo|hi)$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")
_TABLE_KEYS = ("threshold", "window", "description", "abortOnFail", "delayAbortEval")
MINI_PEAK_KINDS = ("mini_peak", "lottery", "flash_deal", "poll", "cohost")


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
    abort_on_fail: bool = False  # k6's abortOnFail: stop a `livelab run` when it fails
    delay_abort_eval_s: float | None = None  # k6's delayAbortEval: not before this, s

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


def _parse_expr(source: str, key: str, metric: str, expr: Any) -> tuple[str | None, str, float]:
    """`(k6 aggregation or None, OP, threshold)` of `[AGG] OP NUMBER[UNIT]`."""
    if not isinstance(expr, str):
        raise problem(source, key, expr, 'a threshold string such as "< 600" or "p(95)<600"')
    match = _EXPR.match(expr)
    if match is None:
        raise problem(
            source,
            key,
            expr,
            "expected OP NUMBER, or k6's AGG OP NUMBER, with OP one of < <= > >= == === != and "
            'AGG one of p(N) avg min max med rate count value, e.g. "< 600" or "p(95)<600"',
        )
    method, op, number, unit = match.group(1), match.group(2), float(match.group(3)), match[4]
    if unit == "%":
        number /= 100.0
    elif unit == "ms" and not metric.endswith("_ms"):
        raise problem(source, key, expr, f"unit ms only applies to *_ms metrics, not {metric}")
    elif unit == "s" and not metric.endswith("_s"):
        raise problem(source, key, expr, f"unit s only applies to *_s metrics, not {metric}")
    return method, "==" if op == "===" else op, number


def _parse_abort(source: str, key: str, spec: Mapping[str, Any]) -> tuple[bool, float | None]:
    """k6's `abortOnFail` (a bool) and `delayAbortEval` (a Go duration string) of a table."""
    abort = spec.get("abortOnFail", False)
    if not isinstance(abort, bool):
        raise problem(source, key, abort, "abortOnFail is true or false")
    if "delayAbortEval" not in spec:
        return abort, None
    delay = spec["delayAbortEval"]
    if not abort:
        raise problem(source, key, delay, "delayAbortEval needs abortOnFail = true")
    try:
        if not isinstance(delay, str):
            raise ValueError
        return abort, go_duration_s(delay)
    except ValueError:
        raise problem(source, key, delay, 'a duration string such as "10s" or "1m30s"') from None


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


def parse_gate(key: str, spec: Any, source: str = "<gates>", index: int | None = None) -> Gate:
    """Parse one `[gates]` entry (item `index` of a list, keyed `KEY[index]`).

    Raises `GateError` naming `gates.KEY` (or `gates.KEY[index]`).
    """
    name = key if index is None else f"{key}[{index}]"
    description = ""
    window: Window | None = None
    abort, delay = False, None
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(_TABLE_KEYS))
        if unknown:
            raise problem(source, name, unknown, f"unknown key; allowed: {', '.join(_TABLE_KEYS)}")
        if "threshold" not in spec:
            raise problem(source, name, dict(spec), 'needs threshold = "OP NUMBER"')
        if "window" in spec:
            window = _parse_window(source, name, spec["window"])
        description = str(spec.get("description", ""))
        abort, delay = _parse_abort(source, name, spec)
        expr = spec["threshold"]
    else:
        expr = spec
    body, at, window_text = key.partition("@")
    if at:
        if window is not None:
            raise problem(source, name, window_text, "give the window in the key or the table")
        window = _parse_window(source, name, _window_from_text(window_text))
    parts = body.split(":")
    market = profile = None
    measured = False
    if parts[-1].startswith(f"{MEASURED_PREFIX}."):  # "with_measured_qoe.retention_30s"
        parts[-1] = parts[-1][len(MEASURED_PREFIX) + 1 :]
        measured = True
    for scope in parts[:-1]:
        if scope == "measured" and not measured:
            measured = True
        elif scope.startswith("profile=") and len(scope) > 8 and profile is None:
            profile = scope[8:]
        elif _MARKET.match(scope) and market is None:
            market = scope
        else:
            raise problem(
                source, name, scope, "scope is a market code (ID), profile=NAME or measured"
            )
    metric, _, stat_text = parts[-1].partition(".")
    stat = stat_text or None
    if not _METRIC.match(metric):
        raise problem(source, name, metric, "a metric name such as chat_rtt_ms.p95")
    if stat is not None and not _STAT.match(stat):
        raise problem(
            source, name, stat, "statistic p50, p95, p99, pNN, mean, n, min, max, value, lo or hi"
        )
    if window is None and metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise problem(source, name, metric, f"no such metric{hint}")
    method, op, threshold = _parse_expr(source, name, metric, expr)
    if method is not None:
        if stat is not None:
            raise problem(
                source, name, expr, f"name the statistic once: .{stat} in the key or {method}"
            )
        try:
            stat = aggregation_stat(method, metric)
        except ValueError as exc:
            raise problem(source, name, expr, str(exc)) from None
    if abort and (measured or window is not None):
        raise problem(
            source,
            name,
            expr,
            "abortOnFail judges the load run so far: it takes no window and no measured: scope",
        )
    return Gate(
        key=name,
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
        abort_on_fail=abort,
        delay_abort_eval_s=delay,
    )


def parse_gates(gates: Mapping[str, Any], source: str = "<gates>") -> list[Gate]:
    """Parse every entry (a list is several gates on one key); all problems are reported
    together in one `GateError`."""
    parsed: list[Gate] = []
    problems: list[Problem] = []
    for key, spec in gates.items():
        items = list(enumerate(spec)) if isinstance(spec, list) else [(None, spec)]
        if not items:
            problems.append(Problem(source, f"gates.{key}", [], "a list of one or more thresholds"))
        for index, item in items:
            try:
                parsed.append(parse_gate(key, item, source, index))
            except GateError as exc:
                problems.extend(exc.problems)
    if problems:
        raise GateError(problems)
    return parsed
