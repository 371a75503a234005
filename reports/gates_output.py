"""Render a `GateResult`: `gate.json`, `junit.xml`, a rich table and a Markdown table.

All renderers are deterministic functions of the result (no clock, no host name), so judging
the same saved run twice writes the same bytes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from reports.gates import Verdict
from reports.gates_judge import GateResult

__all__ = ["fmt", "gate_json", "junit_xml", "markdown_table", "rich_table"]


def fmt(value: float | None) -> str:
    """A figure for a table: 4 significant digits, `—` for none."""
    if value is None:
        return "—"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _name(v: Verdict) -> str:
    return f"{v.key} [{v.window}]" if v.window and "@" not in v.key else v.key


def _change(v: Verdict) -> str:
    if v.change is None:
        return ""
    return f"{v.change:+.1%} worse" if v.change >= 0 else f"{-v.change:.1%} better"


def _p(v: Verdict) -> str:
    return "" if v.p_value is None else f"{v.p_value:.3g}"


def gate_json(result: GateResult) -> str:
    """`gate.json` text: the status, the exit code and every verdict."""
    return json.dumps(result.as_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def junit_xml(result: GateResult) -> str:
    """JUnit XML for CI: a `run validity` test case (an error when the run is invalid) whose
    `time` is the run's wall time, then one test case per verdict. A verdict's `time` is 0: it
    reads figures the run already measured, so the run's case carries all the time and the
    cases add up to the suite's `time` (CI systems sum them)."""
    seconds = f"{result.elapsed_s or 0.0:.3f}"
    suite = ET.Element(
        "testsuite",
        name="livelab gate",
        tests=str(len(result.verdicts) + 1),
        failures=str(len(result.failed)),
        errors=str(int(result.status == "invalid")),
        skipped="0",
        time=seconds,
    )
    if result.created_utc:
        suite.set("timestamp", result.created_utc.removesuffix("Z").split("+")[0])
    case = ET.SubElement(
        suite, "testcase", classname="gates.run", name="run validity", time=seconds
    )
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join([f"run {result.run or '?'}: {result.status}", *result.notes])
    if result.status == "invalid":
        err = ET.SubElement(case, "error", message="the run is invalid; it cannot be judged")
        err.text = "\n".join(result.notes) or "meta.valid is false"
    for v in result.verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=f"gates.{v.kind}", name=_name(v), time="0.000"
        )
        out = ET.SubElement(case, "system-out")
        out.text = _line(v)
        if not v.passed:
            fail = ET.SubElement(case, "failure", message=v.detail or "failed")
            fail.text = _line(v)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, "unicode") + "\n"


def _line(v: Verdict) -> str:
    parts = [f"{_name(v)}: observed {fmt(v.observed)}, gate {v.expr}"]
    if v.baseline is not None:
        parts.append(f"baseline {fmt(v.baseline)} ({_change(v)})")
    if v.test:
        parts.append(f"{v.test} p={_p(v)}")
    if v.detail:
        parts.append(v.detail)
    return "; ".join(parts)


def _rows(result: GateResult) -> list[list[str]]:
    return [
        [
            _name(v),
            v.expr,
            fmt(v.observed),
            fmt(v.baseline) if v.kind == "regression" else "",
            _change(v),
            v.test or "",
            _p(v),
            "PASS" if v.passed else "FAIL",
            v.detail,
        ]
        for v in result.verdicts
    ]


_HEAD = ["gate", "expression", "observed", "baseline", "change", "test", "p", "verdict", "note"]


def markdown_table(result: GateResult) -> str:
    """The verdicts as a Markdown table headed by the overall status."""
    lines = [f"**Gate: {result.status.upper()}** (exit {result.exit_code})", ""]
    lines.append("| " + " | ".join(_HEAD) + " |")
    lines.append("|" + "---|" * len(_HEAD))
    for row in _rows(result):
        cells = [c.replace("|", "\\|") for c in row]
        cells[-2] = "✅ pass" if row[-2] == "PASS" else "❌ **FAIL**"
        lines.append("| " + " | ".join(cells) + " |")
    for note in result.notes:
        lines.append(f"\n> {note}")
    return "\n".join(lines) + "\n"


def rich_table(result: GateResult) -> Any:
    """A `rich.table.Table` of the verdicts (import kept here: rich is only for the terminal)."""
    from rich.table import Table

    colour = {"pass": "green", "fail": "red", "invalid": "yellow"}[result.status]
    table = Table(title=f"livelab gate: [bold {colour}]{result.status.upper()}[/]")
    for head in _HEAD:
        table.add_column(head, justify="right" if head in ("observed", "baseline", "p") else "left")
    for row in _rows(result):
        row[-2] = "[green]PASS[/]" if row[-2] == "PASS" else "[bold red]FAIL[/]"
        table.add_row(*row)
    return table
