"""In a run that abortOnFail stopped (or an invalid one), a gate on a measured figure the load
never reached fails; in a valid run that ran its course it stays a configuration error, as does
an unknown name."""

from __future__ import annotations

import pytest

from livelab.errors import GateError
from loadgen.locust.samples import METRICS as LOCUST_METRICS
from reports.gates import parse_gates
from reports.gates_observe import evaluate_all
from reports.metrics import MEASURED
from reports.report_data import RunData


def _run(overall: dict[str, object], aborted: bool = True) -> RunData:
    meta = {"valid": True, "generator": {"aborted": {"t_s": 4.0}} if aborted else {}}
    return RunData(path=None, metrics={"meta": meta, "overall": overall, "markets": {}})


def whole_doc(run: RunData) -> dict[str, object]:
    return {"overall": run.metrics["overall"], "markets": {}}


def test_every_figure_locust_measures_is_known_to_the_gates():
    assert set(LOCUST_METRICS) <= set(MEASURED)


def test_an_unmeasured_order_latency_fails_its_gates_and_a_typo_stays_a_config_error():
    run = _run({"chat_rtt_ms": {"p50": 5.0, "p95": 9.0, "p99": 9.5, "mean": 6.0, "n": 40}})
    gates = parse_gates(
        {"order_ms.n": ">= 3", "order_ms.p95": "< 1000", "chat_rtt_ms.p95": "< 600"}
    )
    verdicts = {v.key: (v.observed, v.passed) for v in evaluate_all(gates, run)}
    assert verdicts == {
        "order_ms.n": (0.0, False),
        "order_ms.p95": (None, False),
        "chat_rtt_ms.p95": (9.0, True),
    }
    with pytest.raises(GateError, match="'ordr_ms': no such metric"):
        parse_gates({"ordr_ms.p95": "< 1000"})
    invalid = RunData(path=None, metrics={**whole_doc(run), "meta": {"valid": False}})
    assert evaluate_all(parse_gates({"order_ms.n": ">= 3"}), invalid)[0].observed == 0.0
    whole = _run(run.metrics["overall"], aborted=False)
    with pytest.raises(GateError, match="no metric 'order_ms'"):
        evaluate_all(parse_gates({"order_ms.p95": "< 1000"}), whole)
