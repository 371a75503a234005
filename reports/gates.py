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
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from livelab.errors import GateError, Problem
from reports.metrics import METRICS
from reports.report_data import RunData, SampleSet

__all__ = [
    "OPS",
    "Gate",
    "Verdict",
    "Window",
    "evaluate",
    "evaluate_all",
    "observe",
    "parse_gate",
    "parse_gates",
]

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
_MINI_PEAK_KINDS = ("mini_peak", "lottery", "flash_deal", "poll")


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


def _problem(source: str, key: str, value: Any, allowed: str) -> GateError:
    return GateError([Problem(source, f"gates.{key}", value, allowed)])


def _parse_expr(source: str, key: str, metric: str, expr: Any) -> tuple[str, float]:
    if not isinstance(expr, str):
        raise _problem(source, key, expr, 'a threshold string such as "< 600"')
    match = _EXPR.match(expr)
    if match is None:
        raise _problem(
            source, key, expr, 'expected OP NUMBER with OP one of < <= > >= == !=, e.g. "< 600"'
        )
    op, number, unit = match.group(1), float(match.group(2)), match.group(3)
    if unit == "%":
        number /= 100.0
    elif unit == "ms" and not metric.endswith("_ms"):
        raise _problem(source, key, expr, f"unit ms only applies to *_ms metrics, not {metric}")
    elif unit == "s" and not metric.endswith("_s"):
        raise _problem(source, key, expr, f"unit s only applies to *_s metrics, not {metric}")
    return op, number


def _parse_window(source: str, key: str, raw: Any) -> Window:
    def point(v: Any) -> float | str:
        if isinstance(v, bool) or not isinstance(v, int | float | str) or v == "":
            raise _problem(source, key, raw, "window points are seconds or host event names")
        if isinstance(v, int | float):
            if not math.isfinite(v) or v < 0:
                raise _problem(source, key, raw, "window seconds must be finite and ≥ 0")
            return float(v)
        return v

    if isinstance(raw, str):
        return Window(point(raw), point(raw))
    if isinstance(raw, list) and len(raw) == 2:
        start, end = point(raw[0]), point(raw[1])
        if isinstance(start, float) and isinstance(end, float) and end <= start:
            raise _problem(source, key, raw, "window end must be after its start")
        return Window(start, end)
    raise _problem(source, key, raw, 'an event name ("mini_peak_1") or [FROM, TO]')


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
            raise _problem(source, key, unknown, f"unknown key; allowed: {', '.join(_TABLE_KEYS)}")
        if "threshold" not in spec:
            raise _problem(source, key, dict(spec), 'needs threshold = "OP NUMBER"')
        if "window" in spec:
            window = _parse_window(source, key, spec["window"])
        description = str(spec.get("description", ""))
        expr = spec["threshold"]
    else:
        expr = spec
    body, at, window_text = key.partition("@")
    if at:
        if window is not None:
            raise _problem(source, key, window_text, "give the window in the key or the table")
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
            raise _problem(
                source, key, scope, "scope is a market code (ID), profile=NAME or measured"
            )
    metric, _, stat_text = parts[-1].partition(".")
    stat = stat_text or None
    if not _METRIC.match(metric):
        raise _problem(source, key, metric, "a metric name such as chat_rtt_ms.p95")
    if stat is not None and not _STAT.match(stat):
        raise _problem(
            source, key, stat, "statistic p50, p95, p99, pNN, mean, n, min, max, value, lo or hi"
        )
    if window is None and metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise _problem(source, key, metric, f"no such metric{hint}")
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


# -- observing a gate's figure in a run ------------------------------------------------------


class _Missing(Exception):
    """The run has no such figure; becomes a `GateError` naming the key."""


def _scope_name(gate: Gate) -> str:
    if gate.market:
        return f"markets.{gate.market}"
    if gate.profile:
        return f"profiles.{gate.profile}"
    return "overall"


def _entry(gate: Gate, doc: Mapping[str, Any]) -> Mapping[str, Any]:
    section: Any = doc
    if gate.measured:
        section = doc.get("with_measured_qoe")
        if not isinstance(section, Mapping):
            raise _Missing("the run has no with_measured_qoe section (a model-only run?)")
    if gate.profile is not None:
        profiles = section.get("profiles", {})
        scope = profiles.get(gate.profile)
        if scope is None:
            have = ", ".join(sorted(profiles)) or "none"
            raise _Missing(f"no profile {gate.profile!r} in the run (have {have})")
        if gate.market is not None:
            raise _Missing("a profile scope cannot also name a market")
    elif gate.market is not None:
        markets = section.get("markets", {})
        scope = markets.get(gate.market)
        if scope is None:
            have = ", ".join(sorted(markets)) or "none"
            raise _Missing(f"no market {gate.market!r} in the run (have {have})")
    else:
        scope = section.get("overall", {})
    entry = scope.get(gate.metric)
    if not isinstance(entry, Mapping):
        raise _Missing(f"no metric {gate.metric!r} under {_scope_name(gate)} in the run")
    return entry


def _stat_of(values: np.ndarray[Any, np.dtype[np.float64]], stat: str) -> float | None:
    if stat == "n":
        return float(values.size)
    if values.size == 0:
        return None
    if stat == "mean":
        return float(values.mean())
    if stat == "min":
        return float(values.min())
    if stat == "max":
        return float(values.max())
    if stat.startswith("p"):
        return float(np.percentile(values, float(stat[1:])))
    raise _Missing(f"statistic {stat!r} does not apply to samples")


def _samples_for(gate: Gate, run: RunData) -> SampleSet | None:
    if gate.measured:
        return None  # samples are measurements; the measured-QoE model keeps none
    return run.samples.get(gate.metric)


def _from_document(gate: Gate, run: RunData) -> float | None:
    entry = _entry(gate, run.metrics)
    stat = gate.stat
    if stat is None:
        if "value" not in entry:
            have = ", ".join(sorted(entry))
            raise _Missing(f"{gate.metric} is a distribution; name a statistic ({have})")
        stat = "value"
    if stat in ("lo", "hi"):
        ci = entry.get("ci95")
        if not isinstance(ci, list) or len(ci) != 2:
            raise _Missing(f"{gate.metric} has no ci95 (not replicated)")
        value = ci[0 if stat == "lo" else 1]
    elif stat in entry:
        value = entry[stat]
    else:
        samples = _samples_for(gate, run)
        if samples is None:
            have = ", ".join(sorted(entry))
            raise _Missing(f"metric {gate.metric!r} has no {stat!r} (has {have})")
        chosen = samples.select(market=gate.market, profile=gate.profile)
        value = _stat_of(chosen.good_values(), stat)
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise _Missing(f"{gate.metric}.{stat} is not a number: {value!r}")
    return float(value)


def resolve_window(window: Window, run: RunData) -> tuple[float, float]:
    """Seconds [start, end) on the run's timeline; raises `_Missing` for an unknown event."""

    def event(name: str) -> tuple[float, float]:
        for ev in run.events:
            if ev.name == name:
                return ev.start_s, ev.end_s
        match = re.fullmatch(r"mini_peak_(\d+)", name)
        if match:
            peaks = [ev for ev in run.events if ev.kind in _MINI_PEAK_KINDS]
            index = int(match.group(1)) - 1
            if 0 <= index < len(peaks):
                return peaks[index].start_s, peaks[index].end_s
        have = ", ".join(ev.name for ev in run.events[:12]) or "none (no events.json)"
        raise _Missing(f"no host event {name!r} in the run (have {have})")

    start = event(window.start)[0] if isinstance(window.start, str) else window.start
    end = event(window.end)[1] if isinstance(window.end, str) else window.end
    if end <= start:
        raise _Missing(f"window {window.label()} is empty ({start:g}..{end:g} s)")
    return start, end


def _from_window(gate: Gate, run: RunData, window: Window) -> float | None:
    start, end = resolve_window(window, run)
    stat = gate.stat
    if gate.metric == "error_rate" and not gate.measured:
        sets = [
            s.select(market=gate.market, profile=gate.profile, start_s=start, end_s=end)
            for name, s in run.samples.items()
            if not name.endswith("_lag_ms")  # generator health, not requests
        ]
        total = sum(len(s) for s in sets)
        if not run.samples:
            raise _Missing("error_rate over a window needs time-stamped samples (samples.npz)")
        if stat not in (None, "value"):
            raise _Missing("error_rate over a window is a rate; use no statistic")
        failed = sum(int((~s.ok).sum()) for s in sets)
        return failed / total if total else None
    samples = _samples_for(gate, run)
    if samples is not None:
        if stat is None or stat in ("value", "lo", "hi"):
            raise _Missing(f"{gate.metric} over a window is a distribution; name p95, mean, …")
        chosen = samples.select(market=gate.market, profile=gate.profile, start_s=start, end_s=end)
        return _stat_of(chosen.good_values(), stat)
    return _from_timeseries(gate, run, start, end)


_TS_ALIASES = {"peak_concurrent": ("concurrency", "concurrent", "viewers")}


def _from_timeseries(gate: Gate, run: RunData, start: float, end: float) -> float | None:
    ts = run.timeseries
    names = _TS_ALIASES.get(gate.metric, (gate.metric,))
    column = next((n for n in names if n in ts and ts[n].dtype.kind == "f"), None)
    if column is None or gate.measured or gate.profile is not None:
        have = sorted(run.samples) + [c for c in ts if c not in ("t_s", "market")]
        raise _Missing(
            f"{gate.metric} has no time-stamped data for a window "
            f"(windows work on: {', '.join(have) or 'nothing in this run'})"
        )
    t_s = ts["t_s"].astype(float)
    keep = (t_s >= start) & (t_s < end)
    if gate.market is not None:
        if "market" not in ts:
            raise _Missing("timeseries.csv has no market column")
        keep &= ts["market"] == gate.market
    values = ts[column][keep].astype(float)
    times = t_s[keep]
    # Overall figures add markets up per time step before taking the statistic.
    steps, inverse = np.unique(times, return_inverse=True)
    per_step = np.zeros(steps.size)
    np.add.at(per_step, inverse, np.nan_to_num(values))
    if gate.metric == "arrivals" and gate.stat in (None, "value"):
        return float(per_step.sum())
    stat = gate.stat or ("max" if gate.metric == "peak_concurrent" else "mean")
    if stat in ("value", "lo", "hi"):
        stat = "max" if gate.metric == "peak_concurrent" else "mean"
    return _stat_of(per_step, stat)


def observe(gate: Gate, run: RunData, source: str = "<gates>") -> float | None:
    """The run's figure for a gate (None when the run has no observations of it).

    Raises `GateError` naming the key when the run has no such metric, scope or window.
    """
    try:
        if gate.window is not None:
            return _from_window(gate, run, gate.window)
        return _from_document(gate, run)
    except _Missing as exc:
        raise _problem(source, gate.key, gate.expr, str(exc)) from None


def evaluate(gate: Gate, run: RunData, source: str = "<gates>") -> Verdict:
    """Judge one threshold. A figure with no observations fails (the gate cannot confirm it)."""
    observed = observe(gate, run, source)
    window = gate.window.label() if gate.window else None
    if observed is None:
        return Verdict(gate.key, "threshold", gate.expr, None, False, "no observations", window)
    passed = gate.holds(observed)
    detail = "" if passed else f"{observed:.6g} is not {gate.expr}"
    return Verdict(gate.key, "threshold", gate.expr, observed, passed, detail, window)


def evaluate_all(gates: list[Gate], run: RunData, source: str = "<gates>") -> list[Verdict]:
    """Judge every threshold; every missing metric is reported together (exit 2)."""
    verdicts: list[Verdict] = []
    problems: list[Problem] = []
    for gate in gates:
        try:
            verdicts.append(evaluate(gate, run, source))
        except GateError as exc:
            problems.extend(exc.problems)
    if problems:
        raise GateError(problems)
    return verdicts
