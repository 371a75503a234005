"""Regressions against a baseline run: worse by more than a margin *and* statistically so.

For every gated figure the current run is compared with the baseline. "Worse" follows the
gate's operator (`<`/`<=`: higher is worse; `>`/`>=`: lower is worse; `==`/`!=`: the metric's
usual direction). A regression counts only when the relative change is beyond
`max_regression` *and* a one-sided test at level `alpha` says the change is real:

- **Mann-Whitney U** on the samples, when both runs kept time-stamped samples of the metric
  (latency statistics; the test is on the whole distribution's shift, not on one percentile);
- **Welch t** on replications, when both runs hold a replicated scalar (`ci95`, with the number
  of replications from `meta.replications`; the standard deviation is recovered from the
  interval's half-width);
- **two-proportion z** for rates (retention, conversion, error rate, …), with the number of
  viewers (`arrivals`) or requests (`n`) of the same scope as the denominator;
- otherwise no test applies, and the change is reported but does not count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from livelab.errors import GateError
from reports.gates import Gate, Verdict
from reports.gates_k6 import RATE_METRICS
from reports.gates_observe import observe, resolve_window
from reports.report_data import RunData

__all__ = ["RATE_METRICS", "Test", "higher_is_worse", "regression"]

_HIGHER_WORSE_PREFIXES = ("freeze", "packet_loss", "jitter", "error", "abandon", "cac", "loop_lag")


def higher_is_worse(gate: Gate) -> bool:
    """Which way is a regression for this gate."""
    if gate.op in ("<", "<="):
        return True
    if gate.op in (">", ">="):
        return False
    metric = gate.metric
    return (
        metric.endswith("_ms")
        or metric == "loadgen_cpu"
        or metric.startswith(_HIGHER_WORSE_PREFIXES)
    )


@dataclass(frozen=True)
class Test:
    """A one-sided test of "the current run is worse than the baseline"."""

    name: str
    p_value: float


def _mann_whitney(gate: Gate, current: RunData, baseline: RunData, worse_up: bool) -> Test | None:
    if gate.measured or gate.stat in (None, "value", "n", "lo", "hi"):
        return None
    a, b = current.samples.get(gate.metric), baseline.samples.get(gate.metric)
    if a is None or b is None:
        return None
    spans: list[tuple[float | None, float | None]] = []
    for run in (current, baseline):
        spans.append(resolve_window(gate.window, run) if gate.window else (None, None))
    x = a.select(market=gate.market, profile=gate.profile, start_s=spans[0][0], end_s=spans[0][1])
    y = b.select(market=gate.market, profile=gate.profile, start_s=spans[1][0], end_s=spans[1][1])
    xv, yv = x.good_values(), y.good_values()
    if xv.size < 2 or yv.size < 2:
        return None
    result = stats.mannwhitneyu(xv, yv, alternative="greater" if worse_up else "less")
    return Test(f"Mann-Whitney U (n={xv.size} vs {yv.size})", float(result.pvalue))


def _scope(doc: Mapping[str, Any], gate: Gate) -> Mapping[str, Any]:
    section: Any = doc.get("with_measured_qoe", {}) if gate.measured else doc
    if gate.profile is not None:
        scope = section.get("profiles", {}).get(gate.profile, {})
    elif gate.market is not None:
        scope = section.get("markets", {}).get(gate.market, {})
    else:
        scope = section.get("overall", {})
    return scope if isinstance(scope, Mapping) else {}


def _replications(doc: Mapping[str, Any]) -> int:
    meta = doc.get("meta", {})
    n = meta.get("replications", 1) if isinstance(meta, Mapping) else 1
    return int(n) if isinstance(n, int | float) and n >= 1 else 1


def _welch(gate: Gate, current: RunData, baseline: RunData, worse_up: bool) -> Test | None:
    if gate.window is not None or gate.stat not in (None, "value"):
        return None
    moments = []
    for run in (current, baseline):
        entry = _scope(run.metrics, gate).get(gate.metric, {})
        ci, value, n = entry.get("ci95"), entry.get("value"), _replications(run.metrics)
        if not isinstance(ci, list) or len(ci) != 2 or value is None or None in ci or n < 2:
            return None
        half = (float(ci[1]) - float(ci[0])) / 2
        sd = half * math.sqrt(n) / float(stats.t.ppf(0.975, n - 1))
        moments.append((float(value), sd, n))
    (m1, s1, n1), (m2, s2, n2) = moments
    if s1 == 0 and s2 == 0:
        return Test(f"exact (zero variance, {n1} vs {n2} replications)", 0.0 if m1 != m2 else 1.0)
    result = stats.ttest_ind_from_stats(
        m1, s1, n1, m2, s2, n2, equal_var=False, alternative="greater" if worse_up else "less"
    )
    return Test(f"Welch t ({n1} vs {n2} replications)", float(result.pvalue))


def _proportion_counts(gate: Gate, run: RunData) -> tuple[float, float] | None:
    """(share, denominator) of a rate in a run."""
    if gate.window is not None:
        if gate.metric != "error_rate" or not run.samples:
            return None
        start, end = resolve_window(gate.window, run)
        sets = [
            s.select(market=gate.market, profile=gate.profile, start_s=start, end_s=end)
            for name, s in run.samples.items()
            if not name.endswith("_lag_ms")
        ]
        total = sum(len(s) for s in sets)
        failed = sum(int((~s.ok).sum()) for s in sets)
        return (failed / total, float(total)) if total else None
    scope = _scope(run.metrics, gate)
    entry = scope.get(gate.metric, {})
    value = entry.get("value")
    n = entry.get("n")
    if n is None:
        arrivals = scope.get("arrivals", {})
        n = arrivals.get("value") if isinstance(arrivals, Mapping) else None
    if not isinstance(value, int | float) or not isinstance(n, int | float) or n <= 0:
        return None
    return float(value), float(n)


def _two_proportion(gate: Gate, current: RunData, baseline: RunData, worse_up: bool) -> Test | None:
    if gate.metric not in RATE_METRICS or gate.stat not in (None, "value"):
        return None
    a, b = _proportion_counts(gate, current), _proportion_counts(gate, baseline)
    if a is None or b is None:
        return None
    (p1, n1), (p2, n2) = a, b
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    name = f"two-proportion z (n={n1:.0f} vs {n2:.0f})"
    if se == 0:
        return Test(name, 1.0 if p1 == p2 else 0.0)
    z = (p1 - p2) / se
    p = float(stats.norm.sf(z)) if worse_up else float(stats.norm.cdf(z))
    return Test(name, p)


def regression(
    gate: Gate,
    current: RunData,
    baseline: RunData,
    max_regression: float,
    alpha: float = 0.05,
    source: str = "<gates>",
) -> Verdict:
    """Compare one gated figure with the baseline. Fails only when worse beyond the margin
    *and* significant at `alpha`."""
    expr = f"≤ {max_regression:.0%} worse"
    label = gate.window.label() if gate.window else None
    now = observe(gate, current, source)
    try:
        base = observe(gate, baseline, source)
    except GateError:
        return Verdict(gate.key, "regression", expr, now, True, "not in the baseline", label)
    if now is None or base is None:
        return Verdict(gate.key, "regression", expr, now, True, "no observations", label, base)
    worse_up = higher_is_worse(gate)
    delta = now - base if worse_up else base - now
    change = delta / abs(base) if base != 0 else (math.inf if delta > 0 else 0.0)
    test = (
        _mann_whitney(gate, current, baseline, worse_up)
        or _welch(gate, current, baseline, worse_up)
        or _two_proportion(gate, current, baseline, worse_up)
    )
    if test is not None and not math.isfinite(test.p_value):
        test = None  # a degenerate test (e.g. constant samples) says nothing
    beyond = change > max_regression
    significant = None if test is None else bool(test.p_value < alpha)
    failed = beyond and bool(significant)
    if not beyond:
        detail = "within margin"
    elif test is None:
        detail = "worse beyond margin, but no test applies (no samples, replications or counts)"
    elif significant:
        detail = f"significant regression (p={test.p_value:.3g} < {alpha})"
    else:
        detail = f"worse beyond margin but not significant (p={test.p_value:.3g} ≥ {alpha})"
    return Verdict(
        key=gate.key,
        kind="regression",
        expr=expr,
        observed=now,
        passed=not failed,
        detail=detail,
        window=label,
        baseline=base,
        change=float(np.clip(change, -1e12, 1e12)),
        test=None if test is None else test.name,
        p_value=None if test is None else test.p_value,
        significant=significant,
    )
