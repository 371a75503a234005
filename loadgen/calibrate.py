"""Measure the experience per network profile for `livelab calibrate` (the panel's public API).

One panel run per profile, one after another (so the browsers of one profile do not compete with
those of the next for the two cores): ``browsers`` headless Chromium viewers, the reference, and
``probes`` aiortc probe viewers alongside, for ``duration_s`` seconds. Each run's panel outputs go
to ``work_dir/<n>-<profile slug>/`` so the table can be checked against the raw runs.

The measured row of a profile comes from its browser viewers only (Chromium is the reference the
model is fitted to); the probes' figures are kept next to it for comparison. Pooling follows the
panel (`loadgen.panel.aggregate`): g2g pools every frame after each viewer's warm-up, first frame
and join are one value per viewer, freeze ratio is all frozen time / all watched time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MeasuredProfile", "measure_profile", "row_from_metrics"]


@dataclass(frozen=True)
class MeasuredProfile:
    """What the browsers (and, apart, the probes) measured behind one profile.

    Units: ms; ``freeze_ratio`` 0–1. ``n_frames`` counts the pooled g2g samples, ``n_viewers``
    the browser viewers with a first frame. ``valid`` is false when the panel said a generator
    saturated (the figures are kept but flagged).
    """

    profile: str
    g2g_p50_ms: float | None
    g2g_p95_ms: float | None
    freeze_ratio: float | None
    first_frame_p50_ms: float | None
    first_frame_p95_ms: float | None
    join_p50_ms: float | None
    n_frames: int
    n_viewers: int
    watched_s: float
    probe_g2g_p50_ms: float | None
    probe_g2g_p95_ms: float | None
    probe_freeze_ratio: float | None
    n_probe_frames: int
    bitrate_kbps: float | None
    loadavg_1m: float
    valid: bool
    run_dir: str

    def to_dict(self) -> dict[str, Any]:
        """The row as written to the calibration file (None values left out: TOML has no null)."""
        return {k: v for k, v in vars(self).items() if v is not None}


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:40] or "profile"


def _kind(figs: dict[str, Any], kind: str) -> dict[str, Any]:
    by_kind: dict[str, Any] = figs.get("by_kind", {})
    return dict(by_kind.get(kind, {}))


def _stat(figs: dict[str, Any], metric: str, stat: str) -> float | None:
    value = figs.get(metric, {}).get(stat)
    return None if value is None else float(value)


def row_from_metrics(
    profile: str, doc: dict[str, Any], run_dir: str, loadavg_1m: float = float("nan")
) -> MeasuredProfile:
    """The measured row of ``profile`` from a panel.json document (`build_panel_json`: its
    per-kind figures carry the extras, e.g. ``bitrate_kbps`` and ``watched_s``)."""
    figs = doc["profiles"].get(profile, {})
    browser, probe = _kind(figs, "browser"), _kind(figs, "probe")
    g2g = browser.get("g2g_latency_ms", {})
    first = browser.get("first_frame_ms", {})
    return MeasuredProfile(
        profile=profile,
        g2g_p50_ms=_stat(browser, "g2g_latency_ms", "p50"),
        g2g_p95_ms=_stat(browser, "g2g_latency_ms", "p95"),
        freeze_ratio=_stat(browser, "freeze_ratio", "value"),
        first_frame_p50_ms=_stat(browser, "first_frame_ms", "p50"),
        first_frame_p95_ms=_stat(browser, "first_frame_ms", "p95"),
        join_p50_ms=_stat(browser, "join_ms", "p50"),
        n_frames=int(g2g.get("n") or 0),
        n_viewers=int(first.get("n") or 0),
        watched_s=float(browser.get("watched_s", 0.0) or 0.0),
        probe_g2g_p50_ms=_stat(probe, "g2g_latency_ms", "p50"),
        probe_g2g_p95_ms=_stat(probe, "g2g_latency_ms", "p95"),
        probe_freeze_ratio=_stat(probe, "freeze_ratio", "value"),
        n_probe_frames=int(probe.get("g2g_latency_ms", {}).get("n") or 0),
        bitrate_kbps=browser.get("bitrate_kbps"),
        loadavg_1m=loadavg_1m,
        valid=bool(doc["meta"].get("valid", True)),
        run_dir=run_dir,
    )


def measure_profile(
    whep_url: str,
    profile: str,
    *,
    index: int,
    browsers: int,
    probes: int,
    duration_s: float,
    seed: int,
    work_dir: Path,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> MeasuredProfile:
    """Run the panel behind ``profile`` and return its measured row (outputs in work_dir)."""
    from loadgen.panel import PanelConfig, run_panel, write_outputs
    from loadgen.panel.output import build_panel_json

    config = PanelConfig(
        whep_url=whep_url,
        viewers=browsers + probes,
        profiles=((profile, 1.0),),
        duration_s=duration_s,
        probes=probes,
        browsers=browsers,
        # One process: the probes are cheap next to the browsers, and a second process would
        # only take CPU from Chromium on a two-core machine.
        processes=1,
        seed=seed + index,
    )
    load = os.getloadavg()[0]  # before the run: the other helpers' share of the machine
    result = run_panel(config, progress)
    out = work_dir / f"{index:02d}-{_slug(profile)}"
    write_outputs(result, out)
    return row_from_metrics(profile, build_panel_json(result), str(out), round(load, 2))


def environment() -> dict[str, Any]:
    """Versions (livelab, Chromium, aiortc), the UTC date and the load average at measurement."""
    import subprocess
    from datetime import UTC, datetime
    from importlib.metadata import version

    from livelab import __version__
    from loadgen.panel.browser_process import CHROMIUM

    try:
        done = subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30
        )
        chromium = done.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        chromium = "unknown"
    return {
        "versions": {"livelab": __version__, "chromium": chromium, "aiortc": version("aiortc")},
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg": list(os.getloadavg()),
        "cpus": os.cpu_count() or 0,
    }
