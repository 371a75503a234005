"""Live Prometheus metrics scraped DURING a real `livelab run` (real stack, Locust, panel), and
the Grafana dashboard's metric names checked against those real scrapes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadgen import live_endpoint
from loadgen.run.target import fetch

LIVELAB = [sys.executable, "-m", "livelab"]
MARKETS = ("ID", "TH", "SA", "GB")
CHATTY = [a for m in MARKETS for a in ("--set", f"markets.{m}.behavior.chat_per_min=60")]
DASHBOARD = Path("docs/grafana/livelab.json")
# A metric name in a PromQL expression: every livelab metric starts with `livelab_`, and no
# function, label or Grafana variable does.
_NAME = re.compile(r"\b(livelab_[a-z0-9_]+)\b")


def dashboard_metric_names(dashboard: dict) -> set[str]:
    """Every livelab metric (sample) name used by the dashboard's queries."""
    names: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            names |= set(_NAME.findall(target["expr"]))
    return names


def _names(samples: dict) -> set[str]:
    return {name for name, _ in samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


@pytest.mark.slow
def test_live_metrics_during_a_real_run_and_the_dashboard_names(tmp_path, prom_samples):
    out = tmp_path / "run"
    log_path = tmp_path / "run.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*LIVELAB, "run", "scenarios/demo.toml", "--out", str(out), "--no-report",
         "--set", "load.scale=100", "--set", "load.window_s=40", *CHATTY],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def alive() -> bool:
        return proc.poll() is None

    used = dashboard_metric_names(json.loads(DASHBOARD.read_text()))
    seen: dict[str, dict] = {"stack": {}, "loadgen": {}, "panel": {}}
    scraped: set[str] = set()
    most_viewers: dict[tuple[str, str], float] = {}
    try:
        loadgen_url = live_endpoint.wait_for(out / "locust", alive, 120)
        panel_url = live_endpoint.wait_for(out / "panel", alive, 120)
        assert loadgen_url and panel_url, log_path.read_text()[-3000:]
        for url in (loadgen_url, panel_url):
            assert url.startswith("http://127.0.0.1:")
        stack_url = (out / "logs" / "stack.ready").read_text().strip() + "/metrics"
        profiles = set(json.loads((out / "plan.json").read_text())["panel"]["profiles"])

        def enough() -> bool:
            lg, pn = seen["loadgen"], seen["panel"]
            return (
                used <= scraped
                and all(
                    _value(lg, "livelab_loadgen_chat_rtt_ms_count", market=m) > 0 for m in MARKETS
                )
                and all(most_viewers.get(("loadgen", m), 0) > 0 for m in MARKETS)
                and all(_value(pn, "livelab_panel_frames_total", profile=p) > 0 for p in profiles)
                and all(most_viewers.get(("panel", p), 0) > 0 for p in profiles)
                and any(
                    _value(pn, "livelab_panel_g2g_latency_ms_count", profile=p) > 0
                    for p in profiles
                )
            )

        deadline = time.monotonic() + 150
        while alive() and time.monotonic() < deadline:
            for key, url in (("stack", stack_url), ("loadgen", loadgen_url),
                             ("panel", panel_url)):  # fmt: skip
                try:
                    seen[key] = prom_samples(fetch(url, 5.0).decode())
                except OSError:  # that process has finished (the run is ending): keep the last
                    continue
                scraped.update(_names(seen[key]))
            for m in MARKETS:
                now = _value(seen["loadgen"], "livelab_loadgen_viewers", market=m)
                most_viewers[("loadgen", m)] = max(most_viewers.get(("loadgen", m), 0), now)
            for p in profiles:
                now = _value(seen["panel"], "livelab_panel_viewers", profile=p)
                most_viewers[("panel", p)] = max(most_viewers.get(("panel", p), 0), now)
            if enough():
                break
            time.sleep(1.0)
        assert enough(), (seen, most_viewers, log_path.read_text()[-3000:])
        rc = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    text = log_path.read_text()
    assert rc == 0, text[-3000:]
    assert f"loadgen {loadgen_url}" in text and f"panel {panel_url}" in text, text[-3000:]

    lg, pn, st = seen["loadgen"], seen["panel"], seen["stack"]
    for m in MARKETS:  # real, non-zero per-market figures
        assert _value(lg, "livelab_loadgen_requests_total", market=m, metric="chat_rtt_ms") > 0
        assert _value(lg, "livelab_loadgen_chat_rtt_ms_sum", market=m) > 0
        assert _value(lg, "livelab_loadgen_join_ms_count", market=m) > 0
    assert _value(lg, "livelab_loadgen_users") > 0
    assert any(name == "livelab_loadgen_cpu_percent" for name, _ in lg)
    g2g = [p for p in profiles if _value(pn, "livelab_panel_g2g_latency_ms_count", profile=p)]
    assert g2g and all(_value(pn, "livelab_panel_g2g_latency_ms_sum", profile=p) > 0 for p in g2g)
    assert any(name == "livelab_panel_loop_lag_ms" for name, _ in pn)
    assert _value(st, "livelab_stack_joins_total") > 0

    # Every metric the dashboard queries existed in these real scrapes.
    assert used and used <= scraped, sorted(used - scraped)
