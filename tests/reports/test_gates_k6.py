"""k6 threshold syntax: each form parses to the livelab gate it means and reads the same figure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from reportfixtures import RunFactory, chat_samples

from livelab.errors import GateError
from reports.gates import Window, parse_gate, parse_gates
from reports.gates_judge import judge
from reports.gates_k6 import aggregation_stat, go_duration_s
from reports.gates_observe import observe
from reports.report_data import load_run


@pytest.mark.parametrize(
    ("key", "expr", "metric", "stat", "op", "threshold"),
    [
        ("chat_rtt_ms", "p(95)<600", "chat_rtt_ms", "p95", "<", 600.0),
        ("chat_rtt_ms", "p(99.9) <= 1500", "chat_rtt_ms", "p99.9", "<=", 1500.0),
        ("chat_rtt_ms", "p(100)<9", "chat_rtt_ms", "p100", "<", 9.0),
        ("chat_rtt_ms", "p(0)>=0", "chat_rtt_ms", "p0", ">=", 0.0),
        ("join_ms", "avg<200", "join_ms", "mean", "<", 200.0),
        ("join_ms", "med < 150", "join_ms", "p50", "<", 150.0),
        ("join_ms", "min>1", "join_ms", "min", ">", 1.0),
        ("join_ms", "max<2000", "join_ms", "max", "<", 2000.0),
        ("join_ms", "count>100", "join_ms", "n", ">", 100.0),
        ("orders", "count>=10", "orders", "value", ">=", 10.0),
        ("error_rate", "rate<0.01", "error_rate", "value", "<", 0.01),
        ("retention_30s", "rate>=0.5", "retention_30s", "value", ">=", 0.5),
        ("peak_concurrent", "value>0", "peak_concurrent", "value", ">", 0.0),
        ("join_ms", "avg===3", "join_ms", "mean", "==", 3.0),
        ("join_ms", "avg!=3", "join_ms", "mean", "!=", 3.0),
        ("join_ms", "avg<1e3", "join_ms", "mean", "<", 1000.0),
        ("join_ms", "p(95)<1500ms", "join_ms", "p95", "<", 1500.0),  # livelab's units stay
        ("error_rate", "rate<1%", "error_rate", "value", "<", 0.01),
    ],
)
def test_k6_expressions_map_onto_livelab_statistics(
    key: str, expr: str, metric: str, stat: str, op: str, threshold: float
) -> None:
    gate = parse_gate(key, expr)
    assert (gate.metric, gate.stat, gate.op, gate.expr) == (metric, stat, op, expr)
    assert gate.threshold == pytest.approx(threshold)


def test_scopes_and_windows_stay_with_k6_expressions() -> None:
    gate = parse_gate("ID:chat_rtt_ms@mini_peak_1", "p(95)<600")
    assert (gate.market, gate.metric, gate.stat, gate.window) == (
        "ID", "chat_rtt_ms", "p95", Window("mini_peak_1", "mini_peak_1"),
    )  # fmt: skip
    ranged = parse_gate("profile=ID-4g:join_ms@60..180", {"threshold": "avg<400"})
    assert (ranged.profile, ranged.stat, ranged.window) == ("ID-4g", "mean", Window(60.0, 180.0))
    assert parse_gate("measured:retention_30s", "rate>0.2").measured


def test_a_list_is_several_gates_keyed_by_index() -> None:
    gates = parse_gates(
        {
            "chat_rtt_ms": ["p(95)<600", "avg<200", {"threshold": "max<5000"}],
            "chat_rtt_ms.p99": "< 800",
        }
    )
    assert [(g.key, g.metric, g.stat, g.op, g.threshold) for g in gates] == [
        ("chat_rtt_ms[0]", "chat_rtt_ms", "p95", "<", 600.0),
        ("chat_rtt_ms[1]", "chat_rtt_ms", "mean", "<", 200.0),
        ("chat_rtt_ms[2]", "chat_rtt_ms", "max", "<", 5000.0),
        ("chat_rtt_ms.p99", "chat_rtt_ms", "p99", "<", 800.0),
    ]


def test_abort_on_fail_object_form() -> None:
    spec = {"threshold": "p(95)<600", "abortOnFail": True, "delayAbortEval": "1m30s"}
    gate = parse_gate("chat_rtt_ms", spec)
    assert (gate.stat, gate.abort_on_fail, gate.delay_abort_eval_s) == ("p95", True, 90.0)
    plain = parse_gate("chat_rtt_ms", {"threshold": "p(95)<600", "abortOnFail": True})
    assert (plain.abort_on_fail, plain.delay_abort_eval_s) == (True, None)
    assert not parse_gate("chat_rtt_ms", "p(95)<600").abort_on_fail


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("0", 0.0),
     ("2h45m", 9900.0), ("1 m", 60.0), ("250us", 0.00025), ("3µs", 3e-6), ("100ns", 1e-7)],
)  # fmt: skip
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "", "-5s", "1d", "s", "10s5", "1..5s", "1m 30x"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        go_duration_s(text)


@pytest.mark.parametrize(
    ("key", "spec", "fragment"),
    [
        ("chat_rtt_ms.p95", "p(95)<600", "name the statistic once: .p95 in the key or p(95)"),
        ("chat_rtt_ms", "p(101)<600", "percentile 101 is above 100"),
        ("chat_rtt_ms", "p(x)<600", "aggregation method 'p(x)'"),
        ("chat_rtt_ms", "p( 95 )<600", "aggregation method"),
        ("chat_rtt_ms", "average<600", "aggregation method 'average'; allowed: count, rate"),
        ("join_ms", "rate<0.1", "rate applies to rates"),
        ("chat_rtt_ms", "p(95)=600", "AGG OP NUMBER"),
        ("chat_rtt_ms", "p(95)<", "AGG OP NUMBER"),
        ("chat_rtt_ms", {"threshold": "p(95)<1", "abortOnFail": "yes"}, "true or false"),
        ("chat_rtt_ms", {"threshold": "p(95)<1", "delayAbortEval": "5s"}, "needs abortOnFail"),
        (
            "chat_rtt_ms",
            {"threshold": "p(95)<1", "abortOnFail": True, "delayAbortEval": 10},
            'a duration string such as "10s"',
        ),
        (
            "chat_rtt_ms@mini_peak_1",
            {"threshold": "p(95)<1", "abortOnFail": True},
            "no window and no measured: scope",
        ),
        (
            "measured:retention_30s",
            {"threshold": "rate>0.1", "abortOnFail": True},
            "no window and no measured: scope",
        ),
    ],
)
def test_malformed_k6_gates_name_the_key(key: str, spec: object, fragment: str) -> None:
    with pytest.raises(GateError) as info:
        parse_gate(key, spec, source="s.toml")
    assert f"s.toml: gates.{key} = " in str(info.value)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_list_problems_name_the_item() -> None:
    with pytest.raises(GateError) as info:
        parse_gates({"chat_rtt_ms": ["p(95)<600", "avg<<1", 5], "join_ms": []}, "s.toml")
    assert [p.path for p in info.value.problems] == [
        "gates.chat_rtt_ms[1]", "gates.chat_rtt_ms[2]", "gates.join_ms",
    ]  # fmt: skip


def test_aggregation_table_is_exact() -> None:
    assert [aggregation_stat(m, "chat_rtt_ms") for m in ("avg", "min", "max", "med")] == [
        "mean", "min", "max", "p50",
    ]  # fmt: skip
    assert aggregation_stat("p(90)", "chat_rtt_ms") == "p90"
    assert aggregation_stat("count", "arrivals") == "value"


def test_both_syntaxes_read_the_same_figures(make_run: RunFactory) -> None:
    run = load_run(make_run(seed=3))
    chat = chat_samples(3)
    good = chat["value"][chat["ok"]]
    pairs = [
        (("chat_rtt_ms.p95", "< 1"), ("chat_rtt_ms", "p(95)<1"), np.percentile(good, 95)),
        (("chat_rtt_ms.p90", "< 1"), ("chat_rtt_ms", "p(90)<1"), np.percentile(good, 90)),
        (("chat_rtt_ms.mean", "< 1"), ("chat_rtt_ms", "avg<1"), good.mean()),
        (("chat_rtt_ms.p50", "< 1"), ("chat_rtt_ms", "med<1"), np.percentile(good, 50)),
        (("chat_rtt_ms.max", "< 1"), ("chat_rtt_ms", "max<1"), good.max()),
        (("chat_rtt_ms.n", "< 1"), ("chat_rtt_ms", "count<1"), good.size),
        (("error_rate", "< 1"), ("error_rate", "rate<1"), (~chat["ok"]).mean()),
    ]
    for ours, k6, expected in pairs:
        a, b = observe(parse_gate(*ours), run), observe(parse_gate(*k6), run)
        assert a == b == pytest.approx(float(expected)), (ours, k6)


def test_judge_a_list_one_verdict_per_threshold(make_run: RunFactory) -> None:
    run = load_run(make_run(seed=3))
    good = chat_samples(3)["value"]
    mean = float(good[chat_samples(3)["ok"]].mean())
    result = judge({"chat_rtt_ms": [f"avg<{mean + 1}", f"avg<{mean - 1}"]}, run)
    assert [(v.key, v.passed) for v in result.verdicts] == [
        ("chat_rtt_ms[0]", True), ("chat_rtt_ms[1]", False),
    ]  # fmt: skip
    assert (result.status, result.exit_code) == ("fail", 1)


def test_a_scenario_file_takes_k6_lists_and_objects(make_scenario: Callable[[str], Path]) -> None:
    from scenarios import load_scenario

    path = make_scenario(
        '"chat_rtt_ms" = ["p(95)<600", "avg<200"]\n'
        '"join_ms" = { threshold = "p(99)<1500", abortOnFail = true, delayAbortEval = "10s" }\n'
    )
    gates = parse_gates(load_scenario(path).gates, str(path))
    assert [(g.key, g.stat, g.abort_on_fail, g.delay_abort_eval_s) for g in gates] == [
        ("chat_rtt_ms[0]", "p95", False, None),
        ("chat_rtt_ms[1]", "mean", False, None),
        ("join_ms", "p99", True, 10.0),
    ]


def test_the_syntax_example_in_docs_parses() -> None:
    import re
    import tomllib

    text = (Path(__file__).resolve().parents[2] / "docs" / "gates.md").read_text("utf-8")
    block = re.search(r"## Threshold syntax.*?```toml\n(.*?)```", text, re.S)
    assert block is not None
    gates = parse_gates(tomllib.loads(block.group(1))["gates"], "docs/gates.md")
    assert len(gates) == 16  # 15 keys, one of them a list of two
    by_key = {g.key: g for g in gates}
    assert by_key["with_measured_qoe.retention_30s"].measured
    assert by_key["chat_rtt_ms"].stat == by_key["chat_rtt_ms.p95"].stat == "p95"
    assert by_key["order_ms"].abort_on_fail and by_key["order_ms"].delay_abort_eval_s == 10.0
