"""`livelab simulate FILE --out DIR`: run the viewer model and write a run directory."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from livelab.clihelp import examples
from livelab.commands.runs import add_index_arg, open_index
from livelab.commands.scenario import add_scenario_args, load_from_args
from livelab.errors import LabError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "simulate",
        help="run the viewer model on a scenario and write a run directory",
        description="Simulate a launch: metrics.json, timeseries.csv, viewers.npz, events.json, "
        "summary.md and plots/ in DIR.",
        epilog=examples(
            "livelab simulate scenarios/demo.toml --out runs/demo-model",
            "livelab simulate scenarios/ramadan_me.toml --replications 10 --out runs/ramadan",
        ),
    )
    add_scenario_args(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory to write")
    parser.add_argument(
        "--replications", type=int, metavar="N", help="override scenario.replications"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip plots/*.png")
    parser.add_argument("--no-record", action="store_true", help="do not add to the run index")
    add_index_arg(parser)
    parser.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    import sim
    from livelab import __version__
    from reports import write_audience_plots, write_run
    from scenarios import scenario_hash

    command = _command_line(args)
    if args.replications is not None:
        args.overrides = [*args.overrides, f"scenario.replications={args.replications}"]
    scenario = load_from_args(args)
    with _progress(scenario) as tick:
        results = sim.simulate_all(scenario, progress=tick)
    digest = scenario_hash(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash=digest, version=__version__)
    out = write_run(
        args.out,
        results,
        scenario,
        doc,
        command=command,
        version=__version__,
        scenario_hash=digest,
    )
    replications = len(results)
    # The plots read the run directory back, as a report does; the in-memory results go first
    # so that the two copies of every viewer are never held together (bench_10m: ~2.4 GB).
    del results
    if not args.no_plots:
        write_audience_plots(out)
    overall = doc["overall"]

    def value(name: str, spec: str) -> str:
        v = overall[name]["value"]
        return "—" if v is None else format(v, spec)

    print(
        f"simulated {scenario.scenario.name!r}: {value('arrivals', ',.0f')} arrivals, "
        f"peak {value('peak_concurrent', ',.0f')} concurrent, "
        f"retention_30s {value('retention_30s', '.1%')}, {replications} replication(s)"
    )
    print(f"run directory: {out}  (summary: {out / 'summary.md'})")
    if not args.no_record:
        try:  # `livelab runs list` and `--baseline NAME` find the run through the index
            open_index(args.index).record(out)
        except LabError as exc:  # the run directory stands even if the index cannot take it
            print(f"livelab simulate: not recorded in the run index: {exc}", file=sys.stderr)
    return 0


def _command_line(args: argparse.Namespace) -> list[str]:
    """The command as typed, rebuilt from the parsed arguments (for run.json)."""
    line = ["livelab", "simulate", args.scenario, "--out", args.out]
    for item in args.overrides:
        line += ["--set", item]
    if args.variant:
        line += ["--variant", args.variant]
    if args.replications is not None:
        line += ["--replications", str(args.replications)]
    if args.no_plots:
        line.append("--no-plots")
    return line


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, scenario: Any) -> None:
        self.scenario = scenario
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            "[progress.percentage]{task.percentage:>3.0f}%",
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(f"simulating {self.scenario.scenario.name}", total=1.0)

        def tick(fraction: float) -> None:
            self.bar.update(task, completed=fraction)

        return tick

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
