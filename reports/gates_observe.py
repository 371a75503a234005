"""Observe a gate's figure in a run and judge it: whole-run figures and windows.

Whole-run figures come from `metrics.json` (a percentile it lacks is computed from the run's
samples when it kept them). Windowed figures come from time-stamped data: samples (Locust's
exact samples or the model's per-viewer arrays), else `timeseries.csv`. A gate on something the
run does not have raises `GateError` (exit 2) naming the key; see `docs/gates.md`. In a run an
abortOnFail gate stopped, or an invalid one, a measured figure the load never reached (no
orders yet) is observed as none (`n` = 0) and its gate fails, instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from livelab.errors import GateError, Problem
from reports.gates import MINI_PEAK_KINDS, Gate, Verdict, Window, problem
from reports.metrics import MEASURED
from reports.report_data import RunData, SampleSet

__all__ = ["evaluate", "evaluate_all", "observe", "resolve_window", "stat_of"]


class _Missing(Exception):
    """The run has no such figure; becomes a `GateError` naming the key."""


def _scope_name(gate: Gate) -> str:
    if gate.market:
        return f"markets.{gate.market}"
    if gate.profile:
        return f"profiles.{gate.profile}"
    return "overall"


def _cut_short(doc: Mapping[str, Any]) -> bool:
    """Whether the run's load did not play its plan as measured: an abortOnFail gate stopped it
    (`meta.generator.aborted`) or the run is invalid (`meta.valid` false)."""
    meta = doc.get("meta", {})
    generator = meta.get("generator", {})
    aborted = isinstance(generator, Mapping) and bool(generator.get("aborted"))
    return aborted or meta.get("valid", True) is False


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
    if entry is None and gate.metric in MEASURED and _cut_short(doc):
        return {}  # the load stopped (or went wrong) before this figure had a sample
    if not isinstance(entry, Mapping):
        raise _Missing(f"no metric {gate.metric!r} under {_scope_name(gate)} in the run")
    return entry


def stat_of(values: np.ndarray[Any, np.dtype[np.float64]], stat: str) -> float | None:
    """`n`, `mean`, `min`, `max` or `pNN` (numpy's linear percentile) of `values`; None when
    there are none (except `n`)."""
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
    if not entry:  # not measured in this run: no samples (n = 0), no other figure
        return 0.0 if stat == "n" else None
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
        value = stat_of(chosen.good_values(), stat)
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
            peaks = [ev for ev in run.events if ev.kind in MINI_PEAK_KINDS]
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
        return stat_of(chosen.good_values(), stat)
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
    return stat_of(per_step, stat)


def observe(gate: Gate, run: RunData, source: str = "<gates>") -> float | None:
    """The run's figure for a gate (None when the run has no observations of it).

    Raises `GateError` naming the key when the run has no such metric, scope or window.
    """
    try:
        if gate.window is not None:
            return _from_window(gate, run, gate.window)
        return _from_document(gate, run)
    except _Missing as exc:
        raise problem(source, gate.key, gate.expr, str(exc)) from None


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
