"""`livelab run SCENARIO`: simulate, plan, load the target with Locust and the media panel,
measure, and feed the measured experience back into the model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.commands.scenario import add_scenario_args, load_from_args
from livelab.errors import ConfigError, Problem
from loadgen.media_target import MEDIA_HELP


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="simulate a launch, replay it as real load, measure, and close the loop",
        description="Without --target, starts the reference stack on 127.0.0.1. Writes the run "
        "directory (metrics.json, model/, plan.json, locust/, panel.json, stack_metrics.prom). "
        "Exit codes: 0 a valid run, 2 bad configuration, 3 the target failed or the run is "
        "invalid (saturated generator, crashed Locust, a killed generator process; see "
        "meta.notes), 130 interrupted.",
        epilog=examples(
            "livelab run scenarios/demo.toml",
            "livelab run scenarios/demo.toml --fault chat_delay_ms=800 --json",
            "livelab run my.toml --target http://127.0.0.1:8080 --room launch --workers 4",
        ),
    )
    add_scenario_args(p)
    p.add_argument("--target", metavar="URL", help="base URL of your stack (default: start one)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<scenario>-<time>)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local Locust worker processes (default: the scenario's load.workers)",
    )
    p.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --target")
    p.add_argument("--web", action="store_true", help="serve the Locust web UI during the run")
    p.add_argument("--room", default="demo", help="room to join")
    p.add_argument(
        "--stack-arg", action="append", default=[], metavar="ARG",
        help="extra argument for the reference stack, e.g. --stack-arg=--fault=chat_delay_ms=800",
    )  # fmt: skip
    p.add_argument("--fault", action="append", default=[], metavar="K=V",
                   help="reference-stack fault, e.g. chat_delay_ms=800 (repeatable)")  # fmt: skip
    p.add_argument("--adapter", metavar="MODULE:CLASS",
                   help="interaction adapter for your own API (docs/adapters.md; default: "
                   "[load] adapter, else livelab's own protocol)")  # fmt: skip
    p.add_argument("--media", metavar="URL", help=MEDIA_HELP)
    p.add_argument("--no-panel", action="store_true", help="skip the media panel")
    p.add_argument("--no-report", action="store_true", help="do not call `livelab report`")
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary on stdout instead of the text lines",
    )
    dist = p.add_mutually_exclusive_group()
    dist.add_argument("--master", action="store_true", help="wait for remote Locust workers")
    dist.add_argument("--worker", action="store_true", help="be a Locust worker for a master")
    p.add_argument(
        "--expect-workers",
        type=int,
        default=1,
        metavar="N",
        help="with --master: workers to wait for; with --worker: the same N",
    )
    p.add_argument("--master-host", metavar="H", help="with --worker: the master's address")
    p.add_argument(
        "--master-port",
        type=int,
        default=5557,
        metavar="PORT",
        help="the Locust master's port (--master binds it, --worker connects)",
    )
    p.add_argument("--plan", metavar="FILE", help="with --worker: the master's plan.json")
    p.set_defaults(func=_run)


def _worker(args: argparse.Namespace) -> int:
    """A bare Locust worker for a master on another machine (same plan file, same target)."""
    from loadgen.run import LocustSpec, locust_commands

    missing = [n for n in ("master_host", "plan", "target") if not getattr(args, n)]
    if missing:
        raise ConfigError(
            [
                Problem(
                    "--worker",
                    "",
                    None,
                    f"also needs {', '.join('--' + m.replace('_', '-') for m in missing)}",
                )
            ]
        )
    if args.adapter:
        from loadgen.run import check_adapter

        check_adapter(args.adapter)
    spec = LocustSpec(host=args.target, plan=Path(args.plan), out=Path("."), room=args.room,
                      external_workers=args.expect_workers, adapter=args.adapter or "")  # fmt: skip
    cmd = locust_commands(spec)["locust"]
    cut = cmd.index("--livelab-out")
    cmd = [*cmd[:cut], "--worker", "--master-host", args.master_host,
           "--master-port", str(args.master_port)]  # fmt: skip
    return subprocess.call(cmd)


def _run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from loadgen.run import RunOptions, run

    if args.worker:
        return _worker(args)
    if args.media:
        from loadgen.panel import check_target

        check_target(args.media, args.allow_remote, "--media")
    scenario = load_from_args(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path("runs") / f"{scenario.scenario.name}-{stamp}")
    extra = tuple(args.stack_arg) + tuple(a for f in args.fault for a in ("--fault", f))
    options = RunOptions(
        out=out,
        target=args.target,
        allow_remote=args.allow_remote,
        workers=args.workers,
        external_workers=args.expect_workers if args.master else 0,
        master_port=args.master_port,
        web=args.web,
        room=args.room,
        stack_args=extra,
        panel=not args.no_panel,
        media=args.media,
        report=not args.no_report,
        adapter=args.adapter,
    )
    outcome = run(scenario, options, command=["livelab", *sys.argv[1:]])
    doc = outcome.metrics
    meta = doc["meta"]
    code = 130 if outcome.interrupted else (0 if meta["valid"] else 3)
    summary = run_summary(out, doc, _report_path(out), code)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if code == 3:
        # The run happened and its files say why it cannot be judged; `livelab gate` refuses
        # to judge it too. Exit 3, as `gate` does, so a pipeline cannot take it for a pass.
        print("livelab: this run is marked INVALID in metrics.json (see its notes)",
              file=sys.stderr)  # fmt: skip
    return code


_P95 = ("join_ms", "chat_rtt_ms", "answer_ms", "order_ms", "g2g_latency_ms")
_FILES = ("locust/stats_stats.csv", "panel.json", "stack_metrics.prom", "model/summary.md")


def change_note(entry: Any) -> str:
    """`reports.report_tables.change_note` (imported late: reports pulls in plotting)."""
    from reports.report_tables import change_note as note

    return note(entry)


def run_summary(out: Path, doc: dict[str, Any], report: str | None, code: int) -> dict[str, Any]:
    """What `livelab run` prints (as text, or as JSON with --json): latencies in ms."""
    from reports.report_commerce import run_commerce

    overall = doc["overall"]
    loop = (doc.get("with_measured_qoe") or {}).get("overall", {}).get("retention_30s") or {}
    return {
        "run_dir": str(out),
        "metrics": str(out / "metrics.json"),
        "valid": bool(doc["meta"]["valid"]),
        "exit_code": code,
        "notes": list(doc["meta"]["notes"]),
        "measured_p95_ms": {n: (overall.get(n) or {}).get("p95") for n in _P95},
        "retention_30s": {
            "modelled": (overall.get("retention_30s") or {}).get("value"),
            "with_measured_qoe": loop.get("value"),
            "change": loop.get("change"),
        },
        "files": {n: str(out / n) for n in _FILES if (out / n).exists()},
        "report": report,
        "commerce": run_commerce(out),
    }


def _print_summary(s: dict[str, Any]) -> None:
    def ms(name: str) -> str:
        value = s["measured_p95_ms"][name]
        return "-" if value is None else f"{value:.0f} ms"

    print(f"run directory: {s['run_dir']}")
    print(f"  metrics:  {s['metrics']}  (valid: {s['valid']})")
    print(f"  measured p95: join {ms('join_ms')}, chat {ms('chat_rtt_ms')}, answer "
          f"{ms('answer_ms')}, order {ms('order_ms')}, g2g {ms('g2g_latency_ms')}")  # fmt: skip
    for line in _commerce_lines(s.get("commerce")):
        print(f"  {line}")
    retention = s["retention_30s"]
    if retention["modelled"] is not None and retention["with_measured_qoe"] is not None:
        print(f"  retention_30s: modelled {retention['modelled']:.1%}, with measured QoE "
              f"{retention['with_measured_qoe']:.1%}")  # fmt: skip
        note = change_note({"change": retention.get("change")})
        if note:
            print(f"    {note}")
    for note in s["notes"]:
        print(f"  note: {note}")
    for name, path in s["files"].items():
        print(f"  {name}: {path}")
    if s["report"]:
        print(f"report: {s['report']}")


def _commerce_lines(c: dict[str, Any] | None) -> list[str]:
    """The commerce path in two lines: the orders against the model's, and every interaction's
    measured n (the run's good samples)."""
    if not c:
        return []
    o = c["orders"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    model = o["model_in_window"]
    against = f" of the model's {model} in the window" if model is not None else ""
    replays = "-" if o["replays"] is None else str(o["replays"])
    ledger = (
        f"; ledger {o['ledger_created']} created, {o['ledger_replays']} replays"
        if o["ledger_created"] is not None
        else ""
    )
    counts = ", ".join(f"{m} {n}" for m, n in c["measured_n"].items())
    return [
        f"orders: {o['measured']} measured{against}, p50 {ms(o['p50_ms'])} / p95 "
        f"{ms(o['p95_ms'])}; errors: {o['failed']} failed, {replays} idempotent replays{ledger}",
        f"measured n: {counts or 'none'}",
    ]


def _report_path(out: Path) -> str | None:
    try:
        info = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return None
    value = info.get("report")
    return str(value) if value and os.path.exists(value) else None
