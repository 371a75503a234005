"""Measured experience in docs/design.md's vocabulary, from Locust's exact samples and the panel.

Pure functions of data. Locust samples give `join_ms`, `chat_rtt_ms`, `answer_ms`, `order_ms`
(plus `ws_connect_ms`, `vote_ack_ms`, `referral_ms`) and `error_rate` (failed / all requests),
overall, per market and per network profile. The media panel's own `metrics.json` gives the
media figures (`g2g_latency_ms`, `first_frame_ms`, `freeze_*`, `fps`, `packet_loss`,
`jitter_ms`) per profile; they are merged under `profiles`, and per market from the panel's
viewers whose profile belongs to that market (`{MARKET}-…`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loadgen.locust.samples import METRICS, SampleBook
from reports import distribution, scalar

__all__ = ["PANEL_METRICS", "experience", "market_of_profile", "panel_viewer_values"]

PANEL_METRICS = ("g2g_latency_ms", "first_frame_ms", "freeze_count_per_min", "freeze_ratio",
                 "fps", "packet_loss", "jitter_ms")  # fmt: skip


def market_of_profile(profile: str, markets: Iterable[str]) -> str | None:
    """The market a `{MARKET}-{access}` profile name belongs to (longest code first: US-E)."""
    for code in sorted(markets, key=len, reverse=True):
        if profile.startswith(f"{code}-"):
            return code
    return None


def _figures(rows: list[tuple[str, str, str, float, bool, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in METRICS:
        values = [r[3] for r in rows if r[0] == metric and r[4]]
        if values:
            out[metric] = distribution(values)
    requests = [r for r in rows if r[0] in METRICS]
    if requests:
        failed = sum(1 for r in requests if not r[4])
        out["error_rate"] = scalar(failed / len(requests))
        out["requests"] = scalar(len(requests))
    return out


def panel_viewer_values(panel: Mapping[str, Any], metric: str, market: str) -> list[float]:
    """Per-viewer values of `metric` from panel.json for the viewers of `market`'s profiles:
    a viewer's median for distributions (g2g), its value for scalars."""
    out: list[float] = []
    for viewer in panel.get("viewers", []):
        profile = str(viewer.get("profile") or viewer.get("spec", {}).get("profile") or "")
        if not profile.startswith(f"{market}-"):
            continue
        stats = viewer.get("stats", {})
        value = stats.get(metric, viewer.get(metric))
        if isinstance(value, dict):
            value = value.get("p50")
        if isinstance(value, int | float):
            out.append(float(value))
    return out


def experience(
    book: SampleBook,
    markets: Iterable[str],
    panel_metrics: Mapping[str, Any] | None = None,
    panel: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """{"overall", "markets", "profiles"} of measured experience (see the module docstring)."""
    codes = list(markets)
    rows = list(book.rows)
    overall = _figures(rows)
    by_market = {m: _figures([r for r in rows if r[1] == m]) for m in codes}
    profiles: dict[str, dict[str, Any]] = {}
    for name in sorted({r[2] for r in rows}):
        profiles[name] = _figures([r for r in rows if r[2] == name])
    if panel_metrics:
        for metric in PANEL_METRICS:
            if metric in panel_metrics.get("overall", {}):
                overall[metric] = panel_metrics["overall"][metric]
        for name, figs in panel_metrics.get("profiles", {}).items():
            target = profiles.setdefault(name, {})
            for metric in PANEL_METRICS:
                if metric in figs:
                    target[metric] = figs[metric]
    if panel:
        for m in codes:
            for metric in ("g2g_latency_ms", "first_frame_ms", "freeze_ratio"):
                values = panel_viewer_values(panel, metric, m)
                if values:
                    by_market[m][metric] = distribution(values)
    return {
        "overall": overall,
        "markets": {m: v for m, v in by_market.items() if v},
        "profiles": profiles,
    }
