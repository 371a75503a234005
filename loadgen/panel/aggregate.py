"""Per-viewer, per-profile and overall figures of a panel run; the per-second time series.

Pooling rules (stated, because they change the numbers):

* ``g2g_latency_ms`` pools every probe frame after each viewer's warm-up (`PanelConfig.
  g2g_warmup_s`) across the profile's probes; ``first_frame_g2g_ms`` keeps each probe's first.
* ``first_frame_ms``, ``join_ms`` (join start → ICE connected), ``fps`` and ``jitter_ms`` are
  distributions over viewers (one value per viewer).
* ``freeze_count_per_min`` = all freezes / all watched minutes; ``freeze_ratio`` = all frozen
  time / all watched time; ``packet_loss`` = lost / expected media packets (RTX excluded);
  ``error_rate`` = viewers that failed to join or watch / viewers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from loadgen.panel.freezes import detect_freezes
from loadgen.panel.viewer import ViewerRaw
from reports import distribution, scalar

__all__ = ["profile_figures", "timeseries", "viewer_summary"]


def viewer_summary(raw: ViewerRaw, warmup_s: float) -> dict[str, Any]:
    """`ViewerRaw.summary` with g2g after the warm-up and the first frame's g2g apart."""
    out = raw.summary()
    first = raw.frame_ms[0] if raw.frame_ms else None
    steady = _steady_g2g(raw, warmup_s)
    out["stats"]["g2g_latency_ms"] = distribution(steady)
    out["stats"]["first_frame_g2g_ms"] = raw.g2g[0][1] if raw.g2g else None
    out["stats"]["g2g_warmup_s"] = warmup_s
    out["join_ms"] = raw.phases.get("ice_connected_ms")
    out["watch_start_ms"] = first
    return out


def _steady_g2g(raw: ViewerRaw, warmup_s: float) -> list[float]:
    if not raw.frame_ms:
        return []
    cut = raw.frame_ms[0] + warmup_s * 1000.0
    return [g for t, g in raw.g2g if t >= cut]


def profile_figures(raws: list[ViewerRaw], warmup_s: float) -> dict[str, Any]:
    """Metrics (docs/design.md shape) of one group of viewers; panel extras under ``_extra``."""
    ok = [r for r in raws if r.error is None]
    g2g: list[float] = []
    firsts: list[float] = []
    freezes = frozen = watched = 0.0
    lost = expected = 0
    total_bytes = 0
    span_s = 0.0
    nacks = plis = 0.0
    fps: list[float] = []
    jitter: list[float] = []
    for r in raws:
        g2g += _steady_g2g(r, warmup_s)
        if r.g2g:
            firsts.append(r.g2g[0][1])
        fz = detect_freezes(r.frame_ms, end_ms=r.end_ms)
        freezes += fz.count
        frozen += fz.frozen_ms
        watched += fz.watched_ms
        lost += sum(s["packets_lost"] for s in r.streams)
        expected += sum(s["packets_expected"] for s in r.streams)
        jitter += [s["jitter_ms"] for s in r.streams]
        nacks += r.counters.get("nacks_sent", 0)
        plis += r.counters.get("plis_sent", 0)
        if r.frame_ms and r.end_ms > r.frame_ms[0]:
            s = (r.end_ms - r.frame_ms[0]) / 1000.0
            span_s += s
            total_bytes += sum(r.bytes_by_second.values())
            fps.append(len(r.frame_ms) / s)
    watched_min = watched / 60_000.0
    figures: dict[str, Any] = {
        "join_ms": distribution(
            [v for r in ok if (v := r.phases.get("ice_connected_ms")) is not None]
        ),
        "first_frame_ms": distribution(
            [v for r in ok if (v := r.phases.get("first_frame_ms")) is not None]
        ),
        "g2g_latency_ms": distribution(g2g),
        "fps": distribution(fps),
        "freeze_count_per_min": scalar(freezes / watched_min if watched_min > 0 else 0.0),
        "freeze_ratio": scalar(frozen / watched if watched > 0 else 0.0),
        "packet_loss": scalar(lost / expected if expected else 0.0),
        "jitter_ms": distribution(jitter),
        "error_rate": scalar((len(raws) - len(ok)) / len(raws) if raws else 0.0),
    }
    figures["_extra"] = {
        "viewers": len(raws),
        "viewers_failed": len(raws) - len(ok),
        "probes": sum(1 for r in raws if r.spec.kind == "probe"),
        "first_frame_g2g_ms": distribution(firsts),
        "bitrate_kbps": total_bytes * 8 / 1000.0 / span_s if span_s > 0 else 0.0,
        "packets_lost": lost,
        "packets_expected": expected,
        "freezes": int(freezes),
        "frozen_s": frozen / 1000.0,
        "watched_s": watched / 1000.0,
        "nacks_per_min": nacks / watched_min if watched_min > 0 else 0.0,
        "plis_per_min": plis / watched_min if watched_min > 0 else 0.0,
    }
    return figures


def timeseries(raws: list[ViewerRaw], start_ms: float, warmup_s: float) -> list[dict[str, Any]]:
    """Rows per second (since ``start_ms``) per profile: viewers connected (first frame seen,
    not yet left), fps and bitrate (kbit/s) per connected viewer, g2g p50 (ms, probes, after
    warm-up) and freezes that began in that second."""
    frames: dict[tuple[str, int], int] = defaultdict(int)
    bytes_: dict[tuple[str, int], int] = defaultdict(int)
    g2g: dict[tuple[str, int], list[float]] = defaultdict(list)
    freezes: dict[tuple[str, int], int] = defaultdict(int)
    connected: dict[tuple[str, int], int] = defaultdict(int)
    last = 0

    def sec(t_ms: float) -> int:
        return int((t_ms - start_ms) // 1000)

    for r in raws:
        p = r.spec.profile
        if not r.frame_ms:
            continue
        first, end = sec(r.frame_ms[0]), sec(r.end_ms)
        last = max(last, end)
        for s in range(first, end + 1):
            connected[p, s] += 1
        for t in r.frame_ms:
            frames[p, sec(t)] += 1
        for wall_s, b in r.bytes_by_second.items():
            bytes_[p, sec(wall_s * 1000.0)] += b
        cut = r.frame_ms[0] + warmup_s * 1000.0
        for t, g in r.g2g:
            if t >= cut:
                g2g[p, sec(t)].append(g)
        for t in detect_freezes(r.frame_ms, end_ms=r.end_ms).starts_ms:
            freezes[p, sec(t)] += 1
    rows = []
    for p in sorted({r.spec.profile for r in raws}):
        for s in range(0, last + 1):
            n = connected.get((p, s), 0)
            samples = g2g.get((p, s))
            rows.append(
                {
                    "second": s,
                    "profile": p,
                    "viewers_connected": n,
                    "fps": frames.get((p, s), 0) / n if n else 0.0,
                    "bitrate_kbps": bytes_.get((p, s), 0) * 8 / 1000.0 / n if n else 0.0,
                    "g2g_p50_ms": float(np.median(samples)) if samples else None,
                    "freezes": freezes.get((p, s), 0),
                }
            )
    return rows
