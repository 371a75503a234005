"""`livelab runs list` and `livelab runs add RUN_DIR`: the SQLite run index."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


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
    parser = sub.add_parser("runs", help="list the runs in the run index")
    inner = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = inner.add_parser("list", help="list indexed runs, newest first")
    add_index_arg(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)

    add = inner.add_parser("add", help="record a run directory in the index")
    add.add_argument("run_dir", metavar="RUN_DIR")
    add_index_arg(add)
    add.set_defaults(func=_add)


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
