"""`report.html`: one self-contained page — inline CSS, plots as base64 PNG, no network.

Pure: `render_html` takes the page's parts and returns text; `report_build` supplies them.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.report_cohost import CoHost
from reports.report_commerce import Commerce
from reports.report_profiles import ProfileTable

__all__ = ["PlotImage", "render_html"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.meta { color: #555; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; }
.ok { background: #1a7f37; } .bad { background: #cf222e; } .warn { background: #9a6700; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 12px; }
.notes li { color: #9a6700; }
"""


@dataclass(frozen=True)
class PlotImage:
    """One embedded plot: PNG bytes, and whether it shows data or says why not."""

    key: str
    title: str
    png: bytes
    caption: str = ""
    has_data: bool = True


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _gate_section(gate: Mapping[str, Any] | None) -> str:
    if not gate:
        return ""
    status = str(gate.get("status", "?"))
    cls = {"pass": "ok", "fail": "bad"}.get(status, "warn")
    rows = []
    for v in gate.get("verdicts", []):
        observed = v.get("observed")
        rows.append(
            [
                v.get("key", ""),
                v.get("kind", ""),
                v.get("expr", ""),
                "—" if observed is None else f"{observed:.4g}",
                "" if v.get("p_value") is None else f"{v['p_value']:.3g}",
                "pass" if v.get("passed") else "FAIL",
                v.get("detail", ""),
            ]
        )
    table = _table(["gate", "kind", "expression", "observed", "p", "verdict", "note"], rows)
    return f'<h2>Gate <span class="badge {cls}">{html.escape(status.upper())}</span></h2>{table}'


def render_html(
    *,
    title: str,
    meta: Mapping[str, Any],
    headline: tuple[Sequence[str], Sequence[Sequence[str]]],
    measured: Sequence[tuple[str, str, float, float, str]],
    plots: Sequence[PlotImage],
    gate: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    commerce: Commerce | None = None,
    cohost: CoHost | None = None,
    profiles: ProfileTable | None = None,
) -> str:
    """The whole page as text."""
    valid = bool(meta.get("valid", True))
    badge = (
        '<span class="badge ok">valid</span>' if valid else '<span class="badge bad">INVALID</span>'
    )
    facts = " · ".join(
        f"{html.escape(k)} {html.escape(str(meta[k]))}"
        for k in ("seed", "replications", "version", "scenario_hash")
        if k in meta
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)} {badge}</h1>",
        f'<p class="meta">{facts}</p>',
    ]
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        parts.append(f'<ul class="notes">{items}</ul>')
    parts.append(_gate_section(gate))
    parts.append("<h2>Headline figures</h2>")
    parts.append(_table(*headline))
    if commerce is not None:
        parts.append('<h2 id="commerce">Commerce path</h2>')
        parts.append(_table(commerce.header, commerce.rows))
        parts += [f"<p>{html.escape(fact)}</p>" for fact in commerce.facts]
    if cohost is not None:
        parts.append('<h2 id="cohost">Co-host segments</h2>')
        parts.append(_table(cohost.header, cohost.rows))
        parts += [f"<p>{html.escape(fact)}</p>" for fact in cohost.facts]
    if measured:
        rows = [
            [scope, metric, f"{a:.4g}", f"{b:.4g}", f"{(b - a) / a:+.1%}" if a else "—", note]
            for scope, metric, a, b, note in measured
        ]
        parts.append("<h2>With measured QoE</h2>")
        head = ["scope", "metric", "modelled", "with measured QoE", "change", "95 % interval"]
        parts.append(_table(head, rows))
    if profiles is not None:
        parts.append('<h2 id="profiles">Experience per profile: modelled and measured</h2>')
        parts.append(
            f"<p>Measured: {html.escape(profiles.source)}. The model's viewers spread around each "
            "profile's nominal path; the panel's sit on it.</p>"
        )
        parts.append(_table(profiles.header, profiles.rows))
    parts.append("<h2>Plots</h2>")
    for plot in plots:
        data = base64.b64encode(plot.png).decode("ascii")
        parts.append(
            f'<figure id="{html.escape(plot.key)}" data-has-data="{str(plot.has_data).lower()}">'
            f'<img alt="{html.escape(plot.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(plot.caption or plot.title)}</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"
