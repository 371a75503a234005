"""`livelab report RUN_DIR`: gather a run's plots and tables and write the report files.

Writes `report.html` (self-contained), `summary.md` and, when the output is elsewhere, a copy
of `metrics.json`, into the output directory (default: the run directory). Works on a model-only
run (`livelab simulate`) and on a load run (`livelab run`): a plot with no data says so.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from reports.plots_audience import AUDIENCE_PLOTS
from reports.plots_base import png_bytes
from reports.plots_health import health, health_figure
from reports.plots_latency import latency_cdf_figure, latency_curves
from reports.plots_qoe import (
    freeze_by_profile,
    freeze_figure,
    measured_vs_modelled,
    outcomes_figure,
)
from reports.report_cohost import cohost
from reports.report_commerce import commerce
from reports.report_data import RunData, load_run
from reports.report_html import PlotImage, render_html
from reports.report_profiles import profile_table
from reports.report_summary import render_summary
from reports.report_tables import headline_rows, measured_changes, scenario_name

__all__ = ["PLOTS", "ReportFiles", "build_figures", "write_report"]

# (key, title, caption, figure builder); the order is the page's order.
PLOTS: tuple[tuple[str, str, str, Callable[[RunData], Figure]], ...] = (
    ("concurrency", "Concurrency per market", "Concurrent viewers per market over the stream.",
     AUDIENCE_PLOTS["concurrency"]),
    ("retention", "Retention per market",
     "Share of arrivals still watching; points are retention_3s/30s/5m with 95 % intervals.",
     AUDIENCE_PLOTS["retention"]),
    ("latency", "Latency CDFs",
     "join_ms, chat_rtt_ms and g2g_latency_ms; the dashed line is the 600 ms interactive limit.",
     lambda r: latency_cdf_figure(latency_curves(r))),
    ("freeze", "Freeze ratio per profile", "Stalled share of watching per network profile.",
     lambda r: freeze_figure(freeze_by_profile(r.metrics))),
    ("funnel", "Funnel per market", "Viewers at each journey stage as a share of arrivals.",
     AUDIENCE_PLOTS["funnel"]),
    ("referral", "Referral generations", "Viewers per referral generation; K per market.",
     AUDIENCE_PLOTS["referral"]),
    ("outcomes", "Modelled vs measured-QoE outcomes",
     "Business outcomes from the model alone and from the model fed with measured experience.",
     lambda r: outcomes_figure(measured_vs_modelled(r.metrics))),
    ("health", "Generator health", "Load-generator CPU and event-loop lag against their limits.",
     lambda r: health_figure(health(r))),
)  # fmt: skip


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote."""

    html: Path
    summary: Path
    metrics: Path
    plots: tuple[str, ...]
    empty_plots: tuple[str, ...]


def build_figures(run: RunData) -> list[tuple[str, str, str, Figure]]:
    """(key, title, caption, figure) for every plot of the report, in page order."""
    return [(key, title, caption, make(run)) for key, title, caption, make in PLOTS]


def _has_data(fig: Figure) -> bool:
    # An empty plot is `no_data_figure`: one axis, switched off.
    return not (len(fig.axes) == 1 and not fig.axes[0].axison)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    gate: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write `report.html`, `summary.md` (and `metrics.json` if `out_dir` differs).

    `gate` is a `gate.json` document to show; by default the run directory's own, if any.
    """
    run = load_run(run_dir)
    root = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else root
    out.mkdir(parents=True, exist_ok=True)
    scenario = None
    if root.is_dir():  # a load run keeps its scenario with its model run, in model/
        scenario = _read_json(root / "scenario.json") or _read_json(
            root / "model" / "scenario.json"
        )
    title = scenario_name(run.metrics, scenario or {}, root.resolve().name)
    if gate is None:
        gate = _read_json(root / "gate.json") if root.is_dir() else None
    meta = dict(run.metrics.get("meta", {}))
    notes = [str(n) for n in meta.get("notes", [])] + list(run.notes)
    headline = headline_rows(run.metrics)
    measured = measured_changes(run.metrics)
    prom = root / "stack_metrics.prom" if root.is_dir() else None
    path = commerce(
        run,
        plan=_read_json(root / "plan.json") if root.is_dir() else None,
        stack_prom=prom.read_text("utf-8", "replace") if prom and prom.is_file() else None,
    )
    cohost_section = cohost(run)
    images = []
    for key, plot_title, caption, fig in build_figures(run):
        images.append(PlotImage(key, plot_title, png_bytes(fig), caption, _has_data(fig)))
    page = render_html(
        title=f"livelab report: {title}",
        meta=meta,
        headline=headline,
        measured=measured,
        plots=images,
        gate=gate if isinstance(gate, Mapping) else None,
        notes=notes,
        commerce=path,
        cohost=cohost_section,
        profiles=profile_table(root if root.is_dir() else None, run.metrics, scenario),
    )
    html_path = out / "report.html"
    html_path.write_text(page, "utf-8")
    summary_path = out / "summary.md"
    summary_path.write_text(
        render_summary(
            title=title,
            meta=meta,
            headline=headline,
            measured=measured,
            gate=gate if isinstance(gate, Mapping) else None,
            notes=notes,
            commerce=path,
            cohost=cohost_section,
        ),
        "utf-8",
    )
    metrics_path = out / "metrics.json"
    source = root / "metrics.json" if root.is_dir() else root
    if source.resolve() != metrics_path.resolve():
        shutil.copyfile(source, metrics_path)
    return ReportFiles(
        html=html_path,
        summary=summary_path,
        metrics=metrics_path,
        plots=tuple(i.key for i in images),
        empty_plots=tuple(i.key for i in images if not i.has_data),
    )
