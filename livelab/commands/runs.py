"""`livelab runs list` and `livelab runs add RUN_DIR`: the SQLite run index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg
from livelab.errors import LabError


def add_index_arg(parser: argparse.ArgumentParser) -> None:
    """`--index FILE`, shared by every command that reads or writes the run index."""
    parser.add_argument(
        "--index",
        metavar="FILE",
        help="run index (default: $LIVELAB_RUNS or runs/index.sqlite)",
    )


def open_index(index: str | None) -> Any:
    """The `RunIndex` at `index`, or at the default location."""
    from reports import RunIndex, default_index_path

    return RunIndex(Path(index) if index else default_index_path())


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "runs",
        help="the run index; import a Locust master's outputs as a run",
        epilog=examples(
            "livelab runs list", "livelab runs import --json stats.json --out runs/k8s"
        ),
    )
    inner = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = inner.add_parser(
        "list",
        help="list indexed runs, newest first",
        epilog=examples("livelab runs list", "livelab runs list --limit 5 --json"),
    )
    add_index_arg(listing)
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most this many")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)

    add = inner.add_parser(
        "add",
        help="record a run directory in the index",
        epilog=examples("livelab runs add runs/demo"),
    )
    add.add_argument("run_dir", metavar="RUN_DIR", help="the run directory to record")
    add_index_arg(add)
    add.set_defaults(func=_add)

    imp = inner.add_parser(
        "import",
        help="build a run directory from a Locust master's CSV/JSON outputs",
        description="Turn the outputs of a Locust master running livelab's locustfile (on "
        "Kubernetes, say) into a run directory that `livelab gate --from` and `livelab report` "
        "read: metrics.json (per market from the request type), run.json, locust/. Give at "
        "least one of --csv, --json, --samples; samples.json is exact and carries generator "
        "health, Locust's JSON histograms are rounded, its CSV has per-entry percentiles only.",
        epilog=examples(
            "livelab runs import --csv out/stats --json out/stats.json --out runs/k8s",
            "livelab runs import --samples out/samples.json --json out/stats.json --out runs/k8s",
        ),
    )
    imp.add_argument("--csv", metavar="PREFIX", help="Locust's --csv PREFIX (PREFIX_stats.csv)")
    imp.add_argument(
        "--json",
        dest="json_file",
        metavar="FILE",
        help="Locust's --json stdout saved to FILE, or its --json-file output (PREFIX.json)",
    )
    imp.add_argument(
        "--samples", metavar="FILE", help="samples.json from the master's --livelab-out"
    )
    imp.add_argument(
        "--max-start-lag",
        type=duration_arg("--max-start-lag"),
        default="2s",
        metavar="DURATION",
        help="with --samples: a start lag p95 above this marks the run invalid, as "
        "load.max_start_lag_s does in livelab run",
    )
    imp.add_argument("--out", required=True, metavar="DIR", help="run directory to write")
    imp.add_argument("--no-record", action="store_true", help="do not add to the run index")
    add_index_arg(imp)
    imp.set_defaults(func=_import)


def _list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    index = open_index(args.index)
    runs = index.runs(limit=max(1, args.limit))
    if args.json:
        print(json.dumps([asdict(r) for r in runs], indent=2))
        return 0
    table = Table(title=f"runs in {index.path}")
    for head in ("id", "recorded (UTC)", "scenario", "kind", "valid", "gate", "baselines", "path"):
        table.add_column(head)
    for r in runs:
        table.add_row(
            str(r.id),
            r.recorded_utc,
            r.scenario or "?",
            r.kind or "?",
            "yes" if r.valid else "NO",
            r.gate_status or "",
            ", ".join(r.baselines),
            r.path,
        )
    Console(width=160).print(table)
    if not runs:
        print("no runs recorded yet (simulate, report, gate and baseline save record them)")
    return 0


def _add(args: argparse.Namespace) -> int:
    record = open_index(args.index).record(args.run_dir)
    print(f"recorded run {record.id}: {record.path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from livelab import __version__
    from loadgen.run import import_locust

    doc = import_locust(
        args.out,
        csv_prefix=args.csv,
        json_file=args.json_file,
        samples=args.samples,
        max_start_lag_ms=args.max_start_lag * 1000.0,
        version=__version__,
    )
    markets = ", ".join(sorted(doc["markets"])) or "none"
    print(f"run directory: {args.out}  (valid: {doc['meta']['valid']}; markets: {markets})")
    for note in doc["meta"]["notes"]:
        print(f"  note: {note}")
    if not args.no_record:
        try:
            open_index(args.index).record(args.out)
        except LabError as exc:  # the run directory stands even if the index cannot take it
            print(f"livelab runs import: not recorded in the run index: {exc}", file=sys.stderr)
    return 0
