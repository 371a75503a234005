"""Per-viewer, per-profile and overall figures of a panel run; the per-second time series.

Pooling rules (stated, because they change the numbers):

* ``g2g_latency_ms`` pools every probe frame after each viewer's warm-up (`PanelConfig.
  g2g_warmup_s`) across the profile's probes; ``first_frame_g2g_ms`` keeps each probe's first.
* ``first_frame_ms``, ``join_ms`` (join start → ICE connected), ``fps`` and ``jitter_ms`` are
  distributions over viewers (one value per viewer).
* ``freeze_count_per_min`` = all freezes / all watched minutes; ``freeze_ratio`` = all frozen
  time / all watched time. Freezes of aiortc viewers are found in their frame times
  (`loadgen.panel.freezes`); a browser viewer's are Chromium's own ``freezeCount`` and
  ``totalFreezesDuration`` (the same W3C definition, counted by the browser);
  ``packet_loss`` = lost / expected media packets (RTX excluded);
* ``g2g_playout_ms``, ``playout_freeze_count_per_min``, ``playout_freeze_ratio`` (aiortc
  viewers, fixed receiver): the same figures from when a browser would have shown each frame,
  of the frames its compositor would present (`loadgen.panel.playout`, a model: the schedule
  and `presented`), pooled like g2g and freezes;
* ``g2g_path_ms`` / ``browser_hold_ms`` (browser viewers, after the warm-up, pooled like g2g):
  each frame's g2g split at the time its last packet was received (``requestVideoFrameCallback``
  ``receiveTime``): capture → received, and received → shown (Chromium's jitter buffer, decode
  and render); empty for aiortc viewers;
  ``error_rate`` = viewers that failed to join or watch / viewers.
* ``cohost_*_ms`` (only in groups with a ``cohost`` viewer, `loadgen.panel.cohost`) pool every
  co-host sample after each co-host's warm-up (the same ``g2g_warmup_s`` from its first host
  frame), all co-hosts of the group together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from loadgen.panel.freezes import detect_freezes
from loadgen.panel.playout import presented
from loadgen.panel.viewer import ViewerRaw
from reports import distribution, scalar

__all__ = ["figures_by_kind", "profile_figures", "timeseries", "viewer_summary"]


def _freezes(raw: ViewerRaw) -> tuple[float, float, float]:
    """(freezes, frozen ms, watched ms) of one viewer: Chromium's counts for a browser viewer
    that reported them, else those found in its frame times."""
    fz = detect_freezes(raw.frame_ms, end_ms=raw.end_ms)
    if raw.spec.kind == "browser" and "browser_freeze_count" in raw.counters:
        return (
            raw.counters["browser_freeze_count"],
            raw.counters["browser_frozen_ms"],
            fz.watched_ms,
        )
    return float(fz.count), fz.frozen_ms, fz.watched_ms


def viewer_summary(raw: ViewerRaw, warmup_s: float) -> dict[str, Any]:
    """`ViewerRaw.summary` with g2g after the warm-up and the first frame's g2g apart."""
    out = raw.summary()
    first = raw.frame_ms[0] if raw.frame_ms else None
    steady = _steady_g2g(raw, warmup_s)
    out["stats"]["g2g_latency_ms"] = distribution(steady)
    out["stats"]["first_frame_g2g_ms"] = raw.g2g[0][1] if raw.g2g else None
    out["stats"]["g2g_warmup_s"] = warmup_s
    if raw.playout_frame_ms:
        st = out["stats"]
        st["g2g_playout_ms"] = distribution(_steady_playout(raw, warmup_s))
        fz = detect_freezes(presented(raw.playout_frame_ms, [])[0], end_ms=raw.end_ms)
        st["playout_freeze_count_per_min"] = fz.per_min
        st["playout_freeze_ratio"] = fz.ratio
    if raw.g2g_parts:
        path, hold = _steady_parts(raw, warmup_s)
        out["stats"]["g2g_path_ms"] = distribution(path)
        out["stats"]["browser_hold_ms"] = distribution(hold)
    delays = _steady_browser_delays(raw, warmup_s)
    if delays is not None:
        out["stats"]["steady_jitter_buffer_delay_ms"] = delays[0]
        out["stats"]["steady_decode_ms"] = delays[1]
    out["join_ms"] = raw.phases.get("ice_connected_ms")
    out["watch_start_ms"] = first
    if raw.spec.kind == "browser":
        count, frozen_ms, watched_ms = _freezes(raw)
        st = out["stats"]
        st["frame_gap_freeze_count"] = st["freeze_count"]  # from the rendered-frame times
        st["freeze_count"] = count
        st["freeze_count_per_min"] = count * 60_000.0 / watched_ms if watched_ms > 0 else 0.0
        st["freeze_ratio"] = frozen_ms / watched_ms if watched_ms > 0 else 0.0
        st["frozen_ms"] = frozen_ms
        res = raw.resources
        st["browser_cpu_pct_mean"] = (
            float(np.nanmean(res["cpu_pct"])) if res.get("cpu_pct") else None
        )
        st["browser_mem_mb_max"] = float(np.nanmax(res["rss_mb"])) if res.get("rss_mb") else None
    return out


def figures_by_kind(raws: list[ViewerRaw], warmup_s: float) -> dict[str, dict[str, Any]]:
    """`profile_figures` (extras included) for each viewer kind present in ``raws``."""
    kinds = sorted({r.spec.kind for r in raws})
    out = {}
    for kind in kinds:
        figs = profile_figures([r for r in raws if r.spec.kind == kind], warmup_s)
        figs.update(figs.pop("_extra"))
        out[kind] = figs
    return out


def _steady_g2g(raw: ViewerRaw, warmup_s: float) -> list[float]:
    if not raw.frame_ms:
        return []
    cut = raw.frame_ms[0] + warmup_s * 1000.0
    return [g for t, g in raw.g2g if t >= cut]


def _steady_playout(raw: ViewerRaw, warmup_s: float) -> list[float]:
    if not raw.frame_ms:
        return []
    cut = raw.frame_ms[0] + warmup_s * 1000.0
    return [g for t, g in presented(raw.playout_frame_ms, raw.g2g_playout)[1] if t >= cut]


def _steady_parts(raw: ViewerRaw, warmup_s: float) -> tuple[list[float], list[float]]:
    """A browser viewer's (path ms, hold ms) after the warm-up (see `ViewerRaw.g2g_parts`)."""
    if not raw.frame_ms:
        return [], []
    cut = raw.frame_ms[0] + warmup_s * 1000.0
    kept = [(a, b) for t, a, b in raw.g2g_parts if t >= cut]
    return [a for a, _ in kept], [b for _, b in kept]


def _steady_browser_delays(raw: ViewerRaw, warmup_s: float) -> tuple[float, float] | None:
    """Chromium's own mean jitter-buffer delay and decode time per frame (ms) after the
    warm-up, from the once-a-second counters; None without two samples in that window."""
    if not raw.frame_ms:
        return None
    cut = raw.frame_ms[0] + warmup_s * 1000.0
    kept = [s for s in raw.stat_samples if s[0] >= cut]
    if len(kept) < 2:
        return None
    (_, jb0, em0, dec0, n0), (_, jb1, em1, dec1, n1) = kept[0], kept[-1]
    if em1 <= em0 or n1 <= n0:
        return None
    return (jb1 - jb0) / (em1 - em0), (dec1 - dec0) / (n1 - n0)


def _cohost_figures(raws: list[ViewerRaw], warmup_s: float) -> dict[str, Any]:
    from loadgen.panel.cohost import COHOST_METRICS

    pooled: dict[str, list[float]] = {name: [] for name in COHOST_METRICS}
    for r in raws:
        if r.spec.kind != "cohost" or not r.frame_ms:
            continue
        cut = r.frame_ms[0] + warmup_s * 1000.0
        for name in COHOST_METRICS:
            pooled[name] += [v for t, v in r.cohost.get(name, []) if t >= cut]
    return {name: distribution(samples) for name, samples in pooled.items()}


def profile_figures(raws: list[ViewerRaw], warmup_s: float) -> dict[str, Any]:
    """Metrics (docs/design.md shape) of one group of viewers; panel extras under ``_extra``."""
    ok = [r for r in raws if r.error is None]
    g2g: list[float] = []
    path: list[float] = []
    playout: list[float] = []
    playout_freezes = playout_frozen = playout_watched = 0.0
    hold: list[float] = []
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
        playout += _steady_playout(r, warmup_s)
        if r.playout_frame_ms:
            pf = detect_freezes(presented(r.playout_frame_ms, [])[0], end_ms=r.end_ms)
            playout_freezes += pf.count
            playout_frozen += pf.frozen_ms
            playout_watched += pf.watched_ms
        p, h = _steady_parts(r, warmup_s)
        path += p
        hold += h
        if r.g2g:
            firsts.append(r.g2g[0][1])
        count, frozen_ms, watched_ms = _freezes(r)
        freezes += count
        frozen += frozen_ms
        watched += watched_ms
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
    if any(r.spec.kind == "cohost" for r in raws):
        figures.update(_cohost_figures(raws, warmup_s))
    figures["_extra"] = {
        "viewers": len(raws),
        "viewers_failed": len(raws) - len(ok),
        "probes": sum(1 for r in raws if r.spec.kind == "probe"),
        "browsers": sum(1 for r in raws if r.spec.kind == "browser"),
        "cohosts": sum(1 for r in raws if r.spec.kind == "cohost"),
        "first_frame_g2g_ms": distribution(firsts),
        "g2g_playout_ms": distribution(playout),
        "playout_freeze_count_per_min": (
            playout_freezes * 60_000.0 / playout_watched if playout_watched > 0 else None
        ),
        "playout_freeze_ratio": playout_frozen / playout_watched if playout_watched > 0 else None,
        "g2g_path_ms": distribution(path),
        "browser_hold_ms": distribution(hold),
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
