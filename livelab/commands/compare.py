"""`livelab compare SCENARIO`: every `[[variants]]` entry × R replications, paired by CRN."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.commands.scenario import add_scenario_args
from livelab.errors import Problem, ScenarioError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "compare",
        help="compare the scenario's [[variants]] per market with paired 95 %% intervals",
        description=(
            "Simulate every [[variants]] entry for R replications with common random numbers "
            "and report, per market and metric, the difference to the first variant with a 95 % "
            "interval from the paired differences, a forest plot and a recommendation."
        ),
        epilog=examples(
            "livelab compare scenarios/strategies_sea_vs_eu.toml --replications 10",
            "livelab compare scenarios/strategies_sea_vs_eu.toml --objective referral_k --json",
        ),
    )
    add_scenario_args(parser, variant=False)
    parser.add_argument("--out", type=Path, help="output directory (default runs/compare-NAME)")
    parser.add_argument(
        "--replications", type=int, help="replications per variant (default scenario's, ≥ 2)"
    )
    parser.add_argument(
        "--objective",
        default="gmv",
        choices=["gmv", "retention_30s", "referral_k"],
        help="what the recommendation ranks by (higher is better)",
    )
    parser.add_argument(
        "--executor",
        default="process",
        metavar="process|serial|MODULE:FACTORY",
        help="where replications run; MODULE:FACTORY(workers) returns any concurrent.futures "
        "Executor (e.g. a cluster's)",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: CPU count)"
    )
    parser.add_argument(
        "--variants", help="comma-separated variant names to compare, in order (first = baseline)"
    )
    parser.add_argument(
        "--with-base",
        action="store_true",
        help="add the scenario without variant overrides as the baseline, named 'base'",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout (recommendations)"
    )
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    import tomllib

    from reports import (
        compare_variants,
        comparison_json,
        comparison_markdown,
        dumps,
        forest_plot,
        make_executor,
        recommend,
        run_sweep,
        variant_scenarios,
    )
    from scenarios import load_scenario, parse_overrides, scenario_hash

    base = load_scenario(args.scenario, args.overrides)  # validates file and --set, exit 2
    data = tomllib.loads(Path(args.scenario).read_text("utf-8"))
    names = [n.strip() for n in args.variants.split(",")] if args.variants else None
    scenarios = variant_scenarios(
        data,
        source=args.scenario,
        names=names,
        overrides=parse_overrides(args.overrides),
        include_base=args.with_base,
    )
    replications = args.replications or base.scenario.replications
    if replications < 1:
        raise ScenarioError([Problem("--replications", "", replications, "must be ≥ 1")])
    if args.workers is not None and args.workers < 1:
        raise ScenarioError([Problem("--workers", "", args.workers, "must be ≥ 1")])
    if replications < 2:
        print(
            "livelab: warning: one replication gives no intervals, so nothing can be called "
            "significant; use --replications 5 or more",
            file=sys.stderr,
        )
    out = args.out or Path("runs") / f"compare-{base.scenario.name}"
    out.mkdir(parents=True, exist_ok=True)

    executor = make_executor(args.executor, args.workers)
    total = replications * len(scenarios)
    print(
        f"comparing {', '.join(scenarios)} × {replications} replications "
        f"({total} simulations, executor {args.executor})",
        file=sys.stderr,
    )
    try:
        runs = _with_progress(lambda cb: run_sweep(scenarios, replications, executor, progress=cb))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)

    comparison = compare_variants(runs)
    recs = recommend(comparison, args.objective)
    meta = {
        "scenario": base.scenario.name,
        "scenario_hash": scenario_hash(base),
        "seed": base.scenario.seed,
        "objective": args.objective,
    }
    (out / "compare.json").write_text(dumps(comparison_json(comparison, recs, meta)), "utf-8")
    (out / "compare.md").write_text(comparison_markdown(comparison, recs, meta), "utf-8")
    figure = forest_plot(comparison)
    figure.savefig(out / "compare_forest.png", dpi=110)

    files = {n: str(out / n) for n in ("compare.md", "compare.json", "compare_forest.png")}
    if args.json:
        picks = [
            {"scope": r.scope, "best": r.best, "clear": r.clear, "ties": list(r.ties)} for r in recs
        ]
        summary = {**meta, "variants": list(scenarios), "replications": replications}
        print(json.dumps({**summary, "recommendations": picks, "files": files}, indent=2))
        return 0
    for rec in recs:
        verdict = "clear" if rec.clear else f"not distinguishable from {', '.join(rec.ties)}"
        print(f"  {rec.scope:8s} best by {args.objective}: {rec.best} ({verdict})")
    print(f"wrote {', '.join(files.values())}")
    return 0


def _with_progress(run: Any) -> Any:
    """Call `run(callback)` under a rich progress bar on stderr (plain when not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return run(None)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("simulating", total=None)

        def callback(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run(callback)
