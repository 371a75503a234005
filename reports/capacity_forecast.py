"""The model's forecast for capacity planning, read from one replication's `SimResult`.

Pure: reads the result's arrays (duck-typed, so tests can hand in a small stand-in) and returns
per-market series, each market's mean video bitrate and the per-viewer action rates at the
model's busiest message moment — the rates a capacity step replays.

What is read from the result (see `sim.result`): `markets`, `times_s`, `series` (shape
(markets, steps): `concurrent`, `chat_per_s`, `likes_per_s`, `votes_per_s`,
`questions_per_s`, `orders_per_min`), `viewers` (`market`, `start_s`, `kbps` or `resolution`)
and `host_events` (`start_s`, `end_s`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.capacity import MarketSeries, RegionForecast, forecast_regions, mean_ladder_kbps

__all__ = ["MESSAGE_SERIES", "MarketPeak", "ModelForecast", "model_forecast"]

# Interaction messages into the stack, per kind: (series name, factor to per-second).
MESSAGE_SERIES: dict[str, tuple[str, float]] = {
    "chat": ("chat_per_s", 1.0),
    "like": ("likes_per_s", 1.0),
    "vote": ("votes_per_s", 1.0),
    "question": ("questions_per_s", 1.0),
}
_ORDERS = ("orders_per_min", 1.0 / 60.0)


@dataclass(frozen=True)
class MarketPeak:
    """One market's own peak (it need not coincide with its region's)."""

    market: str
    region: str
    peak_concurrent: float  # viewers
    peak_t_s: float  # s from stream start
    peak_msgs_per_s: float  # messages/s
    kbps: float  # mean video bitrate per viewer, kbit/s


@dataclass(frozen=True)
class ModelForecast:
    """Per region peaks, plus what a capacity step should replay per viewer.

    `rates`: actions per viewer per second (chat, like, vote, question, order) at `busiest_t_s`,
    the moment of the highest total message rate; `kbps`: mean video bitrate per market, kbit/s.
    """

    regions: tuple[RegionForecast, ...]
    rates: Mapping[str, float]
    busiest_t_s: float
    kbps: Mapping[str, float]
    mix: Mapping[str, float]  # market → share of concurrent viewers at the busiest moment
    markets: tuple[MarketPeak, ...] = ()


def _market_kbps(viewers: Mapping[str, Any], index: int, ladder: Mapping[int, float]) -> float:
    market = np.asarray(viewers["market"])
    started = np.isfinite(np.asarray(viewers["start_s"], dtype=float))
    mine = (market == index) & started
    if "kbps" in viewers:
        kbps = np.asarray(viewers["kbps"], dtype=float)[mine]
        kbps = kbps[np.isfinite(kbps)]
        if kbps.size:
            return float(kbps.mean())
    heights = np.asarray(viewers.get("resolution", np.zeros(0)), dtype=float)
    heights = heights[mine] if heights.size == market.size else heights[:0]
    heights = heights[np.isfinite(heights)]
    return mean_ladder_kbps([int(h) for h in heights], ladder)


def model_forecast(
    result: Any,
    edges: Mapping[str, Sequence[str]],
    ladder: Mapping[int, float],
) -> ModelForecast:
    """The forecast of one replication. `edges`: region → market codes; `ladder`: height px →
    kbit/s (the scenario's video ladder, for results without per-viewer `kbps`)."""
    markets: tuple[str, ...] = tuple(result.markets)
    t = np.asarray(result.times_s, dtype=float)
    series = result.series
    msgs = np.zeros((len(markets), t.size))
    for name, factor in MESSAGE_SERIES.values():
        msgs += np.asarray(series[name], dtype=float) * factor
    concurrent = np.asarray(series["concurrent"], dtype=float)
    per_market = {
        code: MarketSeries(
            tuple(t.tolist()), tuple(concurrent[i].tolist()), tuple(msgs[i].tolist())
        )
        for i, code in enumerate(markets)
    }
    kbps = {code: _market_kbps(result.viewers, i, ladder) for i, code in enumerate(markets)}
    windows = [(float(e.start_s), float(e.end_s)) for e in result.host_events]
    regions = forecast_regions(per_market, edges, kbps, windows)
    busiest = int(np.argmax(msgs.sum(axis=0))) if t.size else 0
    total_now = float(concurrent[:, busiest].sum()) if t.size else 0.0
    rates: dict[str, float] = {}
    kinds = {**MESSAGE_SERIES, "order": _ORDERS}
    for kind, (name, factor) in kinds.items():
        now = float(np.asarray(series[name], dtype=float)[:, busiest].sum()) * factor
        rates[kind] = now / total_now if total_now > 0 else 0.0
    mix = (
        {code: float(concurrent[i, busiest]) / total_now for i, code in enumerate(markets)}
        if total_now > 0
        else {code: 1.0 / len(markets) for code in markets}
    )
    region_of = {m: f.region for f in regions for m in f.markets}
    peaks = tuple(
        MarketPeak(
            market=code,
            region=region_of.get(code, ""),
            peak_concurrent=float(concurrent[i].max()) if t.size else 0.0,
            peak_t_s=float(t[int(np.argmax(concurrent[i]))]) if t.size else 0.0,
            peak_msgs_per_s=float(msgs[i].max()) if t.size else 0.0,
            kbps=kbps[code],
        )
        for i, code in enumerate(markets)
    )
    return ModelForecast(
        markets=peaks,
        regions=tuple(regions),
        rates=rates,
        busiest_t_s=float(t[busiest]) if t.size else 0.0,
        kbps=kbps,
        mix=mix,
    )
