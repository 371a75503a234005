"""Judge one run: every threshold of `[gates]`, every regression against a baseline, validity.

Pure: takes parsed data, returns a frozen `GateResult` whose `exit_code` is the CLI's — 0 every
gate passed, 1 a gate failed (a run stopped by an `abortOnFail` threshold has failed), 3 the
run itself is invalid (e.g. its generator saturated).
Configuration problems (exit 2) are raised as `GateError` before any judging happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from livelab.errors import GateError, Problem
from reports.gates import Verdict, parse_gates
from reports.gates_abort import abort_verdicts
from reports.gates_observe import evaluate_all
from reports.gates_regress import regression
from reports.report_data import RunData

__all__ = ["GateResult", "judge"]


@dataclass(frozen=True)
class GateResult:
    """The verdicts on one run and what they add up to."""

    status: str  # "pass" | "fail" | "invalid"
    exit_code: int
    verdicts: tuple[Verdict, ...]
    run: str
    baseline: str | None = None
    max_regression: float | None = None
    alpha: float = 0.05
    notes: tuple[str, ...] = field(default_factory=tuple)
    elapsed_s: float | None = None  # the run's wall time (run.json), for junit.xml
    created_utc: str | None = None  # when the run was made (run.json), for junit.xml

    @property
    def failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "run": self.run,
            "baseline": self.baseline,
            "max_regression": self.max_regression,
            "alpha": self.alpha,
            "notes": list(self.notes),
            "verdicts": [v.as_dict() for v in self.verdicts],
        }


def judge(
    gates: Mapping[str, Any],
    run: RunData,
    *,
    source: str = "<gates>",
    run_label: str = "",
    baseline: RunData | None = None,
    baseline_label: str | None = None,
    max_regression: float = 0.10,
    alpha: float = 0.05,
) -> GateResult:
    """Evaluate `gates` (the scenario's raw `[gates]` table) on `run`.

    Raises `GateError` (exit 2) for malformed gates, unknown metrics, scopes or windows.
    """
    if not gates:
        raise GateError([Problem(source, "gates", {}, "no [gates] table; nothing to judge")])
    parsed = parse_gates(gates, source)
    verdicts = abort_verdicts(run.metrics) + evaluate_all(parsed, run, source)
    if baseline is not None:
        verdicts += [regression(g, run, baseline, max_regression, alpha, source) for g in parsed]
    notes = [str(n) for n in run.metrics.get("meta", {}).get("notes", [])] + list(run.notes)
    if not run.valid:
        status, code = "invalid", 3
    elif all(v.passed for v in verdicts):
        status, code = "pass", 0
    else:
        status, code = "fail", 1
    return GateResult(
        status=status,
        exit_code=code,
        verdicts=tuple(verdicts),
        run=run_label,
        baseline=baseline_label,
        max_regression=max_regression if baseline is not None else None,
        alpha=alpha,
        notes=tuple(notes),
        elapsed_s=_number(run.info.get("elapsed_s")),
        created_utc=str(run.info["created_utc"]) if run.info.get("created_utc") else None,
    )


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else None
