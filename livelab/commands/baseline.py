"""`livelab baseline save RUN_DIR NAME` and `livelab baseline list`."""

from __future__ import annotations

import argparse
from typing import Any

from livelab.clihelp import examples
from livelab.commands.runs import add_index_arg, open_index


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "baseline",
        help="name runs as baselines for `livelab gate`",
        epilog=examples("livelab baseline save runs/main main", "livelab baseline list"),
    )
    inner = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)

    save = inner.add_parser(
        "save",
        help="save RUN_DIR as baseline NAME (replaces NAME)",
        epilog=examples("livelab baseline save runs/main-20260101 main"),
    )
    save.add_argument("run_dir", metavar="RUN_DIR", help="the run directory to name")
    save.add_argument("name", metavar="NAME", help="baseline name, for `gate --baseline NAME`")
    add_index_arg(save)
    save.set_defaults(func=_save)

    listing = inner.add_parser(
        "list", help="list saved baselines", epilog=examples("livelab baseline list")
    )
    add_index_arg(listing)
    listing.set_defaults(func=_list)


def _save(args: argparse.Namespace) -> int:
    record = open_index(args.index).save_baseline(args.run_dir, args.name)
    print(f"baseline {record.name!r} = {record.run.path} (saved {record.saved_utc})")
    return 0


def _list(args: argparse.Namespace) -> int:
    index = open_index(args.index)
    names = index.baseline_names()
    for name in names:
        record = index.baseline(name)
        if record is not None:
            print(f"{name}\t{record.saved_utc}\t{record.run.path}")
    if not names:
        print(f"no baselines in {index.path}")
    return 0
