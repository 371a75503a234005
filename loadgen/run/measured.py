"""Measured experience in docs/design.md's vocabulary, from Locust's exact samples and the panel.

Pure functions of data. Locust samples give `join_ms`, `chat_rtt_ms`, `answer_ms`, `order_ms`
(plus `ws_connect_ms`, `vote_ack_ms`, `referral_ms`) and `error_rate` — failed requests plus
panel viewers that never got a frame (`panel_failed_starts`), over all requests plus panel
viewers — overall, per market and per network profile. The media panel's own `metrics.json`
gives the media figures (`g2g_latency_ms`, `first_frame_ms`, `freeze_*`, `fps`, `packet_loss`,
`jitter_ms`) per profile; they are merged under `profiles`, and per market from the panel's
viewers whose profile belongs to that market (`{MARKET}-…`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loadgen.locust.samples import METRICS, SampleBook
from reports import distribution, scalar

__all__ = [
    "PANEL_METRICS",
    "experience",
    "market_of_profile",
    "panel_failed_starts",
    "panel_profile_values",
    "panel_viewer_values",
]

PANEL_METRICS = ("g2g_latency_ms", "first_frame_ms", "freeze_count_per_min", "freeze_ratio",
                 "fps", "packet_loss", "jitter_ms")  # fmt: skip


def market_of_profile(profile: str, markets: Iterable[str]) -> str | None:
    """The market a `{MARKET}-{access}` profile name belongs to (longest code first: US-E)."""
    for code in sorted(markets, key=len, reverse=True):
        if profile.startswith(f"{code}-"):
            return code
    return None


def _figures(
    rows: list[tuple[str, str, str, float, bool, float]], panel: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    """Locust's figures of `rows`; `error_rate` counts failed requests and the panel viewers
    that never got a frame (`panel` = (viewers, failed starts)) over both."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        values = [r[3] for r in rows if r[0] == metric and r[4]]
        if values:
            out[metric] = distribution(values)
    requests = [r for r in rows if r[0] in METRICS]
    viewers, never = panel
    if requests or viewers:
        failed = sum(1 for r in requests if not r[4]) + never
        out["error_rate"] = scalar(failed / (len(requests) + viewers))
    if requests:
        out["requests"] = scalar(len(requests))
    if viewers:
        out["panel_failed_starts"] = scalar(never)
    return out


def _profile(viewer: Mapping[str, Any]) -> str:
    return str(viewer.get("profile") or viewer.get("spec", {}).get("profile") or "")


def _started(viewer: Mapping[str, Any]) -> bool:
    first = viewer.get("first_frame_ms", viewer.get("stats", {}).get("first_frame_ms"))
    return isinstance(first, int | float)


def panel_failed_starts(panel: Mapping[str, Any], profile: str | None = None) -> int:
    """Panel viewers (of `profile`, or all) that never got a frame: failed starts."""
    return sum(
        1
        for v in panel.get("viewers", [])
        if (profile is None or _profile(v) == profile) and not _started(v)
    )


def _panel_counts(panel: Mapping[str, Any] | None, keep: Any) -> tuple[int, int]:
    """(viewers, failed starts) of the panel viewers whose profile name passes `keep`."""
    chosen = [v for v in (panel or {}).get("viewers", []) if keep(_profile(v))]
    return len(chosen), sum(1 for v in chosen if not _started(v))


def panel_profile_values(panel: Mapping[str, Any], metric: str, profile: str) -> list[float]:
    """`panel_viewer_values` for the viewers of one profile."""
    return _values(panel, metric, lambda p: p == profile)


def panel_viewer_values(panel: Mapping[str, Any], metric: str, market: str) -> list[float]:
    """Per-viewer values of `metric` from panel.json for the viewers of `market`'s profiles:
    a viewer's median for distributions (g2g), its value for scalars."""
    return _values(panel, metric, lambda p: p.startswith(f"{market}-"))


def _values(panel: Mapping[str, Any], metric: str, keep: Any) -> list[float]:
    out: list[float] = []
    for viewer in panel.get("viewers", []):
        if not keep(_profile(viewer)):
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
    overall = _figures(rows, _panel_counts(panel, lambda p: True))
    by_market = {
        m: _figures(
            [r for r in rows if r[1] == m],
            _panel_counts(panel, lambda p, m=m: market_of_profile(p, codes) == m),
        )
        for m in codes
    }
    profiles: dict[str, dict[str, Any]] = {}
    names = {r[2] for r in rows} | {_profile(v) for v in (panel or {}).get("viewers", [])}
    for name in sorted(n for n in names if n):
        profiles[name] = _figures(
            [r for r in rows if r[2] == name], _panel_counts(panel, lambda p, n=name: p == n)
        )
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
