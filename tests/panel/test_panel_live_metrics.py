"""The panel's live metrics: what each process reports (exact, from hand-made measurements),
and the parent's Prometheus endpoint, scraped over real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys

from loadgen.panel.freezes import FreezeDetector, detect_freezes
from loadgen.panel.live_metrics import LiveTracker, PanelLiveMetrics
from loadgen.panel.viewer import ViewerRaw, ViewerSpec
from loadgen.run.target import fetch


def _raw(index: int, profile: str, kind: str = "lite") -> ViewerRaw:
    return ViewerRaw(spec=ViewerSpec(index=index, profile=profile, kind=kind))


def test_incremental_freeze_detector_matches_the_batch_rule() -> None:
    times = [i * 33.0 for i in range(40)]
    times += [times[-1] + 400.0 + i * 33.0 for i in range(20)]  # one 400 ms freeze
    times += [times[-1] + 250.0 + i * 33.0 for i in range(5)]  # and a 250 ms one
    detector = FreezeDetector()
    for t in times[:45]:
        detector.add(t)
    assert detector.count == 1 and detector.frozen_ms == 400.0  # counted when it ends
    for t in times[45:]:
        detector.add(t)
    assert detector.stats(end_ms=times[-1] + 2000.0) == detect_freezes(
        times, end_ms=times[-1] + 2000.0
    )


def test_tracker_reports_only_what_changed_per_profile() -> None:
    probe, lite, gone = _raw(0, "ID-4g", "probe"), _raw(1, "GB-wifi"), _raw(2, "GB-wifi")
    tracker = LiveTracker()
    probe.frame_ms = [1000.0 + 33.0 * i for i in range(10)]
    probe.g2g = [(1000.0, 180.0), (1033.0, 190.0)]
    probe.phases["first_frame_ms"] = 420.0
    lite.frame_ms = [2000.0, 2033.0]
    gone.error = "no video within 5 s"
    first = tracker.report([probe, lite, gone], cpu_pct=[10.0, 30.0], lag_ms=[1.0, 4.0])
    assert first["profiles"] == {
        "ID-4g": {"viewers": 1, "frames": 10, "freezes": 0, "frozen_ms": 0.0,
                  "g2g_ms": [180.0, 190.0], "first_frame_ms": [420.0], "errors": 0},
        "GB-wifi": {"viewers": 1, "frames": 2, "freezes": 0, "frozen_ms": 0.0, "g2g_ms": [],
                    "first_frame_ms": [], "errors": 1},
    }  # fmt: skip
    assert first["cpu_pct"] == 20.0 and first["lag_ms"] == 4.0
    # A 500 ms gap then a frame: one freeze; the probe left (end_ms): no longer watching.
    probe.frame_ms += [probe.frame_ms[-1] + 500.0]
    probe.g2g.append((1500.0, 200.0))
    probe.end_ms = 9000.0
    second = tracker.report([probe, lite, gone], cpu_pct=[10.0, 30.0, 50.0], lag_ms=[1, 4, 2])
    assert second["profiles"]["ID-4g"] == {
        "viewers": 0, "frames": 1, "freezes": 1, "frozen_ms": 500.0, "g2g_ms": [200.0],
        "first_frame_ms": [], "errors": 0,
    }  # fmt: skip
    assert second["profiles"]["GB-wifi"]["errors"] == 0  # each failed viewer counts once
    assert second["cpu_pct"] == 50.0 and second["lag_ms"] == 2
    assert tracker.report([probe], [], [])["cpu_pct"] is None  # no new health sample


def test_parent_sums_processes_and_serves_them(prom_samples) -> None:
    live = PanelLiveMetrics()
    url = live.serve(0)
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        for process, viewers in ((0, 2), (1, 3)):
            live.update(
                process,
                {"profiles": {"ID-4g": {"viewers": viewers, "frames": 30, "freezes": 1,
                                        "frozen_ms": 250.0, "g2g_ms": [120.0, 700.0],
                                        "first_frame_ms": [400.0], "errors": 0}},
                 "cpu_pct": 12.5 * (process + 1), "lag_ms": 3.0},
            )  # fmt: skip
        live.update(0, {"profiles": {"ID-4g": {"viewers": 1, "frames": 0, "freezes": 0,
                                               "frozen_ms": 0.0, "g2g_ms": [], "first_frame_ms": [],
                                               "errors": 1}},
                        "cpu_pct": None, "lag_ms": None})  # fmt: skip
        got = prom_samples(fetch(url, 5.0).decode())
    finally:
        live.close()
    p = (("profile", "ID-4g"),)
    assert got[("livelab_panel_viewers", p)] == 4  # process 0 now 1, process 1 still 3
    assert got[("livelab_panel_frames_total", p)] == 60
    assert got[("livelab_panel_freezes_total", p)] == 2
    assert got[("livelab_panel_frozen_ms_total", p)] == 500.0
    assert got[("livelab_panel_viewer_errors_total", p)] == 1
    assert got[("livelab_panel_g2g_latency_ms_count", p)] == 4
    assert got[("livelab_panel_g2g_latency_ms_sum", p)] == 1640.0
    assert got[("livelab_panel_g2g_latency_ms_bucket", (("le", "150.0"), *p))] == 2
    assert got[("livelab_panel_first_frame_ms_count", p)] == 2
    assert got[("livelab_panel_cpu_percent", (("process", "0"),))] == 12.5  # kept, not None
    assert got[("livelab_panel_cpu_percent", (("process", "1"),))] == 25.0
    assert got[("livelab_panel_loop_lag_ms", (("process", "1"),))] == 3.0


def test_cli_refuses_a_bad_metrics_port(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "livelab", "panel", "--whep", "http://127.0.0.1:9/whep/demo",
         "--viewers", "1", "--out", str(tmp_path), "--metrics-port", "70000"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--metrics-port" in done.stderr and "70000" in done.stderr
    assert "Traceback" not in done.stderr
