"""Modelled and measured experience per network profile, side by side, with sample counts.

The modelled side is the model's `profiles` section (`model/metrics.json` of a `livelab run`, or
the `metrics.json` of `livelab simulate`). The measured side is this run's panel
(`panel/metrics.json`: its browser viewers when it had any, else its probes) or, when the run
measured nothing, the browser table of the calibration the model used (the scenario's
`[model] calibration`, else the shipped `scenarios/data/calibration.toml`), labelled as such.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProfileTable", "profile_table"]

HEADER = (
    "profile",
    "g2g p50 model / measured (ms)",
    "g2g p95 model / measured (ms)",
    "freeze ratio model / measured",
    "first frame p50 model / measured (ms)",
    "n model viewers / measured frames / measured viewers",
)


@dataclass(frozen=True)
class ProfileTable:
    """The table and where its measured side came from."""

    header: tuple[str, ...]
    rows: list[list[str]]
    source: str


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value):.{digits}f}"


def _stat(entry: Mapping[str, Any], metric: str, stat: str) -> Any:
    value = entry.get(metric)
    return value.get(stat) if isinstance(value, Mapping) else None


def _panel_rows(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, figs in doc.get("profiles", {}).items():
        by_kind = figs.get("by_kind", {})
        kind = "browser" if "browser" in by_kind else "probe" if "probe" in by_kind else None
        f = by_kind[kind] if kind else figs
        out[name] = {
            "g2g_p50_ms": _stat(f, "g2g_latency_ms", "p50"),
            "g2g_p95_ms": _stat(f, "g2g_latency_ms", "p95"),
            "freeze_ratio": _stat(f, "freeze_ratio", "value"),
            "first_frame_p50_ms": _stat(f, "first_frame_ms", "p50"),
            "n_frames": _stat(f, "g2g_latency_ms", "n"),
            "n_viewers": _stat(f, "first_frame_ms", "n"),
            "kind": kind or "all",
        }
    return out


def _calibration_rows(scenario: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    from livelab.errors import LabError
    from scenarios.calibration import DEFAULT_CALIBRATION, read_calibration

    name = ((scenario or {}).get("model") or {}).get("calibration")
    path = Path(name) if name else DEFAULT_CALIBRATION
    try:
        data = read_calibration(path)
    except LabError:  # a report shows what it can; the table then says why not
        return {}, f"calibration {path} could not be read"
    rows = {r["profile"]: r for r in data.get("measured", []) if "profile" in r}
    when = data.get("calibration", {}).get("date_utc", "?")
    return rows, f"the calibration's Chromium measurement ({path.name}, {when})"


def profile_table(
    root: Path | None, metrics: Mapping[str, Any], scenario: Mapping[str, Any] | None
) -> ProfileTable | None:
    """The side-by-side table of a run directory (None when the model has no profiles)."""
    model_doc = _read(root / "model" / "metrics.json") if root and root.is_dir() else None
    if model_doc is None:
        model_doc = metrics if metrics.get("meta", {}).get("source") == "model" else None
    model = (model_doc or {}).get("profiles", {})
    if not model:
        return None
    panel = _read(root / "panel" / "metrics.json") if root and root.is_dir() else None
    if panel is not None and panel.get("profiles"):
        measured, source = _panel_rows(panel), "this run's panel"
    else:
        measured, source = _calibration_rows(scenario)
    rows = []
    for name in sorted(model):
        m, x = model[name], measured.get(name, {})
        n_model = _stat(m, "viewers", "value")
        rows.append(
            [
                name,
                f"{_num(_stat(m, 'g2g_latency_ms', 'p50'))} / {_num(x.get('g2g_p50_ms'))}",
                f"{_num(_stat(m, 'g2g_latency_ms', 'p95'))} / {_num(x.get('g2g_p95_ms'))}",
                f"{_num(_stat(m, 'freeze_ratio', 'mean'), 3)} / {_num(x.get('freeze_ratio'), 3)}",
                f"{_num(_stat(m, 'first_frame_ms', 'p50'))} / {_num(x.get('first_frame_p50_ms'))}",
                f"{_num(n_model)} / {_num(x.get('n_frames'))} / {_num(x.get('n_viewers'))}",
            ]
        )
    return ProfileTable(HEADER, rows, source)
