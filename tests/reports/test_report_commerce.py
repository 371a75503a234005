"""The commerce section of a load run's report: exact counts from a hand-made run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reports.report_build import write_report
from reports.report_commerce import commerce, prom_counters, run_commerce
from reports.report_data import RunData, load_run

COLUMNS = ["metric", "market", "profile", "value_ms", "ok", "t_s"]


def _load_run(root: Path) -> Path:
    """A `livelab run` directory: a 100-s window from 600 s, three orders measured (one
    failed), two votes, one referral, no answers; the model ordered 4 times in the window."""
    root.mkdir()
    meta = {"valid": True, "window": {"start_s": 600.0, "end_s": 700.0, "rule": "poll_1"},
            "generator": {"order_replays": 1}}  # fmt: skip
    overall = {
        "order_ms": {"p50": 20.0, "p95": 38.0, "p99": 39.6, "mean": 25.0, "n": 3},
        "vote_ack_ms": {"p50": 5.0, "p95": 6.0, "p99": 6.0, "mean": 5.0, "n": 2},
    }
    (root / "metrics.json").write_text(
        json.dumps({"meta": meta, "overall": overall, "markets": {}})
    )
    rows = [
        ["order_ms", "ID", "ID-4g", 10.0, True, 1.0],
        ["order_ms", "ID", "ID-4g", 20.0, True, 2.0],
        ["order_ms", "GB", "GB-wifi", 40.0, True, 3.0],
        ["order_ms", "GB", "GB-wifi", 0.0, False, 4.0],
        ["vote_ack_ms", "ID", "ID-4g", 5.0, True, 5.0],
        ["vote_ack_ms", "ID", "ID-4g", 5.0, True, 6.0],
        ["referral_ms", "ID", "ID-4g", 9.0, True, 7.0],
    ]
    (root / "locust").mkdir()
    (root / "locust" / "samples.json").write_text(json.dumps({"columns": COLUMNS, "rows": rows}))
    scripts = [
        {"actions": [[0, "join"], [1, "order"], [2, "order"], [3, "vote"], [4, "share"]]},
        {"actions": [[0, "join"], [3, "order"], [4, "order"], [5, "vote"], [9, "leave"]]},
    ]
    (root / "plan.json").write_text(
        json.dumps({"scale": 20, "sampling": {"actor_scale": 1}, "scripts": scripts})
    )
    (root / "model").mkdir()
    order_s = np.array([np.nan, 599.9, 600.0, 650.0, 680.0, 699.9, 700.0, np.nan])
    np.savez(root / "model" / "viewers.npz", arrival_s=np.zeros(8), order_s=order_s)
    (root / "stack_metrics.prom").write_text(
        "# HELP livelab_stack_orders_total orders created\n"
        "# TYPE livelab_stack_orders_total counter\n"
        "livelab_stack_orders_total 3\n"
        'livelab_stack_order_replays_total{room="demo"} 1.0\n'
        'livelab_stack_errors_total{code="rate_limited"} 2\n'
        'livelab_stack_errors_total{code="bad_json"} 1\n'
    )
    return root


def test_commerce_rows_and_order_facts(tmp_path: Path) -> None:
    root = _load_run(tmp_path / "run")
    plan = json.loads((root / "plan.json").read_text())
    prom = (root / "stack_metrics.prom").read_text()
    section = commerce(load_run(root), plan, prom)
    assert section is not None
    assert section.header[:4] == ("interaction", "planned", "measured", "failed")
    assert section.rows == (
        ("orders", "4", "3", "1", "20", "38"),
        ("votes", "2", "2", "0", "5", "6"),
        ("shares → referral codes", "1", "1", "0", "—", "—"),
    )
    assert section.facts == (
        "Orders measured: 3 against the model's 4 in the window "
        "(the plan replays every one of them).",
        "The target's ledger created 3 orders and answered 1 idempotent replays.",
        "Order errors: 1 failed; 1 answered as idempotent replays "
        "(a retry with the same Idempotency-Key).",
    )
    assert prom_counters(prom)["livelab_stack_errors_total"] == 3.0
    assert commerce(RunData(path=None, metrics={"overall": {}})) is None  # nothing measured


def test_summary_and_report_show_the_commerce_path(tmp_path: Path) -> None:
    files = write_report(_load_run(tmp_path / "run"))
    summary = files.summary.read_text()
    assert "**Commerce path**" in summary
    assert "| orders | 4 | 3 | 1 | 20 | 38 |" in summary
    assert "Orders measured: 3 against the model's 4 in the window" in summary
    html = files.html.read_text()
    assert '<h2 id="commerce">Commerce path</h2>' in html
    assert "<td>orders</td><td>4</td><td>3</td><td>1</td>" in html


def test_run_summary_prints_the_orders_against_the_model(tmp_path: Path) -> None:
    from livelab.commands.run import _commerce_lines

    root = _load_run(tmp_path / "run")
    figures = run_commerce(root)
    assert figures is not None
    assert figures["orders"] == {
        "measured": 3, "failed": 1, "planned": 4, "model_in_window": 4, "actor_scale": 1,
        "p50_ms": 20.0, "p95_ms": 38.0, "replays": 1, "ledger_created": 3, "ledger_replays": 1,
    }  # fmt: skip
    assert figures["measured_n"] == {"order_ms": 3, "vote_ack_ms": 2, "referral_ms": 1}
    assert _commerce_lines(figures) == [
        "orders: 3 measured of the model's 4 in the window, p50 20 ms / p95 38 ms; errors: "
        "1 failed, 1 idempotent replays; ledger 3 created, 1 replays",
        "measured n: order_ms 3, vote_ack_ms 2, referral_ms 1",
    ]
    assert run_commerce(tmp_path / "missing") is None
