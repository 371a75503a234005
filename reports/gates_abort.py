"""Abort on fail (k6's `abortOnFail`): judge a load run *so far* and say whether to stop it.

The Locust master (`loadgen.locust.abort`) calls `first_failure` every few seconds with the exact
sample rows it has merged, `(metric, market, profile, value_ms, ok, t_s)`, and the seconds since
the load started. As in k6, a gate with `delayAbortEval` is not judged until that much load time
has passed, and a figure with no samples yet does not fail (there is nothing to judge). Only what
the load generator measures can abort: its latency samples (`live`, the caller's list) and
`error_rate` (failed / all of those requests, as `loadgen.run.measured` counts it). The
`Abort` is written into the run (`meta.generator.aborted`), and `abort_verdicts` turns it into a
failing verdict, so `livelab gate` fails an aborted run (exit 1). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livelab.errors import GateError, Problem
from reports.gates import Gate, Verdict, problem
from reports.gates_observe import stat_of

__all__ = ["Abort", "abort_gates", "abort_verdicts", "first_failure", "observe_live"]

Row = Sequence[Any]  # (metric, market, profile, value_ms, ok, t_s)


@dataclass(frozen=True)
class Abort:
    """A threshold that failed during the load and stopped it."""

    key: str
    expr: str
    observed: float
    t_s: float  # seconds of load when it was judged

    def note(self) -> str:
        """The run's note: `aborted: KEY EXPR …`."""
        return (
            f"aborted: {self.key} {self.expr} failed after {self.t_s:.1f} s of load "
            f"(observed {self.observed:.4g})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "expr": self.expr,
            "observed": self.observed,
            "t_s": self.t_s,
            "note": self.note(),
        }


def abort_gates(
    gates: Iterable[Gate], live: Collection[str], source: str = "<gates>"
) -> list[Gate]:
    """The `abortOnFail` gates, checked to be judgeable during the load (`live` metrics with a
    statistic, or `error_rate`). Raises `GateError` (exit 2) naming every other one."""
    chosen: list[Gate] = []
    problems: list[Problem] = []
    for gate in gates:
        if not gate.abort_on_fail:
            continue
        if gate.metric == "error_rate":
            ok = gate.stat in (None, "value")
        else:
            ok = gate.metric in live and gate.stat not in (None, "value", "lo", "hi")
        if not ok:
            allowed = ", ".join(f"{m}.STAT" for m in sorted(live))
            why = (
                "abortOnFail needs a figure the load generator measures as it runs: "
                f"error_rate (a rate) or {allowed}"
            )
            problems.extend(problem(source, gate.key, gate.expr, why).problems)
            continue
        chosen.append(gate)
    if problems:
        raise GateError(problems)
    return chosen


def _in_scope(gate: Gate, row: Row) -> bool:
    return (gate.market is None or row[1] == gate.market) and (
        gate.profile is None or row[2] == gate.profile
    )


def observe_live(gate: Gate, rows: Sequence[Row], live: Collection[str]) -> float | None:
    """The gate's figure over `rows` (None when they hold no observation of it)."""
    if gate.metric == "error_rate":
        requests = [r for r in rows if r[0] in live and _in_scope(gate, r)]
        if not requests:
            return None
        return sum(1 for r in requests if not r[4]) / len(requests)
    values = np.fromiter(
        (float(r[3]) for r in rows if r[0] == gate.metric and r[4] and _in_scope(gate, r)),
        dtype=float,
    )
    if values.size == 0:
        return None
    if gate.stat is None:
        return None  # abort_gates() admits none such: a latency needs a statistic
    return stat_of(values, gate.stat)


def first_failure(
    gates: Sequence[Gate], rows: Sequence[Row], elapsed_s: float, live: Collection[str]
) -> Abort | None:
    """The first gate (in `[gates]` order) that fails on `rows` after `elapsed_s` s of load."""
    for gate in gates:
        if gate.delay_abort_eval_s is not None and elapsed_s <= gate.delay_abort_eval_s:
            continue  # k6: abort only once the test has run longer than delayAbortEval
        observed = observe_live(gate, rows, live)
        if observed is not None and not gate.holds(observed):
            return Abort(gate.key, gate.expr, float(observed), round(float(elapsed_s), 3))
    return None


def abort_verdicts(metrics: Mapping[str, Any]) -> list[Verdict]:
    """A failing verdict for the threshold that aborted the run (`meta.generator.aborted`)."""
    generator = metrics.get("meta", {}).get("generator") or {}
    aborted = generator.get("aborted") if isinstance(generator, Mapping) else None
    if not isinstance(aborted, Mapping):
        return []
    observed = aborted.get("observed")
    return [
        Verdict(
            key=str(aborted.get("key", "?")),
            kind="abort",
            expr=str(aborted.get("expr", "")),
            observed=float(observed) if isinstance(observed, int | float) else None,
            passed=False,
            detail=str(aborted.get("note", "aborted the run")),
        )
    ]
