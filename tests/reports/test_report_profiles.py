"""The report's per-profile table: modelled beside measured, with n, from the run's panel or the
calibration's stored browser table."""

from __future__ import annotations

import json
from pathlib import Path

from reports.report_profiles import profile_table
from scenarios.calibration import DEFAULT_CALIBRATION, read_calibration

MODEL = {
    "meta": {"source": "model"},
    "profiles": {
        "ID-4g": {
            "g2g_latency_ms": {"p50": 300.0, "p95": 380.0, "n": 900},
            "freeze_ratio": {"mean": 0.004},
            "first_frame_ms": {"p50": 2100.0},
            "viewers": {"value": 900.0},
        }
    },
}


def test_a_model_run_is_set_beside_the_calibrations_browser_table() -> None:
    table = profile_table(None, MODEL, None)
    assert table is not None and "calibration" in table.source
    stored = {r["profile"]: r for r in read_calibration(DEFAULT_CALIBRATION)["measured"]}["ID-4g"]
    (row,) = table.rows
    assert row[0] == "ID-4g"
    assert row[1] == f"300 / {stored['g2g_p50_ms']:.0f}"
    assert row[5] == f"900 / {stored['n_frames']} / {stored['n_viewers']}"


def test_a_load_run_uses_its_own_panel_browsers(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "panel").mkdir()
    (tmp_path / "model" / "metrics.json").write_text(json.dumps(MODEL), "utf-8")
    browser = {
        "g2g_latency_ms": {"p50": 150.0, "p95": 170.0, "n": 1200},
        "freeze_ratio": {"value": 0.01},
        "first_frame_ms": {"p50": 800.0, "n": 3},
    }
    panel = {"profiles": {"ID-4g": {"by_kind": {"browser": browser, "probe": {}}}}}
    (tmp_path / "panel" / "metrics.json").write_text(json.dumps(panel), "utf-8")
    table = profile_table(tmp_path, {"meta": {}}, None)
    assert table is not None and table.source == "this run's panel"
    assert table.rows[0][1:] == ["300 / 150", "380 / 170", "0.004 / 0.010", "2100 / 800",
                                 "900 / 1200 / 3"]  # fmt: skip
    assert profile_table(None, {"meta": {}}, None) is None  # no model profiles, no table
