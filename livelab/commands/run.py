"""`livelab run SCENARIO`: simulate, plan, load the target with Locust and the media panel,
measure, and feed the measured experience back into the model."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from livelab.commands.scenario import add_scenario_args, load_from_args
from livelab.errors import ConfigError, Problem
from loadgen.media_target import MEDIA_HELP


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="simulate a launch, replay it as real load, measure, and close the loop",
        description="Without --target, starts the reference stack on 127.0.0.1. Writes the run "
        "directory (metrics.json, model/, plan.json, locust/, panel.json, stack_metrics.prom).",
    )
    add_scenario_args(p)
    p.add_argument("--target", metavar="URL", help="base URL of your stack (default: start one)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<scenario>-<time>)")
    p.add_argument("--workers", type=int, metavar="N", help="local Locust worker processes")
    p.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --target")
    p.add_argument("--web", action="store_true", help="serve the Locust web UI during the run")
    p.add_argument("--room", default="demo", help="room to join (default demo)")
    p.add_argument(
        "--stack-arg", action="append", default=[], metavar="ARG",
        help="extra argument for the reference stack, e.g. --stack-arg=--fault=chat_delay_ms=800",
    )  # fmt: skip
    p.add_argument("--fault", action="append", default=[], metavar="K=V",
                   help="reference-stack fault, e.g. chat_delay_ms=800")  # fmt: skip
    p.add_argument("--media", metavar="URL", help=MEDIA_HELP)
    p.add_argument("--no-panel", action="store_true", help="skip the media panel")
    p.add_argument("--no-report", action="store_true", help="do not call `livelab report`")
    dist = p.add_mutually_exclusive_group()
    dist.add_argument("--master", action="store_true", help="wait for remote Locust workers")
    dist.add_argument("--worker", action="store_true", help="be a Locust worker for a master")
    p.add_argument("--expect-workers", type=int, default=1, metavar="N", help="with --master")
    p.add_argument("--master-host", metavar="H", help="with --worker: the master's address")
    p.add_argument("--master-port", type=int, default=5557)
    p.add_argument("--plan", metavar="FILE", help="with --worker: the master's plan.json")
    p.set_defaults(func=_run)


def _worker(args: argparse.Namespace) -> int:
    """A bare Locust worker for a master on another machine (same plan file, same target)."""
    from loadgen.run.commands import LocustSpec, locust_commands

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
    spec = LocustSpec(host=args.target, plan=Path(args.plan), out=Path("."), room=args.room,
                      external_workers=args.expect_workers)  # fmt: skip
    cmd = locust_commands(spec)["locust"]
    cut = cmd.index("--livelab-out")
    cmd = [*cmd[:cut], "--worker", "--master-host", args.master_host,
           "--master-port", str(args.master_port)]  # fmt: skip
    return subprocess.call(cmd)


def _run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from loadgen.run.orchestrator import RunOptions, run

    if args.worker:
        return _worker(args)
    if args.media:
        from loadgen.panel.config import check_target

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
    )
    outcome = run(scenario, options, command=["livelab", *sys.argv[1:]])
    doc = outcome.metrics
    meta = doc["meta"]
    overall = doc["overall"]

    def p95(name: str) -> str:
        entry = overall.get(name) or {}
        return "-" if entry.get("p95") is None else f"{entry['p95']:.0f} ms"

    print(f"run directory: {out}")
    print(f"  metrics:  {out / 'metrics.json'}  (valid: {meta['valid']})")
    print(f"  measured p95: join {p95('join_ms')}, chat {p95('chat_rtt_ms')}, answer "
          f"{p95('answer_ms')}, order {p95('order_ms')}, g2g {p95('g2g_latency_ms')}")  # fmt: skip
    modelled = (overall.get("retention_30s") or {}).get("value")
    loop = (doc.get("with_measured_qoe") or {}).get("overall", {}).get("retention_30s") or {}
    if modelled is not None and loop.get("value") is not None:
        print(f"  retention_30s: modelled {modelled:.1%}, with measured QoE {loop['value']:.1%}")
    for note in meta["notes"]:
        print(f"  note: {note}")
    for name in ("locust/stats_stats.csv", "panel.json", "stack_metrics.prom", "model/summary.md"):
        if (out / name).exists():
            print(f"  {name}: {out / name}")
    report_path = _report_path(out)
    if report_path:
        print(f"report: {report_path}")
    if outcome.interrupted:
        return 130
    if not meta["valid"]:
        # Exit 0 all the same: the run happened and its files say why it cannot be judged;
        # `livelab gate` refuses to judge an invalid run.
        print("WARNING: this run is marked INVALID in metrics.json (see the notes above)")
    return 0


def _report_path(out: Path) -> str | None:
    import json

    try:
        info = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return None
    value = info.get("report")
    return str(value) if value and os.path.exists(value) else None
