"""`livelab report`: the numbers behind each plot exactly, the pictures by smoke test.

The audience plots (concurrency, retention, funnel, referrals) are in test_plots_audience.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from reportfixtures import RunFactory, chat_samples, write_model_run

from livelab.cli import main
from reports.plots_health import health
from reports.plots_latency import ecdf, latency_curves
from reports.plots_qoe import freeze_by_profile, measured_vs_modelled
from reports.report_build import PLOTS, build_figures, write_report
from reports.report_data import load_run
from reports.report_tables import cell, headline_rows


@pytest.fixture
def model_run(tmp_path: Path) -> Path:
    return write_model_run(tmp_path / "model")


def test_viewers_become_samples_with_profiles(model_run: Path) -> None:
    run = load_run(model_run)
    chat = run.samples["chat_rtt_ms"]
    assert chat.market.tolist() == ["ID"] * 6 + ["GB"] * 4
    assert chat.profile.tolist()[:3] == ["ID-4g", "ID-4g", "ID-wifi"]
    assert chat.select(market="GB").good_values().tolist() == [150.0, 250.0, 350.0]
    assert chat.select(start_s=10, end_s=60).good_values().tolist() == [200.0, 300.0, 400.0, 150.0]


def test_latency_and_qoe_numbers_exact(make_run: RunFactory, model_run: Path) -> None:
    x, y = ecdf([3.0, np.nan, 1.0, 2.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 2.0, 3.0] and y.tolist() == [0.25, 0.5, 0.75, 1.0]
    run = load_run(make_run(seed=9))
    curves = latency_curves(run)
    chat = chat_samples(9)
    expected = np.sort(chat["value"][chat["ok"]])
    assert np.array_equal(np.sort(curves.samples["chat_rtt_ms"]["overall"]), expected)
    assert set(curves.samples["chat_rtt_ms"]) == {"overall", "ID", "GB"}
    # No g2g samples: the profile's percentiles are not an overall CDF, and nothing is invented.
    assert "g2g_latency_ms" not in curves.samples and "g2g_latency_ms" not in curves.quantiles
    model = load_run(model_run)
    assert freeze_by_profile(model.metrics) == {"GB-wifi": (0.001, None), "ID-4g": (0.02, 0.08)}
    assert measured_vs_modelled(run.metrics) == {"retention_30s": {"overall": (0.6, 0.5)}}
    assert measured_vs_modelled(model.metrics) == {}


def test_health_from_metrics(make_run: RunFactory) -> None:
    path = make_run(valid=False)
    import json

    doc = json.loads((path / "metrics.json").read_text())
    doc["overall"]["loadgen_cpu"] = {"value": 97.0}
    doc["overall"]["loop_lag_ms"] = {"p50": 3.0, "p95": 250.0, "p99": 400.0, "mean": 20.0, "n": 9}
    doc["overall"]["start_lag_ms"] = {"p50": 3.0, "p95": 5.0, "p99": 6.0, "mean": 3.0, "n": 9}
    (path / "metrics.json").write_text(json.dumps(doc))
    h = health(load_run(path))
    assert h.summary["cpu %"] == {"value": 97.0}
    assert h.summary["event-loop lag (ms)"]["p95"] == 250.0
    assert not h.valid and "generator saturated" in h.notes[0]
    # Series win over summaries: the panel's per-process health and Locust's start lag.
    panel = {"health": [{"process": 0, "interval_s": 0.5, "cpu_pct": [10, 20], "lag_ms": [1, 2]}]}
    (path / "panel.json").write_text(json.dumps(panel))
    rows = [["start_lag_ms", "", "", 4.0, True, 12.0], ["start_lag_ms", "", "", 2.0, True, 10.0]]
    (path / "locust").mkdir()
    (path / "locust" / "samples.json").write_text(
        json.dumps(
            {"columns": ["metric", "market", "profile", "value_ms", "ok", "t_s"], "rows": rows}
        )
    )
    h = health(load_run(path))
    label, t, v = h.series["cpu %"][0]
    assert (label, t.tolist(), v.tolist()) == ("panel 0", [0.0, 0.5], [10.0, 20.0])
    label, t, v = h.series["start lag (ms)"][0]
    assert (label, t.tolist(), v.tolist()) == ("Locust start lag", [0.0, 2.0], [2.0, 4.0])
    assert set(h.summary) == set()


def test_headline_cells() -> None:
    entries = {
        "retention_30s": {"value": 0.6123, "ci95": [0.6, 0.62]},
        "chat_rtt_ms": {"p50": 1.0, "p95": 180.04, "p99": 3.0, "mean": 2.0, "n": 4},
        "gmv": {"value": 123456.7},
    }
    assert cell(entries, "retention_30s", None) == "0.612 [0.600, 0.620]"
    assert cell(entries, "chat_rtt_ms", "p95") == "180.0"
    assert cell(entries, "gmv", None) == "123,457"
    assert cell(entries, "g2g_latency_ms", "p95") == "—"
    header, rows = headline_rows({"overall": entries, "markets": {"ID": {}}})
    assert header == ["scope", "retention 30 s", "GMV", "chat RTT p95 (ms)"]
    assert rows[1] == ["ID", "—", "—", "—"]


def _img_count(html: str) -> int:
    return len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', html))


def test_report_on_each_kind_of_run(make_run: RunFactory, model_run: Path, tmp_path: Path) -> None:
    load_like = make_run()
    minimal = tmp_path / "minimal"
    minimal.mkdir()
    (minimal / "metrics.json").write_text('{"meta": {}, "overall": {}, "markets": {}}')
    for run_dir in (load_like, model_run, minimal):
        files = write_report(run_dir)
        html = files.html.read_text()
        assert _img_count(html) == len(PLOTS)
        assert "http://" not in html and "https://" not in html  # self-contained
        assert files.summary.stat().st_size < 60_000
    assert write_report(minimal).empty_plots == tuple(key for key, *_ in PLOTS)
    assert "referral" not in write_report(model_run).empty_plots
    figures = build_figures(load_run(model_run))
    assert [f[0] for f in figures] == [key for key, *_ in PLOTS]


def test_report_cli_copies_metrics(make_run: RunFactory, tmp_path: Path) -> None:
    run = make_run()
    out = tmp_path / "out"
    assert main(["report", str(run), "--out", str(out), "--no-record"]) == 0
    assert (out / "metrics.json").read_bytes() == (run / "metrics.json").read_bytes()
    assert (out / "report.html").exists() and (out / "summary.md").exists()
    assert main(["report", str(tmp_path / "nowhere"), "--no-record"]) == 2
