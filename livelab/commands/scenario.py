"""`livelab scenario check FILE` and `livelab scenario schema`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from livelab.clihelp import examples


def add_scenario_args(parser: argparse.ArgumentParser, *, variant: bool = True) -> None:
    """The arguments every scenario-taking command shares: FILE, --set, --variant."""
    parser.add_argument("scenario", metavar="FILE", help="scenario file (TOML)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. host.mini_peak_every_min=20 or markets.ID.audience=50000 "
        "(repeatable)",
    )
    if variant:
        parser.add_argument("--variant", metavar="NAME", help="apply a [[variants]] entry")


def load_from_args(args: argparse.Namespace) -> Any:
    """The validated `Scenario` named by the shared scenario arguments."""
    from scenarios import load_scenario

    return load_scenario(args.scenario, args.overrides, getattr(args, "variant", None))


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scenario",
        help="validate scenarios, print their JSON Schema",
        epilog=examples("livelab scenario check scenarios/demo.toml"),
    )
    inner = parser.add_subparsers(dest="scenario_command", metavar="ACTION", required=True)

    check = inner.add_parser(
        "check",
        help="validate a scenario file (exit 2 when invalid)",
        epilog=examples(
            "livelab scenario check scenarios/demo.toml",
            "livelab scenario check scenarios/demo.toml --set markets.ID.audience=50000",
        ),
    )
    add_scenario_args(check)
    check.set_defaults(func=_check)

    schema = inner.add_parser(
        "schema",
        help="print the scenario JSON Schema for editors",
        epilog=examples("livelab scenario schema > scenario.schema.json"),
    )
    schema.set_defaults(func=_schema)


def _check(args: argparse.Namespace) -> int:
    from reports import parse_gates
    from scenarios import scenario_hash

    scenario = load_from_args(args)
    # Gate syntax is checked here too; whether each metric exists is known only against a run.
    parse_gates(scenario.gates, source=args.scenario)
    total = sum(m.audience for m in scenario.markets)
    markets = ", ".join(f"{m.code} {m.audience:,}" for m in scenario.markets)
    print(
        f"{args.scenario}: ok — {scenario.scenario.name!r}, {len(scenario.markets)} markets "
        f"({markets}; {total:,} organic viewers), {scenario.stream.duration_min:g} min, "
        f"{len(scenario.variants)} variants, {len(scenario.gates)} gates, "
        f"hash {scenario_hash(scenario)[:12]}"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    from scenarios import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0
