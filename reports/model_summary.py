"""`summary.md` of a model run (`livelab simulate`): the headline figures in one table.

Pure: a metrics document and the first `sim.SimResult` in, Markdown out. (`livelab report`
writes its own, longer `summary.md` with `reports.report_summary`.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["model_summary"]

_PCT = {"abandon_before_start", "retention_3s", "retention_30s", "retention_5m",
        "interaction_rate", "conversion_rate", "referred_share", "return_rate",
        "repurchase_rate"}  # fmt: skip
_HEADLINE = ("arrivals", "peak_concurrent", "abandon_before_start", "retention_30s", "retention_5m",
             "watch_time_mean_s", "conversion_rate", "gmv", "referral_k")  # fmt: skip
_LATENCIES = ("first_frame_ms", "g2g_latency_ms", "chat_rtt_ms", "answer_ms")


def _fmt(entry: dict[str, Any] | None, key: str = "value", pct: bool = False) -> str:
    if not entry or entry.get(key) is None:
        return "—"
    value = float(entry[key])
    text = f"{value:.1%}" if pct else f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    ci = entry.get("ci95")
    if ci and key == "value" and ci[0] is not None:
        lo, hi = (f"{c:.1%}" if pct else f"{c:,.4g}" for c in ci)
        text += f" [{lo}, {hi}]"
    return text


def model_summary(doc: dict[str, Any], result: Any, info: dict[str, Any]) -> str:
    """The Markdown of `summary.md`: `doc` is the metrics document, `result` replication 0,
    `info` the `run.json` facts (scenario, seed, replications, scenario_hash, version)."""
    lines = [
        f"# {info['scenario']} — simulated",
        "",
        f"Seed {info['seed']}, {info['replications']} replication(s), scenario hash "
        f"`{info['scenario_hash'][:12]}`, livelab {info['version']}. "
        f"{result.duration_s / 60:g} min stream, {len(result.host_events)} mini-peaks.",
        "",
        "| metric | overall | " + " | ".join(result.markets) + " |",
        "|---|---|" + "---|" * len(result.markets),
    ]
    for key in _HEADLINE:
        cells = [_fmt(doc["overall"].get(key), pct=key in _PCT)]
        cells += [_fmt(doc["markets"][c].get(key), pct=key in _PCT) for c in result.markets]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for key in _LATENCIES:
        cells = [_fmt(doc["overall"].get(key), "p95")]
        cells += [_fmt(doc["markets"][c].get(key), "p95") for c in result.markets]
        lines.append(f"| {key} p95 | " + " | ".join(cells) + " |")
    lines += ["", "Files: metrics.json, timeseries.csv, viewers.npz, events.json, plots/.", ""]
    return "\n".join(lines)
