"""The panel's viewer kinds side by side: browser, probe and lite behind the same profiles.

Panel runs of `GROUP` profiles of `PROFILES` each (two processes per run) put one viewer of
each kind on each profile, so within a run every kind sees the same stack, the same load on the
machine and the same time. Printed per profile and kind: g2g p50/p95/p99 (ms, n), freezes per
minute, freeze ratio, first frame p50 (ms), packet loss; then per profile the probe-to-browser
ratio at the *same* percentile (p50 with p50, p95 with p95), whether the probe is within the
tolerance (`tolerance`), and the lite viewers' freeze and loss figures against the browser's.
Each run's line gives the load average before and after it.

Then browsers per core: browser viewers on the clean profile, stepped up in one panel process,
keeping the largest count whose run is valid (panel and browser health within `HealthLimits`
defaults) and whose median fps ≥ 13.5 of 15. "Per core" here is per panel process plus its
browsers, on a machine of ``os.cpu_count()`` cores: the figure divides by the cores in use.

Called from `benchmarks.bench_panel` (``python -m benchmarks panel``); env
``PANEL_BENCH_KINDS=0`` skips it, ``PANEL_BENCH_BROWSERS`` sets the browser steps.
"""

from __future__ import annotations

import os
from typing import Any

PROFILES = (
    "delay 0ms",
    "delay 50ms loss 2%",
    "delay 150ms 30ms",
    "ID-4g",
    "GB-wifi",
    "devtools-3g",
)
KINDS = ("browser", "probe", "lite")
BROWSER_STEPS = (2, 4, 6)
MIN_FPS = 13.5


def _fmt(d: dict[str, Any]) -> str:
    if not d.get("n"):
        return "g2g —"
    return f"g2g {d['p50']:.0f}/{d['p95']:.0f}/{d['p99']:.0f} ms (n {d['n']})"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "—"


# The probe-to-browser tolerance (issue 16): g2g p50 and p95 within 20 % or 15 ms of the
# browser's, same percentile; freeze rate within 20 % or one freeze over the watched time (one
# viewer per kind watches a few tens of seconds: a single freeze is several per minute).
TOLERANCE = 0.20
TOLERANCE_MS = 15.0
GROUP = 3  # profiles per panel run: fewer viewers per run keep a loaded machine's runs valid


def within(probe: float | None, browser: float | None, floor: float) -> bool:
    """``probe`` within `TOLERANCE` of ``browser`` or within ``floor`` of it (absolute)."""
    if probe is None or browser is None:
        return False
    return abs(probe - browser) <= max(TOLERANCE * abs(browser), floor)


def probe_figures(kind: dict[str, Any], playout: bool) -> tuple[dict[str, Any], float | None]:
    """A probe group's g2g distribution and freezes per minute: as measured at decode, or from
    its playout model (`loadgen.panel.playout`) when ``playout``."""
    if playout:
        return kind["g2g_playout_ms"], kind["playout_freeze_count_per_min"]
    return kind["g2g_latency_ms"], kind["freeze_count_per_min"]["value"]


def tolerance(doc: dict[str, Any], profile: str, playout: bool = True) -> dict[str, bool]:
    """Per figure (g2g p50, g2g p95, freezes/min), whether the probe (its playout model, or
    at decode) is within tolerance of the browser on ``profile`` in metrics document ``doc``."""
    kinds = doc["profiles"].get(profile, {}).get("by_kind", {})
    b, p = kinds.get("browser"), kinds.get("probe")
    if not b or not p:
        return {"g2g p50": False, "g2g p95": False, "freezes/min": False}
    bg = b["g2g_latency_ms"]
    pg, pf = probe_figures(p, playout)
    watched_min = min(b.get("watched_s") or 0.0, p.get("watched_s") or 0.0) / 60.0
    one_freeze = 1.0 / watched_min if watched_min > 0 else 0.0
    return {
        "g2g p50": within(pg["p50"], bg["p50"], TOLERANCE_MS),
        "g2g p95": within(pg["p95"], bg["p95"], TOLERANCE_MS),
        "freezes/min": within(pf, b["freeze_count_per_min"]["value"], one_freeze),
    }


def run_kinds(
    url: str, seconds: float, profiles: tuple[str, ...], kinds: tuple[str, ...] = KINDS
) -> tuple[Any, dict[str, Any]]:
    """One panel run (two processes), one viewer of each of ``kinds`` per profile; returns
    the panel result and its metrics document."""
    from loadgen.panel import PanelConfig, run_panel
    from loadgen.panel.output import build_metrics

    n = len(profiles)
    config = PanelConfig(
        whep_url=url,
        viewers=len(kinds) * n,
        profiles=tuple((p, 1.0) for p in profiles),
        probes=n if "probe" in kinds else 0,
        browsers=n if "browser" in kinds else 0,
        duration_s=seconds,
        processes=2,
    )
    result = run_panel(config)
    return result, build_metrics(result)


def side_by_side(url: str, seconds: float) -> list[dict[str, Any]]:
    """`PROFILES` in runs of `GROUP`, one viewer of each kind per profile; prints the table
    and the tolerance verdicts; returns each run's metrics document."""
    docs = []
    for i in range(0, len(PROFILES), GROUP):
        docs.append(_print_run(url, seconds, PROFILES[i : i + GROUP]))
    return docs


def _print_run(url: str, seconds: float, profiles: tuple[str, ...]) -> dict[str, Any]:
    n = len(profiles)
    load = os.getloadavg()[0]
    result, doc = run_kinds(url, seconds, profiles)
    print(
        f"kinds side by side: {n} profiles × (browser, probe, lite), {seconds:g} s, "
        f"valid {result.valid}, load average {load:.1f} → {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for note in result.notes:
        print(f"  note: {note}", flush=True)
    for name in profiles:
        kinds = doc["profiles"].get(name, {}).get("by_kind", {})
        print(f"  {name}:", flush=True)
        for kind in KINDS:
            f = kinds.get(kind)
            if f is None:
                print(f"    {kind:7s} (no viewer)", flush=True)
                continue
            print(
                f"    {kind:7s} {_fmt(f['g2g_latency_ms'])}, freezes "
                f"{f['freeze_count_per_min']['value']:.1f}/min, ratio "
                f"{f['freeze_ratio']['value']:.3f}, first frame "
                f"{f['first_frame_ms']['p50'] or float('nan'):.0f} ms, loss "
                f"{f['packet_loss']['value']:.3f}, failed {f['viewers_failed']}",
                flush=True,
            )
        b, p, lite = (kinds.get(k) for k in KINDS)
        if b and p:
            bg, pg = b["g2g_latency_ms"], p["g2g_latency_ms"]
            print(
                "    probe/browser, same percentile: g2g p50 "
                f"{_ratio(pg['p50'], bg['p50'])}, p95 {_ratio(pg['p95'], bg['p95'])}, p99 "
                f"{_ratio(pg['p99'], bg['p99'])}; freezes/min "
                f"{_ratio(p['freeze_count_per_min']['value'], b['freeze_count_per_min']['value'])}",
                flush=True,
            )
            pg, pf = probe_figures(p, playout=True)
            print(
                f"    probe playout model {_fmt(pg)}, freezes "
                f"{pf if pf is not None else float('nan'):.1f}/min; same percentile over "
                f"browser: p50 {_ratio(pg['p50'], bg['p50'])}, p95 {_ratio(pg['p95'], bg['p95'])}",
                flush=True,
            )
            for playout, label in ((False, "at decode"), (True, "playout model")):
                verdict = tolerance(doc, name, playout)
                print(
                    f"    probe {label} within tolerance (20 % or 15 ms; freezes 20 % or one): "
                    + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in verdict.items()),
                    flush=True,
                )
        if b and lite:
            print(
                "    lite vs browser: freezes/min "
                f"{lite['freeze_count_per_min']['value']:.1f} vs "
                f"{b['freeze_count_per_min']['value']:.1f}, loss "
                f"{lite['packet_loss']['value']:.3f} vs {b['packet_loss']['value']:.3f}",
                flush=True,
            )
    return doc


def browsers_per_core(url: str, seconds: float) -> int:
    """Largest valid browser count at 360p15 (one panel process); prints each step."""
    from loadgen.panel import PanelConfig, run_panel
    from loadgen.panel.output import build_metrics

    raw = os.environ.get("PANEL_BENCH_BROWSERS")
    steps = [int(x) for x in raw.split(",")] if raw else list(BROWSER_STEPS)
    best = 0
    for n in steps:
        result = run_panel(
            PanelConfig(whep_url=url, viewers=n, browsers=n, duration_s=seconds, processes=1)
        )
        o = build_metrics(result)["overall"]
        fps = o["fps"]["p50"] or 0.0
        cpu = [b.cpu_p95 for b in result.browser_health]
        mem = [b.rss_max_mb for b in result.browser_health]
        ok = result.valid and fps >= MIN_FPS and o["error_rate"]["value"] == 0
        print(
            f"  browsers {n:3d}: {'OK' if ok else 'NOT CARRIED'} fps p50 {fps:.1f}, "
            f"browser CPU p95 {max(cpu, default=float('nan')):.0f}% of a core (worst), "
            f"memory {max(mem, default=float('nan')):.0f} MB (worst), "
            f"panel CPU p95 {o['loadgen_cpu']['p95'] or float('nan'):.0f}%, "
            f"lag p95 {o['loop_lag_ms']['p95'] or float('nan'):.1f} ms, "
            f"{_fmt(o['g2g_latency_ms'])}",
            flush=True,
        )
        for note in result.notes:
            print(f"        note: {note}", flush=True)
        if not ok:
            break
        best = n
    return best
