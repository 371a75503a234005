"""`summary.md`: the run in a few lines and one table — small enough for a pull-request comment.

GitHub caps a comment at 65,536 characters; the summary keeps to the headline table (at most
`max_markets` markets), the measured-QoE changes of the overall scope, and the failing gates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.report_cohost import CoHost
from reports.report_commerce import Commerce

__all__ = ["MAX_CHARS", "render_summary"]

MAX_CHARS = 60_000


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def render_summary(
    *,
    title: str,
    meta: Mapping[str, Any],
    headline: tuple[Sequence[str], Sequence[Sequence[str]]],
    measured: Sequence[tuple[str, str, float, float, str]],
    gate: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    report_name: str = "report.html",
    commerce: Commerce | None = None,
    cohost: CoHost | None = None,
) -> str:
    """Markdown text of the summary (always ≤ `MAX_CHARS`)."""
    valid = bool(meta.get("valid", True))
    lines = [f"### livelab: {title} {'✅ valid run' if valid else '⚠️ INVALID run'}", ""]
    facts = ", ".join(f"{k} `{meta[k]}`" for k in ("seed", "replications", "version") if k in meta)
    if facts:
        lines += [facts, ""]
    if gate:
        status = str(gate.get("status", "?")).upper()
        failed = [v for v in gate.get("verdicts", []) if not v.get("passed")]
        icon = {"PASS": "✅", "FAIL": "❌"}.get(status, "⚠️")
        lines.append(
            f"**Gate {icon} {status}** — {len(failed)} of {len(gate.get('verdicts', []))} failed"
        )
        if failed:
            rows = [
                [
                    v.get("key", ""),
                    v.get("expr", ""),
                    "—" if v.get("observed") is None else f"{v['observed']:.4g}",
                    "" if v.get("p_value") is None else f"{v['p_value']:.3g}",
                    v.get("detail", ""),
                ]
                for v in failed[:30]
            ]
            lines += ["", *_md_table(["gate", "expression", "observed", "p", "why"], rows)]
        lines.append("")
    lines += _md_table(*headline)
    if commerce is not None:
        lines += ["", "**Commerce path**", "", *_md_table(commerce.header, commerce.rows)]
        lines += ["", *commerce.facts] if commerce.facts else []
    if cohost is not None:
        lines += ["", "**Co-host segments**", "", *_md_table(cohost.header, cohost.rows)]
        lines += ["", *cohost.facts] if cohost.facts else []
    overall = [m for m in measured if m[0] == "overall"]
    if overall:
        changes = [
            f"{metric} {a:.4g} → {b:.4g}"
            + (f" ({(b - a) / a:+.1%})" if a else "")
            + (f" — {note}" if note else "")
            for _, metric, a, b, note in overall
        ]
        lines += ["", "**With measured QoE** (overall): " + "; ".join(changes)]
    for note in notes[:10]:
        lines.append(f"\n> {note}")
    lines += ["", f"Plots and per-market detail: `{report_name}`."]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 40] + "\n\n… (truncated)\n"
    return text
