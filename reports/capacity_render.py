"""`capacity.json` and `capacity.md`: the measured knee, the model's forecast and the plan.

Pure: dicts and dataclasses in, a dict or markdown text out. The search curve arrives as the
plain dict of `loadgen.capacity.Curve.to_json()`:
`{"steps": [{"audience", "figures", "valid", "notes", "duration_s", "requests"}], "limits",
"knee", "first_failure", "bound", "reason"}`.

`capacity.json` layout: `{"meta", "knee": {"viewers", "msgs_per_s", "bound", "reason",
"measured": bool}, "curve": <search curve>, "forecast": [RegionForecast…],
"markets": [MarketPeak…], "plan": [RegionPlan…], "totals": {"instances", "egress_gbps"}}`
(units as in `reports.capacity`: viewers, messages/s, Gbit/s; headroom a fraction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from reports.capacity import Knee, RegionForecast, RegionPlan
from reports.capacity_forecast import MarketPeak
from reports.compare_render import fmt_number

__all__ = ["capacity_json", "capacity_markdown"]


def capacity_json(
    *,
    curve: Mapping[str, Any] | None,
    knee: Knee,
    measured: bool,
    forecasts: Sequence[RegionForecast],
    plans: Sequence[RegionPlan],
    meta: Mapping[str, Any],
    markets: Sequence[MarketPeak] = (),
) -> dict[str, Any]:
    """The `capacity.json` document (render with `reports.metrics.dumps`)."""
    return {
        "meta": dict(meta),
        "knee": {
            "viewers": knee.viewers,
            "msgs_per_s": knee.msgs_per_s,
            "measured": measured,
            "bound": curve.get("bound") if curve else "given",
            "reason": curve.get("reason") if curve else "knee given on the command line",
        },
        "curve": dict(curve) if curve else None,
        "forecast": [asdict(f) for f in forecasts],
        "markets": [asdict(m) for m in markets],
        "plan": [{**asdict(p), "fits_edge": p.fits_edge} for p in plans],
        "totals": {
            "instances": sum(p.instances for p in plans),
            "egress_gbps": sum(p.egress_gbps for p in plans),
        },
    }


def _edge_cell(p: Mapping[str, Any]) -> str:
    if p.get("fits_edge") is None:
        return "–"
    verdict = "fits" if p["fits_edge"] else "**too small**"
    return (
        f"{p['edge_max_viewers']:,} viewers, {fmt_number(p['edge_egress_gbps'])} Gbit/s: {verdict}"
    )


_EXTRA_COLUMNS = ("error_rate", "msgs_per_s", "full_audience_s")


def _curve_table(curve: Mapping[str, Any], limits_note: str) -> list[str]:
    """One row per step: the p95s, error rate, offered message rate and full-audience time
    (columns no step measured are left out; every figure is in `capacity.json`)."""
    keys = sorted(
        k
        for k in {k for s in curve["steps"] for k in s["figures"]}
        if (k.endswith(".p95") or k in _EXTRA_COLUMNS)
        and any(s["figures"].get(k) is not None for s in curve["steps"])
    )
    lines = [
        "| audience | " + " | ".join(keys) + " | requests | verdict |",
        "|---|" + "---|" * len(keys) + "---|---|",
    ]
    limits = [str(x) for x in curve.get("limits", [])]
    for s in curve["steps"]:
        if not s["valid"]:
            verdict = "generator saturated: " + "; ".join(s.get("notes", []))
        elif s.get("broken"):
            verdict = "breaks " + ", ".join(s["broken"])
        else:
            verdict = "holds"
        cells = " | ".join(fmt_number(s["figures"].get(k)) for k in keys)
        lines.append(f"| {s['audience']} | {cells} | {s.get('requests', 0)} | {verdict} |")
    if limits:
        lines += ["", f"Limits ({limits_note}): " + "; ".join(limits) + "."]
    return lines


def capacity_markdown(doc: Mapping[str, Any], *, plot_name: str | None = "capacity.png") -> str:
    """`capacity.md` from a `capacity.json` document."""
    meta, knee = doc["meta"], doc["knee"]
    headroom = float(meta.get("headroom", 0.0))
    head = f"**One instance holds {knee['viewers']:,} concurrent viewers**"
    if knee["measured"]:
        head += (
            f" within the limits (measured on {meta.get('target', 'the target')}); "
            f"the search stopped because: {knee['reason']}."
        )
    else:
        head += " (given with --knee, not measured)."
    lines = [f"# Capacity plan — {meta.get('scenario', '')}", "", head]
    if knee["bound"] == "generator":
        lines.append(
            "The load generator saturated before the target broke: the knee is a *lower bound*."
        )
    elif knee["bound"] == "steps":
        lines.append("Every step held: the knee is *at least* the largest step; step higher.")
    if knee.get("msgs_per_s"):
        lines.append(f"At that audience it absorbed {fmt_number(knee['msgs_per_s'])} messages/s.")
    lines += [
        "",
        f"## Plan with {headroom:.0%} headroom",
        "",
        "Provisioned for peak × (1 + headroom); peaks are coincident peaks of the region's "
        "markets in the model's forecast (seed "
        f"{meta.get('seed', '–')}, replication 0).",
        "",
        "| edge region | markets | peak viewers | peak msgs/s | mini-peak msgs/s | instances "
        "| bound by | utilisation at peak | egress at peak | egress planned | declared edge |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    forecast = {f["region"]: f for f in doc["forecast"]}
    for p in doc["plan"]:
        f = forecast[p["region"]]
        lines.append(
            f"| {p['region']} | {', '.join(p['markets'])} | {fmt_number(p['peak_concurrent'])} "
            f"| {fmt_number(p['peak_msgs_per_s'])} | {fmt_number(f['mini_peak_msgs_per_s'])} "
            f"| **{p['instances']}** | {p['bound_by']} | {p['utilisation_at_peak']:.0%} "
            f"| {p['peak_egress_gbps']:.3g} Gbit/s | **{p['egress_gbps']:.3g} Gbit/s** "
            f"| {_edge_cell(p)} |"
        )
    totals = doc["totals"]
    lines += [
        f"| **total** | | | | | **{totals['instances']}** | | | "
        f"| **{totals['egress_gbps']:.3g} Gbit/s** | |",
        "",
        "Egress is video only: each market's mean modelled video bitrate (its ladder rung, kbit/s)",
        "× concurrent viewers; audio, signalling and retransmissions add a few per cent.",
        "",
    ]
    if doc.get("markets"):
        lines += [
            "### Forecast per market",
            "",
            "| market | edge region | peak viewers | at (min) | peak msgs/s | video kbit/s |",
            "|---|---|---|---|---|---|",
        ]
        for m in doc["markets"]:
            lines.append(
                f"| {m['market']} | {m['region']} | {fmt_number(m['peak_concurrent'])} "
                f"| {m['peak_t_s'] / 60:.1f} | {fmt_number(m['peak_msgs_per_s'])} "
                f"| {fmt_number(m['kbps'])} |"
            )
        lines.append("")
    if plot_name:
        lines += [f"![knee and plan]({plot_name})", ""]
    if doc.get("curve"):
        note = (
            "defaults: the scenario has no gate a step can measure"
            if meta.get("limits_defaulted")
            else "from the scenario's `[gates]`"
        )
        lines += ["## Knee search", "", *_curve_table(doc["curve"], note), ""]
    return "\n".join(lines)
