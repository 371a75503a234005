"""reports: metric definitions, the run directory, gates, baselines, comparisons, capacity
planning, plots and report writers — pure functions of data, plus the I/O of run directories.

The public names are below (`from reports import write_report, load_run`); the modules behind
them are internal. `reports.rundir` is the one reader and writer of run directories; every
stage goes through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names

if TYPE_CHECKING:
    from reports.baseline import resolve_baseline
    from reports.capacity import Knee, plan_capacity
    from reports.capacity_forecast import model_forecast
    from reports.capacity_plots import capacity_figure, latency_series
    from reports.capacity_render import capacity_json, capacity_markdown
    from reports.compare import (
        Comparison,
        Recommendation,
        compare_variants,
        paired_interval,
        recommend,
    )
    from reports.compare_render import comparison_json, comparison_markdown
    from reports.compare_sweep import make_executor, run_sweep, variant_scenarios
    from reports.gates import Gate, Verdict, Window, parse_gate, parse_gates
    from reports.gates_abort import Abort, abort_gates, first_failure
    from reports.gates_judge import GateResult, judge
    from reports.gates_observe import evaluate, observe
    from reports.gates_output import gate_json, junit_xml, markdown_table, rich_table
    from reports.metrics import (
        BUSINESS,
        EXPERIENCE,
        HEALTH,
        METRICS,
        distribution,
        dumps,
        new_document,
        replicated,
        scalar,
    )
    from reports.plots_audience import write_audience_plots
    from reports.plots_base import png_bytes
    from reports.plots_compare import forest_plot, forest_rows
    from reports.report_build import PLOTS, ReportFiles, build_figures, write_report
    from reports.report_data import HostEvent, RunData, SampleSet, load_run
    from reports.rundir import (
        ACCESS_NAMES,
        TIMESERIES_COLUMNS,
        RunDir,
        model_dir,
        read_arrays,
        read_events,
        read_json,
        read_metrics,
        read_run_dir,
        read_timeseries,
        write_info,
        write_metrics,
        write_run,
    )
    from reports.runindex import BaselineRecord, RunIndex, RunRecord, default_index_path

__all__ = [
    "ACCESS_NAMES",
    "BUSINESS",
    "EXPERIENCE",
    "HEALTH",
    "METRICS",
    "PLOTS",
    "TIMESERIES_COLUMNS",
    "Abort",
    "BaselineRecord",
    "Comparison",
    "Gate",
    "GateResult",
    "HostEvent",
    "Knee",
    "Recommendation",
    "ReportFiles",
    "RunData",
    "RunDir",
    "RunIndex",
    "RunRecord",
    "SampleSet",
    "Verdict",
    "Window",
    "abort_gates",
    "build_figures",
    "capacity_figure",
    "capacity_json",
    "capacity_markdown",
    "compare_variants",
    "comparison_json",
    "comparison_markdown",
    "default_index_path",
    "distribution",
    "dumps",
    "evaluate",
    "first_failure",
    "forest_plot",
    "forest_rows",
    "gate_json",
    "judge",
    "junit_xml",
    "latency_series",
    "load_run",
    "make_executor",
    "markdown_table",
    "model_dir",
    "model_forecast",
    "new_document",
    "observe",
    "paired_interval",
    "parse_gate",
    "parse_gates",
    "plan_capacity",
    "png_bytes",
    "read_arrays",
    "read_events",
    "read_json",
    "read_metrics",
    "read_run_dir",
    "read_timeseries",
    "recommend",
    "replicated",
    "resolve_baseline",
    "rich_table",
    "run_sweep",
    "scalar",
    "variant_scenarios",
    "write_audience_plots",
    "write_info",
    "write_metrics",
    "write_report",
    "write_run",
]

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "abort_gates": "gates_abort",
    "Abort": "gates_abort",
    "first_failure": "gates_abort",
    "BUSINESS": "metrics",
    "EXPERIENCE": "metrics",
    "HEALTH": "metrics",
    "METRICS": "metrics",
    "distribution": "metrics",
    "dumps": "metrics",
    "new_document": "metrics",
    "replicated": "metrics",
    "scalar": "metrics",
    "ACCESS_NAMES": "rundir",
    "RunDir": "rundir",
    "TIMESERIES_COLUMNS": "rundir",
    "model_dir": "rundir",
    "read_arrays": "rundir",
    "read_events": "rundir",
    "read_json": "rundir",
    "read_metrics": "rundir",
    "read_run_dir": "rundir",
    "read_timeseries": "rundir",
    "write_info": "rundir",
    "write_metrics": "rundir",
    "write_run": "rundir",
    "HostEvent": "report_data",
    "RunData": "report_data",
    "SampleSet": "report_data",
    "load_run": "report_data",
    "PLOTS": "report_build",
    "ReportFiles": "report_build",
    "build_figures": "report_build",
    "write_report": "report_build",
    "BaselineRecord": "runindex",
    "RunIndex": "runindex",
    "RunRecord": "runindex",
    "default_index_path": "runindex",
    "Gate": "gates",
    "Verdict": "gates",
    "Window": "gates",
    "parse_gate": "gates",
    "parse_gates": "gates",
    "GateResult": "gates_judge",
    "judge": "gates_judge",
    "evaluate": "gates_observe",
    "observe": "gates_observe",
    "gate_json": "gates_output",
    "junit_xml": "gates_output",
    "markdown_table": "gates_output",
    "rich_table": "gates_output",
    "resolve_baseline": "baseline",
    "Comparison": "compare",
    "Recommendation": "compare",
    "compare_variants": "compare",
    "paired_interval": "compare",
    "recommend": "compare",
    "comparison_json": "compare_render",
    "comparison_markdown": "compare_render",
    "make_executor": "compare_sweep",
    "run_sweep": "compare_sweep",
    "variant_scenarios": "compare_sweep",
    "Knee": "capacity",
    "plan_capacity": "capacity",
    "model_forecast": "capacity_forecast",
    "capacity_json": "capacity_render",
    "capacity_markdown": "capacity_render",
    "capacity_figure": "capacity_plots",
    "latency_series": "capacity_plots",
    "png_bytes": "plots_base",
    "forest_plot": "plots_compare",
    "forest_rows": "plots_compare",
    "write_audience_plots": "plots_audience",
}


__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
