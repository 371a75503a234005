"""`livelab report RUN_DIR`: report.html (self-contained), summary.md, metrics.json."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from livelab.clihelp import examples
from livelab.commands.runs import add_index_arg, open_index
from livelab.errors import LabError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write report.html and summary.md for a run directory (re-runs nothing)",
        epilog=examples("livelab report runs/demo", "livelab report runs/demo --out /tmp/report"),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="from `livelab simulate` or `run`")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR)")
    parser.add_argument("--no-record", action="store_true", help="do not add to the run index")
    add_index_arg(parser)
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # no display; figures are rendered to PNG only
    from reports import write_report

    files = write_report(args.run_dir, args.out)
    if not args.no_record:
        try:
            open_index(args.index).record(args.run_dir)
        except LabError as exc:  # the report stands even if the index cannot take it
            print(f"livelab report: not recorded in the run index: {exc}", file=sys.stderr)
    empty = f" ({len(files.empty_plots)} without data: {', '.join(files.empty_plots)})"
    print(f"report: {files.html}")
    print(f"summary: {files.summary}")
    print(f"plots: {len(files.plots)}{empty if files.empty_plots else ''}")
    return 0
