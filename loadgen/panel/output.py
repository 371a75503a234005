"""Write a panel run to its directory: panel.json, panel_timeseries.csv, metrics.json.

* ``panel.json``: meta, per-profile aggregates (with the panel's extras: bitrate, NACK/PLI
  rates, freezes), per-process health and one entry per viewer (profile, kind, phases, stats);
* ``panel_timeseries.csv``: second, profile, viewers_connected, fps, bitrate_kbps, g2g_p50_ms,
  freezes;
* ``metrics.json``: docs/design.md's shape (`reports.metrics`), overall and per profile (keyed by
  the profile's name or inline spec), each also broken down by viewer kind under ``by_kind``,
  generator health (``loadgen_cpu`` in % of one core, ``loop_lag_ms``) in ``overall``,
  ``meta.valid`` false with a note when a process or a browser saturated.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from loadgen.panel.aggregate import figures_by_kind, profile_figures, timeseries, viewer_summary
from loadgen.panel.runner import PanelResult
from loadgen.panel.viewer import ViewerRaw
from reports import distribution, dumps, new_document

__all__ = ["build_metrics", "build_panel_json", "write_outputs"]

CSV_FIELDS = [
    "second",
    "profile",
    "viewers_connected",
    "fps",
    "bitrate_kbps",
    "g2g_p50_ms",
    "freezes",
]


def _meta(result: PanelResult) -> dict[str, Any]:
    from livelab import __version__

    c = result.config
    return {
        "kind": "panel",
        "seed": c.seed,
        "version": __version__,
        "valid": result.valid,
        "notes": list(result.notes),
        "whep_url": c.whep_url,
        "viewers": c.viewers,
        "probes": c.probes,
        "browsers": c.browsers,
        "cohosts": c.cohosts,
        "processes": len(result.health) or None,
        "profiles": [[name, w] for name, w in c.profiles],
        "duration_s": c.duration_s,
        "receiver": c.receiver,
        "interrupted": result.interrupted,
        "started_ms": result.started_ms,
        "ended_ms": result.ended_ms,
    }


def _groups(result: PanelResult) -> dict[str, list[ViewerRaw]]:
    groups: dict[str, list[ViewerRaw]] = defaultdict(list)
    for r in result.viewers:
        groups[r.spec.profile].append(r)
    return groups


def _health_samples(result: PanelResult) -> tuple[list[float], list[float]]:
    cpu: list[float] = []
    lag: list[float] = []
    skip_s = result.config.health.warmup_s
    for h in result.health:
        skip = int(skip_s / h.interval_s) if h.interval_s > 0 else 0
        cpu += [c for c in h.cpu_pct[skip:] if np.isfinite(c)]
        lag += list(h.lag_ms[skip:])
    return cpu, lag


def build_metrics(result: PanelResult) -> dict[str, Any]:
    """The metrics.json document of a panel run."""
    warm = result.config.g2g_warmup_s
    doc = new_document(_meta(result))
    overall = profile_figures(result.viewers, warm)
    overall.pop("_extra")
    cpu, lag = _health_samples(result)
    overall["loadgen_cpu"] = distribution(cpu)
    overall["loop_lag_ms"] = distribution(lag)
    overall["by_kind"] = figures_by_kind(result.viewers, warm)
    doc["overall"] = overall
    for name, raws in sorted(_groups(result).items()):
        figs = profile_figures(raws, warm)
        figs.pop("_extra")
        figs["by_kind"] = figures_by_kind(raws, warm)
        doc["profiles"][name] = figs
    return doc


def build_panel_json(result: PanelResult) -> dict[str, Any]:
    """The panel.json document: meta, profiles (with extras), health, viewers."""
    warm = result.config.g2g_warmup_s
    profiles = {}
    for name, raws in sorted(_groups(result).items()):
        figs = profile_figures(raws, warm)
        extra = figs.pop("_extra")
        profiles[name] = {**figs, **extra, "by_kind": figures_by_kind(raws, warm)}
    overall = profile_figures(result.viewers, warm)
    overall.update(overall.pop("_extra"))
    overall["by_kind"] = figures_by_kind(result.viewers, warm)
    return {
        "meta": _meta(result),
        "overall": overall,
        "profiles": profiles,
        "health": [h.to_dict() for h in result.health],
        "browser_health": [vars(b) for b in result.browser_health],
        "viewers": [viewer_summary(r, warm) for r in result.viewers],
    }


def write_outputs(result: PanelResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the three files into ``out_dir`` (created if needed); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "panel": out / "panel.json",
        "timeseries": out / "panel_timeseries.csv",
        "metrics": out / "metrics.json",
    }
    paths["panel"].write_text(dumps(build_panel_json(result)), encoding="utf-8")
    paths["metrics"].write_text(dumps(build_metrics(result)), encoding="utf-8")
    rows = timeseries(result.viewers, result.started_ms, result.config.g2g_warmup_s)
    with paths["timeseries"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return paths


def load_panel_json(path: str | Path) -> dict[str, Any]:
    """Read a panel.json back (for reports and tests)."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data
