"""`livelab gate SCENARIO`: run (or take) a run and judge it against the scenario's `[gates]`.

Exit codes: 0 every gate passed, 1 a gate failed, 2 configuration error (malformed gate,
unknown metric, bad option), 3 the run is invalid or could not be made (saturated generator,
target unreachable).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.commands.runs import add_index_arg, open_index
from livelab.commands.scenario import add_scenario_args, load_from_args
from livelab.errors import ConfigError, LabError, Problem, TargetError
from loadgen.media_target import MEDIA_HELP


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "gate",
        help="judge a run against [gates] (exit 0 pass, 1 fail, 2 config, 3 invalid)",
        description="Run the scenario (or take --from RUN_DIR) and judge it against its "
        "[gates]; writes gate.json, junit.xml, gate.md and the report. Exit codes: 0 every gate "
        "passed, 1 a gate failed, 2 configuration error, 3 the run is invalid or could not be "
        "made.",
        epilog=examples(
            "livelab gate scenarios/ci_smoke.toml",
            "livelab gate scenarios/ci_smoke.toml --from runs/ci --baseline main --json",
            "livelab gate scenarios/ci_smoke.toml --model-only --out runs/gate-model",
        ),
    )
    add_scenario_args(parser)
    parser.add_argument("--target", metavar="URL", help="stack to load (default: reference stack)")
    parser.add_argument("--out", metavar="DIR", help="where the run and gate.json/junit.xml go")
    parser.add_argument("--media", metavar="URL", help=MEDIA_HELP)
    parser.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN_DIR",
        help="judge this existing run instead of running the scenario",
    )
    parser.add_argument(
        "--model-only",
        action="store_true",
        help="make the run with `livelab simulate` (no load) instead of `livelab run`",
    )
    parser.add_argument(
        "--baseline", metavar="RUN_DIR|metrics.json|NAME", help="compare with this run"
    )
    parser.add_argument(
        "--max-regression",
        default="10%",
        metavar="PCT",
        help="worse than the baseline by more than this fails, if significant (default 10%%)",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of regression tests"
    )
    parser.add_argument(
        "--json", action="store_true", help="print gate.json on stdout instead of the table"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a non-loopback --target or --media (passed to `livelab run`)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="K=V",
        help="start the reference stack with this fault (passed to `livelab run`; repeatable)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument("--no-record", action="store_true", help="do not add to the run index")
    add_index_arg(parser)
    parser.set_defaults(func=_gate)


def parse_fraction(text: str, option: str) -> float:
    """`10%` or `0.1` → 0.1; raises `ConfigError` otherwise."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise ConfigError([Problem(option, "", text, "a share such as 10% or 0.1")])
    return value


def _make_run(args: argparse.Namespace, out: Path) -> None:
    """Run the scenario in a child process (`livelab run`, or `simulate` with --model-only)."""
    command = "simulate" if args.model_only else "run"
    if args.model_only and args.target:
        raise ConfigError([Problem("--target", "", args.target, "not with --model-only")])
    if importlib.util.find_spec(f"livelab.commands.{command}") is None:
        raise ConfigError(
            [Problem("livelab gate", "", command, "not available yet; use --from RUN_DIR")]
        )
    argv = [sys.executable, "-m", "livelab", command, args.scenario, "--out", str(out)]
    for item in args.overrides:
        argv += ["--set", item]
    if getattr(args, "variant", None):
        argv += ["--variant", args.variant]
    if args.target:
        argv += ["--target", args.target]
    if args.media:
        if args.model_only:
            raise ConfigError([Problem("--media", "", args.media, "not with --model-only")])
        argv += ["--media", args.media]
    if args.allow_remote:
        argv += ["--allow-remote"]
    for fault in args.fault:
        if args.model_only or args.target:
            raise ConfigError([Problem("--fault", "", fault, "only for the reference stack")])
        argv += ["--fault", fault]
    if command == "run":
        argv += ["--no-report"]  # the gate writes the report itself, verdicts included
    print(f"livelab gate: {' '.join(argv[2:])}", file=sys.stderr, flush=True)
    # stderr is passed through line by line and its `livelab: …` lines kept as the reason.
    reasons: list[str] = []
    # With --json our stdout carries only the verdict: the child's text goes to stderr (fd 2).
    out_fd = 2 if args.json else None
    with subprocess.Popen(argv, stdout=out_fd, stderr=subprocess.PIPE, text=True) as child:
        for line in child.stderr or ():
            sys.stderr.write(line)
            if line.startswith("livelab:"):
                reasons.append(line.removeprefix("livelab:").strip())
        code = child.wait()
    why = f": {reasons[-1]}" if reasons else ""
    if code == 3 and (out / "metrics.json").exists() and not _run_error(out):
        return  # the run happened but is invalid: the judge says so, with its notes
    if code == 2:
        raise ConfigError(f"livelab {command} rejected the configuration (exit 2){why}")
    if code != 0:
        raise TargetError(f"livelab {command} failed (exit {code}); the run cannot be judged{why}")
    if not (out / "metrics.json").exists():
        raise TargetError(f"livelab {command} wrote no metrics.json in {out}")


def _run_error(out: Path) -> str | None:
    """The error `livelab run` recorded in run.json (a run that could not be made)."""
    try:
        error = json.loads((out / "run.json").read_text("utf-8")).get("error")
    except (OSError, ValueError, AttributeError):
        return None
    return str(error) if error else None


def _write_invalid(out: Path, reason: str) -> None:
    """gate.json and junit.xml for a run that could not be made, so CI shows why."""
    from reports import GateResult, gate_json, junit_xml

    result = GateResult("invalid", 3, (), str(out), notes=(reason,))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gate.json").write_text(gate_json(result), "utf-8")
    (out / "junit.xml").write_text(junit_xml(result), "utf-8")


def _gate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from reports import (
        gate_json,
        judge,
        junit_xml,
        load_run,
        markdown_table,
        parse_gates,
        resolve_baseline,
        rich_table,
    )

    scenario = load_from_args(args)
    source = args.scenario
    parse_gates(scenario.gates, source)  # malformed gates fail before any load is sent
    max_regression = parse_fraction(args.max_regression, "--max-regression")
    index = open_index(args.index)
    baseline = resolve_baseline(args.baseline, index) if args.baseline else None

    if args.from_run:
        run_dir = Path(args.from_run)
        out = Path(args.out) if args.out else run_dir
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(args.out) if args.out else Path("runs") / f"gate-{stamp}"
        run_dir = out
        try:
            _make_run(args, out)
        except TargetError as exc:
            _write_invalid(out, str(exc))
            raise
    run = load_run(run_dir)
    result = judge(
        scenario.gates,
        run,
        source=source,
        run_label=str(run_dir),
        baseline=baseline[0] if baseline else None,
        baseline_label=baseline[1] if baseline else None,
        max_regression=max_regression,
        alpha=args.alpha,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "gate.json").write_text(gate_json(result), "utf-8")
    (out / "junit.xml").write_text(junit_xml(result), "utf-8")
    (out / "gate.md").write_text(markdown_table(result), "utf-8")
    # With --json, stdout carries only the JSON document; the table goes to stderr.
    Console(width=180, stderr=args.json).print(rich_table(result))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr if args.json else sys.stdout)
    report: str | None = None
    if not args.no_report and run.path is not None:
        import matplotlib

        matplotlib.use("Agg")
        from reports import write_report

        files = write_report(run.path, out, gate=result.as_dict())
        report = str(files.html)
        if not args.json:
            print(f"report: {files.html} (summary for a PR comment: {files.summary})")
    if not args.no_record and run.path is not None:
        try:
            index.record(run.path, gate_status=result.status)
        except LabError as exc:  # the verdict stands even if the index cannot take it
            print(f"livelab gate: not recorded in the run index: {exc}", file=sys.stderr)
    if result.status == "invalid":
        print("livelab gate: the run is invalid (see notes); it cannot be judged", file=sys.stderr)
    if args.json:
        paths = {"gate": str(out / "gate.json"), "junit": str(out / "junit.xml"), "report": report}
        print(json.dumps({**result.as_dict(), "files": paths},
                         indent=2, default=str))  # fmt: skip
    else:
        print(f"gate: {result.status} — {out / 'gate.json'}, {out / 'junit.xml'}")
    return result.exit_code
