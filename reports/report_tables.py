"""The headline figures of a run as rows, shared by `report.html` and `summary.md`.

A cell is the metric's value (scalars) or a chosen statistic (distributions), with the 95 %
interval when the run was replicated. Pure functions of a metrics document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "HEADLINE", "cell", "change_note", "headline_rows", "measured_changes", "scenario_name",
]  # fmt: skip

# (column title, metric, statistic or None for a scalar's value)
HEADLINE: tuple[tuple[str, str, str | None], ...] = (
    ("arrivals", "arrivals", None),
    ("peak", "peak_concurrent", None),
    ("retention 30 s", "retention_30s", None),
    ("watch time (s)", "watch_time_mean_s", None),
    ("conversion", "conversion_rate", None),
    ("GMV", "gmv", None),
    ("referral K", "referral_k", None),
    ("join p95 (ms)", "join_ms", "p95"),
    ("chat RTT p95 (ms)", "chat_rtt_ms", "p95"),
    ("g2g p95 (ms)", "g2g_latency_ms", "p95"),
    ("error rate", "error_rate", None),
)


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) >= 1:
        return f"{x:,.0f}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2e}"


def cell(entries: Any, metric: str, stat: str | None) -> str:
    """`0.612 [0.598, 0.627]`, `180.0`, or `—` when the run has no such figure."""
    entry = entries.get(metric) if isinstance(entries, Mapping) else None
    if not isinstance(entry, Mapping):
        return "—"
    value = entry.get(stat or "value", entry.get("mean") if stat is None else None)
    if not isinstance(value, int | float):
        return "—"
    text = _num(float(value))
    ci = entry.get("ci95")
    if stat is None and isinstance(ci, list) and len(ci) == 2 and None not in ci:
        text += f" [{_num(float(ci[0]))}, {_num(float(ci[1]))}]"
    return text


def headline_rows(
    doc: Mapping[str, Any], max_markets: int = 20
) -> tuple[list[str], list[list[str]]]:
    """(header, rows): overall first, then markets by code; columns with no data are dropped."""
    scopes: list[tuple[str, Any]] = [("overall", doc.get("overall", {}))]
    scopes += sorted(doc.get("markets", {}).items())[:max_markets]
    columns = [
        (title, metric, stat)
        for title, metric, stat in HEADLINE
        if any(cell(entries, metric, stat) != "—" for _, entries in scopes)
    ]
    header = ["scope"] + [title for title, _, _ in columns]
    rows = [[scope] + [cell(entries, m, s) for _, m, s in columns] for scope, entries in scopes]
    return header, rows


def change_note(entry: Any) -> str:
    """The closed loop's interval for a change (`with_measured_qoe` entry's `change`, written
    by `loadgen.run.loop_interval`): "Δ −0.029 [−0.093, +0.007] 95 %: no significant change",
    with "thin: N samples (< MIN)" when it rests on too few measured samples; "" without."""
    change = entry.get("change") if isinstance(entry, Mapping) else None
    if not isinstance(change, Mapping):
        return ""
    ci = change.get("ci95")
    text = f"Δ {change.get('value', 0.0):+.4g}"
    if isinstance(ci, list) and len(ci) == 2:
        text += f" [{ci[0]:+.4g}, {ci[1]:+.4g}] 95 %"
    text += f": {change.get('verdict', '')}"
    if change.get("thin"):
        text += f"; thin: {change.get('n', 0)} measured samples (< 30), flagged"
    return text


def measured_changes(doc: Mapping[str, Any]) -> list[tuple[str, str, float, float, str]]:
    """(scope, metric, modelled, with measured QoE, `change_note`) for the business headline
    figures."""
    measured = doc.get("with_measured_qoe")
    if not isinstance(measured, Mapping):
        return []
    out = []
    scopes = [("overall", doc.get("overall", {}), measured.get("overall", {}))]
    for code, entries in sorted(doc.get("markets", {}).items()):
        scopes.append((code, entries, measured.get("markets", {}).get(code, {})))
    for scope, a_entries, b_entries in scopes:
        for metric in ("retention_30s", "watch_time_mean_s", "conversion_rate", "gmv"):
            a = (
                (a_entries.get(metric) or {}).get("value")
                if isinstance(a_entries, Mapping)
                else None
            )
            b = (
                (b_entries.get(metric) or {}).get("value")
                if isinstance(b_entries, Mapping)
                else None
            )
            if isinstance(a, int | float) and isinstance(b, int | float):
                b_entry = b_entries.get(metric) if isinstance(b_entries, Mapping) else None
                note = change_note(b_entry)
                out.append((scope, metric, float(a), float(b), note))
    return out


def scenario_name(doc: Mapping[str, Any], scenario: Mapping[str, Any], fallback: str) -> str:
    """The scenario's name from meta, else `scenario.json`, else `fallback`."""
    meta = doc.get("meta", {})
    for candidate in (
        meta.get("scenario") if isinstance(meta, Mapping) else None,
        meta.get("scenario_name") if isinstance(meta, Mapping) else None,
        (scenario.get("scenario") or {}).get("name") if isinstance(scenario, Mapping) else None,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return fallback
