"""`compare.json` and `compare.md` from a `Comparison` (pure: data in, text or dicts out).

`compare.json` layout (numbers in the metric's own units; `relative` is a fraction):

```
{"meta": {"scenario", "scenario_hash", "seed", "replications", "variants", "baseline",
          "objective", "confidence", "method"},
 "levels": {VARIANT: {SCOPE: {FIGURE: {"value", "ci95", "n"}}}},
 "differences": {VARIANT: {SCOPE: {FIGURE: {"baseline", "value", "diff", "ci95",
                                            "relative", "significant", "better", "n"}}}},
 "recommendation": [{"scope", "objective", "best", "best_mean", "clear", "ties",
                     "margins": [{"rival", "diff", "ci95", "significant"}]}]}
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.compare import Comparison, Difference, Recommendation

__all__ = ["METHOD", "NEGLIGIBLE", "comparison_json", "comparison_markdown", "fmt_number"]

METHOD = (
    "paired differences over replications with common random numbers (replication r of every "
    "variant shares seed and streams); Student-t interval on R−1 degrees of freedom; "
    "significant = the interval excludes zero; no correction for multiple comparisons"
)


def comparison_json(
    comparison: Comparison,
    recommendations: Sequence[Recommendation],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The `compare.json` document (render it with `reports.metrics.dumps`)."""
    levels: dict[str, dict[str, dict[str, Any]]] = {}
    for name in comparison.variants:
        per_scope: dict[str, dict[str, Any]] = {}
        for (scope, fig), level in comparison.levels[name].items():
            per_scope.setdefault(scope, {})[fig] = {
                "value": level.mean,
                "ci95": list(level.ci95) if level.ci95 else None,
                "n": level.n,
            }
        levels[name] = per_scope
    differences: dict[str, dict[str, dict[str, Any]]] = {}
    for d in comparison.differences:
        differences.setdefault(d.variant, {}).setdefault(d.scope, {})[d.figure] = {
            "baseline": d.base_mean,
            "value": d.variant_mean,
            "diff": d.diff,
            "ci95": list(d.ci95) if d.ci95 else None,
            "relative": d.relative,
            "significant": d.significant,
            "better": d.better,
            "n": d.n,
        }
    recs = [
        {
            "scope": r.scope,
            "objective": r.objective,
            "best": r.best,
            "best_mean": r.best_mean,
            "clear": r.clear,
            "ties": list(r.ties),
            "margins": [
                {
                    "rival": m.baseline,
                    "diff": m.diff,
                    "ci95": list(m.ci95) if m.ci95 else None,
                    "significant": m.significant,
                }
                for m in r.margins
            ],
        }
        for r in recommendations
    ]
    full_meta = {
        **meta,
        "replications": comparison.replications,
        "variants": list(comparison.variants),
        "baseline": comparison.baseline,
        "confidence": comparison.confidence,
        "method": METHOD,
    }
    return {
        "meta": full_meta,
        "levels": levels,
        "differences": differences,
        "recommendation": recs,
    }


def fmt_number(x: float | None) -> str:
    """Compact human number: 3 significant figures, thousands separators for large values."""
    if x is None or x != x:  # NaN
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _interval(ci: tuple[float, float] | None) -> str:
    return (
        "no interval (1 replication)"
        if ci is None
        else f"[{fmt_number(ci[0])}, {fmt_number(ci[1])}]"
    )


NEGLIGIBLE = 0.001  # |relative difference| below 0.1 % of the baseline


def _cell(d: Difference) -> str:
    mark = ""
    if d.significant and d.relative is not None and abs(d.relative) < NEGLIGIBLE:
        mark = " ≈ (significant but < 0.1 %)"
    elif d.significant:
        mark = " ▲" if d.better else " ▼"
    rel = f" ({100 * d.relative:+.2g} %)" if d.relative is not None and d.significant else ""
    sign = "+" if d.diff > 0 else ""
    return f"{sign}{fmt_number(d.diff)}{rel} {_interval(d.ci95)}{mark}"


def _recommendation_table(recs: Sequence[Recommendation]) -> list[str]:
    lines = [
        "| market | best variant | mean | ahead of | not distinguishable from |",
        "|---|---|---|---|---|",
    ]
    for r in recs:
        ahead = ", ".join(
            f"{m.baseline} by {fmt_number(m.diff)} {_interval(m.ci95)}"
            for m in r.margins
            if m.significant
        )
        ties = ", ".join(
            f"{m.baseline} ({fmt_number(m.diff)} {_interval(m.ci95)})"
            for m in r.margins
            if not m.significant
        )
        lines.append(
            f"| {r.scope} | **{r.best}** | {fmt_number(r.best_mean)} | {ahead or '–'} | "
            f"{ties or '– (clear winner)'} |"
        )
    return lines


def comparison_markdown(
    comparison: Comparison,
    recommendations: Sequence[Recommendation],
    meta: Mapping[str, Any],
    *,
    plot_name: str | None = "compare_forest.png",
) -> str:
    """`compare.md`: method, recommendation table, then per-scope difference tables."""
    objective = recommendations[0].objective if recommendations else meta.get("objective", "")
    others = comparison.variants[1:]
    lines = [
        f"# Strategy comparison — {meta.get('scenario', '')}",
        "",
        f"Variants: {', '.join(comparison.variants)} (baseline **{comparison.baseline}**); "
        f"{comparison.replications} replications each, seed {meta.get('seed', '–')}.",
        "",
        f"Method: {METHOD}. ▲ a significant improvement, ▼ a significant worsening "
        "(latencies, costs and abandonment improve downwards), ≈ significant but smaller than "
        "0.1 % of the baseline (real in the model, too small to matter).",
        "",
        f"## Recommendation by `{objective}`",
        "",
        *_recommendation_table(recommendations),
        "",
    ]
    if comparison.replications < 2:
        lines += [
            "With one replication there are no intervals: nothing can be called significant. "
            "Run with `--replications 5` or more.",
            "",
        ]
    if plot_name:
        lines += [f"![forest plot]({plot_name})", ""]
    by_key = {(d.variant, d.scope, d.figure): d for d in comparison.differences}
    for scope in comparison.scopes:
        figs = sorted({fig for (s, fig) in comparison.levels[comparison.baseline] if s == scope})
        significant = sum(
            1 for v in others for f in figs if (d := by_key.get((v, scope, f))) and d.significant
        )
        lines += [
            f"## {scope}",
            "",
            f"{significant} significant differences out of "
            f"{sum(1 for v in others for f in figs if (v, scope, f) in by_key)}.",
            "",
            f"| figure | {comparison.baseline} | "
            + " | ".join(f"{v} − {comparison.baseline} [95 % CI]" for v in others)
            + " |",
            "|---|---|" + "---|" * len(others),
        ]
        for fig in figs:
            base = comparison.levels[comparison.baseline][(scope, fig)]
            cells = [_cell(d) if (d := by_key.get((v, scope, fig))) else "–" for v in others]
            lines.append(f"| {fig} | {fmt_number(base.mean)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
