"""Gate syntax and the figures gates read, checked exactly against the data written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reportfixtures import RunFactory, chat_samples, write_model_run

from livelab.errors import GateError
from reports.gates import Window, parse_gate, parse_gates
from reports.gates_observe import evaluate, observe
from reports.metrics import distribution, dumps, new_document
from reports.report_data import load_run


def test_parse_forms() -> None:
    g = parse_gate("chat_rtt_ms.p95", "< 600")
    assert (g.metric, g.stat, g.op, g.threshold, g.market, g.profile) == (
        "chat_rtt_ms", "p95", "<", 600.0, None, None,
    )  # fmt: skip
    assert parse_gate("error_rate", "< 0.1%").threshold == pytest.approx(0.001)
    assert parse_gate("ID:g2g_latency_ms.p95", "<600ms").market == "ID"
    assert parse_gate("profile=ID-4g:freeze_ratio.p95", "<= 0.02").profile == "ID-4g"
    assert parse_gate("measured:ID:retention_30s", ">= 0.5").measured
    w = parse_gate("chat_rtt_ms.p95", {"threshold": "< 600", "window": "mini_peak_1"})
    assert w.window == Window("mini_peak_1", "mini_peak_1")
    assert parse_gate("join_ms.p99", {"threshold": "< 1", "window": [60, 180]}).window == Window(
        60.0, 180.0
    )
    assert parse_gate("retention_30s.lo", ">= 0.5").stat == "lo"
    at = parse_gate("ID:chat_rtt_ms.p99@mini_peak_2", "< 800")
    assert (at.market, at.metric, at.stat, at.window) == (
        "ID", "chat_rtt_ms", "p99", Window("mini_peak_2", "mini_peak_2"),
    )  # fmt: skip
    assert parse_gate("join_ms.p95@60..180", "< 1").window == Window(60.0, 180.0)
    assert parse_gate("join_ms.p95@a..b", "< 1").window == Window("a", "b")


@pytest.mark.parametrize(
    ("key", "spec", "fragment"),
    [
        ("chat_rtt_ms.p95", "about 600", "expected OP NUMBER"),
        ("chat_rtt_ms.p95", "<", "expected OP NUMBER"),
        ("chat_rtt_ms.p95", 600, "a threshold string"),
        ("chat_rtt_ms.p95", "=< 600", "expected OP NUMBER"),
        ("chat_rt_ms.p95", "< 600", "did you mean chat_rtt_ms"),
        ("chat_rtt_ms.p95x", "< 600", "statistic"),
        ("retention_30s", "< 3ms", "unit ms only applies"),
        ("mars:chat_rtt_ms.p95", "< 600", "scope"),
        ("chat_rtt_ms.p95", {"threshold": "< 600", "windw": "x"}, "unknown key"),
        ("chat_rtt_ms.p95", {"window": "x"}, "needs threshold"),
        ("chat_rtt_ms.p95", {"threshold": "< 600", "window": [180, 60]}, "after its start"),
        ("chat_rtt_ms.p95", {"threshold": "< 600", "window": [1, 2, 3]}, "event name"),
        ("chat_rtt_ms.p95@9..3", "< 600", "after its start"),
        ("chat_rtt_ms.p95@x", {"threshold": "< 600", "window": "y"}, "in the key or the table"),
    ],
)
def test_malformed_gates_name_the_key(key: str, spec: object, fragment: str) -> None:
    with pytest.raises(GateError) as info:
        parse_gate(key, spec, source="s.toml")
    text = str(info.value)
    assert f"s.toml: gates.{key} = " in text
    assert fragment in text
    assert info.value.exit_code == 2


def test_all_problems_reported_together() -> None:
    with pytest.raises(GateError) as info:
        parse_gates({"a_metric": "< 1", "chat_rtt_ms.p95": "< 600", "join_ms.p95": "<<"})
    assert [p.path for p in info.value.problems] == ["gates.a_metric", "gates.join_ms.p95"]


def test_document_figures_exact(make_run: RunFactory) -> None:
    run = load_run(make_run(seed=3))
    chat = chat_samples(3)
    good = chat["value"][chat["ok"]]
    assert observe(parse_gate("chat_rtt_ms.p95", "< 1"), run) == float(np.percentile(good, 95))
    id_good = chat["value"][chat["ok"] & (chat["market"] == "ID")]
    got = observe(parse_gate("ID:chat_rtt_ms.p99", "< 1"), run)
    assert got == float(np.percentile(id_good, 99))
    # p90 is not in metrics.json: computed from the kept samples.
    assert observe(parse_gate("chat_rtt_ms.p90", "< 1"), run) == float(np.percentile(good, 90))
    assert observe(parse_gate("retention_30s", "> 0"), run) == 0.6
    assert observe(parse_gate("measured:retention_30s", "> 0"), run) == pytest.approx(0.5)
    assert observe(parse_gate("profile=ID-4g:g2g_latency_ms.p50", "< 1"), run) == 350.0


def test_threshold_verdicts(make_run: RunFactory) -> None:
    run = load_run(make_run())
    assert evaluate(parse_gate("retention_30s", ">= 0.6"), run).passed
    failed = evaluate(parse_gate("retention_30s", "> 0.6"), run)
    assert not failed.passed and failed.observed == 0.6
    assert "is not > 0.6" in failed.detail


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("g2g_latency_ms.p95", "no metric 'g2g_latency_ms' under overall"),
        ("FR:chat_rtt_ms.p95", "no market 'FR' in the run (have GB, ID)"),
        ("profile=XX-5g:g2g_latency_ms.p95", "no profile 'XX-5g'"),
        ("chat_rtt_ms", "is a distribution; name a statistic"),
        ("retention_30s.lo", "has no ci95"),
        ("measured:ID:retention_30s", "no market 'ID'"),
    ],
)
def test_missing_figures_are_config_errors(make_run: RunFactory, key: str, fragment: str) -> None:
    run = load_run(make_run())
    with pytest.raises(GateError) as info:
        observe(parse_gate(key, "< 1"), run, source="s.toml")
    assert f"gates.{key}" in str(info.value) and fragment in str(info.value)


def test_window_from_samples_exact(make_run: RunFactory) -> None:
    run = load_run(make_run(seed=5))
    chat = chat_samples(5)
    inside = (chat["t_s"] >= 200) & (chat["t_s"] < 300)
    expected = float(np.percentile(chat["value"][inside & chat["ok"]], 95))
    by_event = parse_gate("chat_rtt_ms.p95", {"threshold": "< 1", "window": "mini_peak_1"})
    by_time = parse_gate("chat_rtt_ms.p95", {"threshold": "< 1", "window": [200, 300]})
    by_name = parse_gate("chat_rtt_ms.p95", {"threshold": "< 1", "window": "lottery_1"})
    assert observe(by_event, run) == observe(by_time, run) == observe(by_name, run) == expected
    # From the first mini-peak's start to the second's end.
    span = parse_gate("ID:chat_rtt_ms.n", {"threshold": "> 0", "window": ["lottery_1", "poll_1"]})
    n = int(
        (chat["ok"] & (chat["market"] == "ID") & (chat["t_s"] >= 200) & (chat["t_s"] < 500)).sum()
    )
    assert observe(span, run) == n
    errors = parse_gate("error_rate", {"threshold": "< 1", "window": [0, 600]})
    assert observe(errors, run) == pytest.approx(float((~chat["ok"]).mean()))


def test_window_from_timeseries_exact(make_run: RunFactory) -> None:
    run = load_run(make_run())
    # concurrency at step k: ID 100+k, GB 100+2k; steps 20..29 cover [200, 300).
    peak = parse_gate("peak_concurrent", {"threshold": "> 0", "window": "mini_peak_1"})
    assert observe(peak, run) == (100 + 29) + (100 + 58)
    gb = parse_gate("GB:peak_concurrent", {"threshold": "> 0", "window": [200, 300]})
    assert observe(gb, run) == 158
    arrivals = parse_gate("arrivals", {"threshold": "> 0", "window": [0, 100]})
    assert observe(arrivals, run) == 10 * (5 + 6)


def test_window_problems_are_config_errors(make_run: RunFactory) -> None:
    run = load_run(make_run())
    for spec, fragment in [
        ({"threshold": "< 1", "window": "mini_peak_9"}, "no host event 'mini_peak_9'"),
        ({"threshold": "< 1", "window": [700, 800]}, "no observations"),
    ]:
        gate = parse_gate("chat_rtt_ms.p95", spec)
        if fragment == "no observations":
            assert evaluate(gate, run).detail == fragment
            assert not evaluate(gate, run).passed
        else:
            with pytest.raises(GateError, match=fragment):
                observe(gate, run)
    nowin = parse_gate("retention_30s", {"threshold": "> 0", "window": [0, 10]})
    with pytest.raises(GateError, match="no time-stamped data for a window"):
        observe(nowin, run)


def test_load_run_layout_uses_locust_samples_on_stream_time(tmp_path: Path) -> None:
    """A `livelab run` directory: Locust samples in plan time, the model in `model/`."""
    root = tmp_path / "load"
    write_model_run(root / "model")
    doc = new_document({"seed": 1, "window": {"start_s": 1000.0, "end_s": 1300.0}})
    doc["overall"]["chat_rtt_ms"] = distribution([10.0, 20.0, 900.0])
    (root / "metrics.json").write_text(dumps(doc))
    (root / "model" / "events.json").write_text(
        json.dumps({"events": [{"kind": "poll", "start_s": 1100.0, "end_s": 1200.0}]})
    )
    rows = [
        ["chat_rtt_ms", "ID", "ID-4g", 10.0, True, 50.0],  # stream time 1050: before the poll
        ["chat_rtt_ms", "ID", "ID-4g", 20.0, True, 150.0],  # 1150: in the poll
        ["chat_rtt_ms", "GB", "GB-wifi", 900.0, True, 160.0],
        ["order_ms", "GB", "GB-wifi", 0.0, False, 170.0],
        ["start_lag_ms", "", "", 5.0, True, 170.0],
    ]
    (root / "locust").mkdir()
    (root / "locust" / "samples.json").write_text(
        json.dumps(
            {"columns": ["metric", "market", "profile", "value_ms", "ok", "t_s"], "rows": rows}
        )
    )
    run = load_run(root)
    assert run.samples["chat_rtt_ms"].t_s.tolist() == [1050.0, 1150.0, 1160.0]
    # The model's per-viewer figures are not the load run's measurements.
    assert "join_ms" not in run.samples
    assert run.viewers["market"].tolist()[:1] == ["ID"]
    peak = parse_gate("chat_rtt_ms.max@mini_peak_1", "< 1")
    assert observe(peak, run) == 900.0
    errors = parse_gate("error_rate@poll_1", "< 1")
    assert observe(errors, run) == pytest.approx(1 / 3)  # health samples do not count
    assert (
        observe(parse_gate("chat_rtt_ms.p95", "< 1"), run) == doc["overall"]["chat_rtt_ms"]["p95"]
    )
