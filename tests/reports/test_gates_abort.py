"""Abort on fail (k6's abortOnFail), judged exactly on sample rows; and how a gate reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reportfixtures import RunFactory

from livelab.errors import GateError
from loadgen.locust.samples import METRICS
from loadgen.run.abort import abort_notes, write_abort_spec
from reports.gates import parse_gates
from reports.gates_abort import Abort, abort_gates, abort_verdicts, first_failure, observe_live
from reports.gates_judge import judge
from reports.report_data import load_run

ABORT = {"abortOnFail": True}
# (metric, market, profile, value_ms, ok, t_s): ID chat slow, GB chat fast, one failed join.
ROWS = [
    ("chat_rtt_ms", "ID", "ID-4g", 900.0, True, 1.0),
    ("chat_rtt_ms", "ID", "ID-4g", 1000.0, True, 2.0),
    ("chat_rtt_ms", "GB", "GB-wifi", 40.0, True, 2.5),
    ("chat_rtt_ms", "GB", "GB-wifi", 60.0, True, 3.0),
    ("chat_rtt_ms", "GB", "GB-wifi", 5000.0, False, 3.5),  # failed: no latency figure
    ("join_ms", "GB", "GB-wifi", 100.0, False, 4.0),
    ("start_lag_ms", "GB", "GB-wifi", 1.0, True, 4.0),  # generator health, not a request
]


def _gates(table: dict[str, object]) -> list:
    return abort_gates(parse_gates(table), METRICS)


def test_only_abort_on_fail_gates_are_chosen() -> None:
    gates = _gates(
        {
            "chat_rtt_ms": [{"threshold": "p(95)<600", **ABORT}, "avg<10"],
            "error_rate": {"threshold": "rate<0.5", **ABORT},
            "join_ms.p95": "< 1",
        }
    )
    assert [g.key for g in gates] == ["chat_rtt_ms[0]", "error_rate"]


def test_figures_so_far_are_exact() -> None:
    (overall, id_only, gb_max, errors, gb_errors) = _gates(
        {
            "chat_rtt_ms": {"threshold": "p(95)<600", **ABORT},
            "ID:chat_rtt_ms": {"threshold": "avg<600", **ABORT},
            "profile=GB-wifi:chat_rtt_ms": {"threshold": "max<600", **ABORT},
            "error_rate": {"threshold": "rate<0.5", **ABORT},
            "GB:error_rate": {"threshold": "< 50%", **ABORT},
        }
    )
    good = [900.0, 1000.0, 40.0, 60.0]
    assert observe_live(overall, ROWS, METRICS) == float(np.percentile(good, 95))
    assert observe_live(id_only, ROWS, METRICS) == 950.0
    assert observe_live(gb_max, ROWS, METRICS) == 60.0
    assert observe_live(errors, ROWS, METRICS) == 2 / 6  # health samples are not requests
    assert observe_live(gb_errors, ROWS, METRICS) == 2 / 4
    assert observe_live(id_only, [], METRICS) is None


def test_first_failure_in_gate_order_with_k6_delay() -> None:
    gates = _gates(
        {
            "GB:chat_rtt_ms": {"threshold": "p(95)<600", **ABORT},
            "ID:chat_rtt_ms": {"threshold": "p(95)<600", **ABORT, "delayAbortEval": "10s"},
            "error_rate": {"threshold": "rate<0.3", **ABORT},
        }
    )
    # Before 10 s the ID gate is not judged; the error rate (2/6) fails first.
    assert first_failure(gates, ROWS, 10.0, METRICS) == Abort("error_rate", "rate<0.3", 2 / 6, 10.0)
    # After it (k6: strictly longer than delayAbortEval), ID's p95 fails first in [gates] order.
    got = first_failure(gates, ROWS, 10.5, METRICS)
    assert got == Abort("ID:chat_rtt_ms", "p(95)<600", float(np.percentile([900, 1000], 95)), 10.5)
    assert (
        got.note() == "aborted: ID:chat_rtt_ms p(95)<600 failed after 10.5 s of load (observed 995)"
    )
    healthy = [r for r in ROWS if r[1] == "GB" and r[4]]
    assert first_failure(gates, healthy, 60.0, METRICS) is None
    assert first_failure(gates, [], 60.0, METRICS) is None  # nothing observed: nothing fails


@pytest.mark.parametrize(
    ("key", "spec"),
    [
        ("g2g_latency_ms", {"threshold": "p(95)<600", **ABORT}),  # the media panel's, not Locust's
        ("retention_30s", {"threshold": "rate>0.5", **ABORT}),  # modelled after the run
        ("chat_rtt_ms.value", {"threshold": "< 600", **ABORT}),
        ("error_rate.mean", {"threshold": "< 1", **ABORT}),
    ],
)
def test_gates_the_load_cannot_judge_are_config_errors(key: str, spec: object) -> None:
    with pytest.raises(GateError) as info:
        abort_gates(parse_gates({key: spec}, "s.toml"), METRICS, "s.toml")
    assert f"s.toml: gates.{key} = " in str(info.value)
    assert "abortOnFail needs a figure the load generator measures" in str(info.value)


def test_abort_spec_written_only_when_needed(tmp_path: Path) -> None:
    assert write_abort_spec({"chat_rtt_ms": "p(95)<600"}, tmp_path, "s.toml") is None
    assert not (tmp_path / "abort.json").exists()
    table = {"chat_rtt_ms": {"threshold": "p(95)<600", **ABORT}, "join_ms": ["p(95)<1"]}
    path = write_abort_spec(table, tmp_path, "s.toml")
    assert path == tmp_path / "abort.json"
    assert json.loads(path.read_text()) == {"source": "s.toml", "gates": table}
    with pytest.raises(GateError):
        write_abort_spec({"fps": {"threshold": "avg>20", **ABORT}}, tmp_path, "s.toml")


def test_an_aborted_run_fails_its_gate(make_run: RunFactory) -> None:
    path = make_run(seed=3)
    doc = json.loads((path / "metrics.json").read_text())
    abort = Abort("chat_rtt_ms", "p(95)<600", 812.5, 14.0)
    doc["meta"]["generator"] = {"aborted": abort.as_dict()}
    doc["meta"]["notes"] = abort_notes(doc["meta"]["generator"])
    (path / "metrics.json").write_text(json.dumps(doc))
    assert doc["meta"]["notes"] == [abort.note()]
    verdicts = abort_verdicts(doc)
    assert [(v.key, v.kind, v.expr, v.observed, v.passed) for v in verdicts] == [
        ("chat_rtt_ms", "abort", "p(95)<600", 812.5, False),
    ]  # fmt: skip
    # Every threshold passes on the whole (short) run, yet the gate fails: the run was aborted.
    result = judge({"retention_30s": ">= 0"}, load_run(path))
    assert (result.status, result.exit_code) == ("fail", 1)
    assert [v.kind for v in result.verdicts] == ["abort", "threshold"]
    assert result.notes[0].startswith("aborted: chat_rtt_ms p(95)<600")
    assert abort_notes({}) == [] and abort_verdicts({"meta": {}}) == []
    assert abort_notes({"abort_error": "ValueError: x"}) == [
        "abortOnFail gates not judged during the load: ValueError: x"
    ]
