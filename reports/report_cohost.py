"""The co-host (连麦) section of a report: segments, guests, round trips, and their audience.

One row per co-host segment of the model's host (`events.json`, the run's or its model run's):
when it ran, the guest's market and network profile, the modelled conversational round trip
of that guest (ms), and the modelled `cohost_rtt_ms` p95 of that profile. The measured round
trip (`cohost_rtt_ms`, p50/p95 by guest profile, when the panel wrote it) sits beside the
model's, same percentile against same percentile, with its n. Facts: the modelled retention
and conversion during the segments (`cohost_retention_30s`, `cohost_conversion_rate`) next to
the whole stream's. Pure functions of data already read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.report_data import RunData
from reports.rundir import model_dir

__all__ = ["CoHost", "cohost", "cohost_events"]

HEADER = ("segment", "guest market", "guest profile", "guest rtt (ms)",
          "model p95 (ms)", "measured p50 / p95 (ms)", "measured n")  # fmt: skip


@dataclass(frozen=True)
class CoHost:
    """The co-host table (`header`, `rows`) and the audience figures as sentences (`facts`)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    facts: tuple[str, ...]


def cohost_events(run: RunData) -> list[Mapping[str, Any]]:
    """The co-host segments in the run's `events.json` (its own, else its model run's)."""
    if run.path is None:
        return []
    for where in (run.path / "events.json", model_dir(run.path) / "events.json"):
        try:
            data = json.loads(Path(where).read_text("utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        items = data.get("events", []) if isinstance(data, Mapping) else []
        return [e for e in items if isinstance(e, Mapping) and e.get("kind") == "cohost"]
    return []


def _ms(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "—"


def _stat(entry: Any, stat: str) -> Any:
    return entry.get(stat) if isinstance(entry, Mapping) else None


def _measured(doc: Mapping[str, Any], profile: str) -> tuple[str, str]:
    """(p50 / p95, n) of the measured round trip on `profile`; dashes when the panel wrote none.

    A load run's own `profiles` are measured; a model run has no measured figures."""
    if doc.get("meta", {}).get("source") == "model":
        return "—", "—"
    entry = doc.get("profiles", {}).get(profile, {}).get("cohost_rtt_ms")
    if not isinstance(entry, Mapping) or not entry.get("n"):
        return "—", "0" if isinstance(entry, Mapping) else "—"
    return f"{_ms(entry.get('p50'))} / {_ms(entry.get('p95'))}", str(entry.get("n"))


def _model_doc(run: RunData) -> Mapping[str, Any]:
    """The model's metrics: the run's own (a model run) or its model run's `metrics.json`."""
    if run.metrics.get("meta", {}).get("source") == "model" or run.path is None:
        return run.metrics
    try:
        data = json.loads((model_dir(run.path) / "metrics.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, Mapping) else {}


def cohost(run: RunData) -> CoHost | None:
    """The co-host section of a run; None for a run without co-host segments."""
    events = cohost_events(run)
    if not events:
        return None
    model = _model_doc(run)
    rows = []
    for k, event in enumerate(events, start=1):
        raw = event.get("guest")
        guest: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        profile = str(guest.get("profile", "—"))
        start, end = float(event.get("start_s", 0.0)), float(event.get("end_s", 0.0))
        modelled = _stat(model.get("profiles", {}).get(profile, {}).get("cohost_rtt_ms"), "p95")
        measured, n = _measured(run.metrics, profile)
        rows.append((
            f"cohost_{k}: {start / 60:g}–{end / 60:g} min", str(guest.get("market", "—")),
            profile, _ms(guest.get("rtt_ms")), _ms(modelled), measured, n,
        ))  # fmt: skip
    facts = []
    overall = model.get("overall", {})
    retention = _stat(overall.get("cohost_retention_30s"), "value")
    conversion = _stat(overall.get("cohost_conversion_rate"), "value")
    if isinstance(retention, int | float) and isinstance(conversion, int | float):
        base_r = _stat(overall.get("retention_30s"), "value")
        base_c = _stat(overall.get("conversion_rate"), "value")
        facts.append(
            f"Modelled during co-host segments: retention_30s {retention:.3f} of the viewers "
            f"who started in one (whole stream {_share(base_r)}), conversion {conversion:.4f} of "
            f"the viewers present (whole stream {_share(base_c, 4)})."
        )
    rtt = overall.get("cohost_rtt_ms")
    if isinstance(rtt, Mapping) and rtt.get("n"):
        facts.append(
            f"Modelled cohost_rtt_ms of the viewers who could have been a guest: p50 "
            f"{_ms(rtt.get('p50'))} ms, p95 {_ms(rtt.get('p95'))} ms (n = {rtt.get('n')}); "
            "the interactive budget is 600 ms."
        )
    return CoHost(header=HEADER, rows=tuple(rows), facts=tuple(facts))


def _share(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "—"
