"""How children announce their live-metrics URL and how the orchestrator finds it (real child
processes, real files), and the Grafana dashboard's shape."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from loadgen import live_endpoint
from loadgen.run.live_metrics import live_metrics_line, live_metrics_urls
from loadgen.run.procs import Children

DASHBOARD = Path("docs/grafana/livelab.json")


def test_announce_read_and_a_former_runs_file(tmp_path) -> None:
    assert live_endpoint.read(tmp_path) is None
    path = live_endpoint.announce(tmp_path / "locust", "http://127.0.0.1:4321/metrics")
    assert path.name == live_endpoint.ENDPOINT_FILE
    assert live_endpoint.read(tmp_path / "locust") == "http://127.0.0.1:4321/metrics"
    written = path.stat().st_mtime
    assert live_endpoint.read(tmp_path / "locust", not_before=written + 1) is None
    assert list((tmp_path / "locust").iterdir()) == [path]  # no temporary file left


def test_wait_for_stops_when_the_process_ends(tmp_path) -> None:
    t0 = time.monotonic()
    assert live_endpoint.wait_for(tmp_path, alive=lambda: False, timeout_s=30) is None
    assert time.monotonic() - t0 < 5


def _announcer(out: Path, delay_s: float) -> list[str]:
    code = (
        "import sys, time; from loadgen import live_endpoint; "
        f"time.sleep({delay_s}); "
        "live_endpoint.announce(sys.argv[1], 'http://127.0.0.1:5555/metrics'); time.sleep(60)"
    )
    return [sys.executable, "-c", code, str(out)]


def test_orchestrator_finds_fresh_urls_and_skips_stale_or_silent_children(tmp_path) -> None:
    # A former run's panel file, older than the new panel process: not to be trusted.
    live_endpoint.announce(tmp_path / "panel", "http://127.0.0.1:1/metrics")
    stale = time.time() - 3600
    os.utime(tmp_path / "panel" / live_endpoint.ENDPOINT_FILE, (stale, stale))
    children = Children()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    try:
        children.start("locust", _announcer(tmp_path / "locust", 0.5), tmp_path / "l.log", env)
        children.start(
            "panel", [sys.executable, "-c", "raise SystemExit(1)"], tmp_path / "p.log", env
        )
        t0 = time.monotonic()
        urls = live_metrics_urls(children, tmp_path, "http://127.0.0.1:8080/", timeout_s=30)
        assert time.monotonic() - t0 < 20  # the silent panel was not waited for to the end
        assert urls == {
            "stack": "http://127.0.0.1:8080/metrics",
            "loadgen": "http://127.0.0.1:5555/metrics",
        }
        line = live_metrics_line(children, tmp_path, "http://127.0.0.1:8080")
        assert line == (
            "live metrics (Prometheus): stack http://127.0.0.1:8080/metrics, "
            "loadgen http://127.0.0.1:5555/metrics"
        )
    finally:
        children.stop_all(timeout_s=5)


def test_dashboard_is_importable_grafana_json() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    (var,) = dash["templating"]["list"]
    assert var["type"] == "datasource" and var["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert len(rows) == 3  # stack, generator, panel
    prefixes = {"livelab_stack_", "livelab_loadgen_", "livelab_panel_"}
    seen = set()
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            seen |= {p for p in prefixes if p in target["expr"]}
    assert seen == prefixes
